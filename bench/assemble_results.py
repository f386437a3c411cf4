#!/usr/bin/env python3
"""Rebuilds bench/RESULTS.md from each benchmark family's own results file.

Families: bench/results/*.md (launcher), bench/rendezvous/results.md,
bench/multinode/RESULTS.md, bench/train/RESULTS.md. Top-level headings of a family's
file become second-level ones here.

Each family's generator writes only its own bench/results/<family>.md (launcher,
rendezvous, train, ...); this script concatenates them (known families first, then the
rest alphabetically), so no generator overwrites another's section. Earlier runs against
peers that are gone (Debian's torchrun 1.13) stay in bench/history/, linked at the end and
never mixed into the current tables.
"""
import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ["launcher", "rendezvous", "multinode", "train", "recovery"]
FAMILY_FILES = {
    "rendezvous": os.path.join("rendezvous", "results.md"),
    "multinode": os.path.join("multinode", "RESULTS.md"),
    "train": os.path.join("train", "RESULTS.md"),
    "recovery": os.path.join("recovery", "RESULTS.md"),
}


def family(path):
    for name, rel in FAMILY_FILES.items():
        if os.path.abspath(path) == os.path.join(HERE, rel):
            return name
    return os.path.basename(path)[:-3]


def demote(text):
    """Shifts headings so that the file's top level becomes "##"."""
    lines = text.splitlines()
    levels = [len(l) - len(l.lstrip("#")) for l in lines if l.startswith("#")]
    shift = 2 - min(levels) if levels else 0
    out = []
    for line in lines:
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            line = "#" * max(1, level + shift) + line[level:]
        out.append(line)
    return "\n".join(out)


def main():
    parts = sorted(glob.glob(os.path.join(HERE, "results", "*.md")))
    parts += [os.path.join(HERE, rel) for rel in FAMILY_FILES.values()
              if os.path.exists(os.path.join(HERE, rel))]
    rank = lambda p: (ORDER.index(family(p)) if family(p) in ORDER else len(ORDER), p)
    out = ["# Benchmark results", "",
           "Assembled by `bench/assemble_results.py` from each family's results file; do not "
           "edit here, rerun the family's benchmark (see doc/bench.md).", ""]
    for p in sorted(parts, key=rank):
        with open(p) as f:
            out.append(demote(f.read().strip()))
        out.append("")
    history = sorted(glob.glob(os.path.join(HERE, "history", "*", "*.md")))
    if history:
        out += ["## History", "",
                "Superseded runs, kept as they were (not comparable with the tables above: "
                "other peers or versions); bench/history/README.md says what each holds:", ""]
        out += ["- [%s](%s)" % (os.path.relpath(p, HERE), os.path.relpath(p, HERE))
                for p in history]
        out.append("")
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
