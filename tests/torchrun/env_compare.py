"""Compares the torchrun-defined worker variables of two runs of the same command line:
torchrun 2.11 (the oracle) and fabric-run. Every variable must be equal, except the
differences doc/cli.md lists with their reasons (DOCUMENTED below, one rule each).

    env_compare.py LABEL TORCHRUN_OUTPUT FABRIC_RUN_OUTPUT

reads the ENVDUMP lines of dump_env.py from both outputs, prints a table (variable,
torchrun, fabric-run, verdict) and exits 1 on any undocumented difference.
"""
import re
import socket
import sys
import uuid

LINE = re.compile(r"ENVDUMP (\d+) ([A-Z_]+)=(.*)$")


def parse(text):
    """{rank: {name: value}} from ENVDUMP lines (any prefix, e.g. fabric-run's [rank N]:)."""
    ranks = {}
    for line in text.splitlines():
        m = LINE.search(line)
        if m:
            ranks.setdefault(int(m.group(1)), {})[m.group(2)] = m.group(3)
    return ranks


def addresses(host):
    try:
        return {a[4][0] for a in socket.getaddrinfo(host, None)}
    except OSError:
        return set()


def same_host(a, b):
    if a == b:
        return True
    aa, bb = addresses(a), addresses(b)
    loop = lambda s: s and all(x.startswith("127.") or x == "::1" for x in s)
    return bool(aa & bb) or (loop(aa) and loop(bb))


def is_uuid(v):
    try:
        uuid.UUID(v)
        return True
    except ValueError:
        return False


# name -> (rule(torchrun_value, ours_value) -> bool, the reason in doc/cli.md)
DOCUMENTED = {
    "MASTER_PORT": (lambda t, o: o is not None and o.isdigit(),
                    "fabric-run picks a free port for the workers' store on every attempt "
                    "(--master-port is the rendezvous port)"),
    "MASTER_ADDR": (lambda t, o: o is not None and same_host(t, o),
                    "the same host, named by its address where torchrun may use its name"),
    "TORCHELASTIC_USE_AGENT_STORE": (lambda t, o: o is None,
                                     "no agent store: rank 0's worker hosts the c10d store"),
    "TORCHELASTIC_RUN_ID": (lambda t, o: o is not None and (t == o or t == "none" or is_uuid(t)),
                            "equal when --rdzv-id is given; otherwise fabric-run generates one"),
    "TORCHELASTIC_ERROR_FILE": (lambda t, o: bool(o),
                                "set on both; fabric-run's files are in its own directory"),
    "TORCHELASTIC_ENABLE_FILE_TIMER": (lambda t, o: o == "1",
                                       "fabric-run always serves torch's file timer"),
    "TORCHELASTIC_TIMER_FILE": (lambda t, o: bool(o),
                                "fabric-run always serves torch's file timer (its FIFO)"),
}


def compare(label, torchrun, ours, out=sys.stdout):
    """Prints the table; returns the number of undocumented differences."""
    bad = 0
    if sorted(torchrun) != sorted(ours) or not torchrun:
        print(f"{label}: ranks differ: torchrun {sorted(torchrun)}, fabric-run {sorted(ours)}",
              file=out)
        return 1
    names = sorted(set().union(*[set(v) for v in torchrun.values()],
                               *[set(v) for v in ours.values()]))
    print(f"{label}: {'variable':32} {'torchrun':28} {'fabric-run':28} verdict", file=out)
    for name in names:
        verdicts, shown = set(), None
        for rank in sorted(torchrun):
            t, o = torchrun[rank].get(name), ours[rank].get(name)
            if t == o:
                verdicts.add("equal")
            elif name in DOCUMENTED and DOCUMENTED[name][0](t, o):
                verdicts.add("documented")
            else:
                verdicts.add("DIFFERENT")
                bad += 1
            if shown is None or (t != o and shown[0] == shown[1]):
                shown = (t, o)
        verdict = ("DIFFERENT" if "DIFFERENT" in verdicts else
                   "documented: " + DOCUMENTED[name][1] if "documented" in verdicts else
                   "equal")
        t, o = (("-" if v is None else v)[:27] for v in shown)
        print(f"{label}: {name:32} {t:28} {o:28} {verdict}", file=out)
    return bad


if __name__ == "__main__":
    label, a, b = sys.argv[1:4]
    with open(a) as fa, open(b) as fb:
        sys.exit(1 if compare(label, parse(fa.read()), parse(fb.read())) else 0)
