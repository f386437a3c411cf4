"""Writes fabric-run's wheel (tools/wheel/BUILD.bazel runs it; tools/build_wheel.sh is the command).

    make_wheel.py --out fabric_run.whl --name-out fabric_run.whl.name --version V \
        --readme README.md --license LICENSE --heartbeat fabric_heartbeat.py \
        --binary fabric-run=PATH --binary fabric-rendezvous=PATH \
        [--runtime-tar fabric_runtime.tar] [--auditwheel PATH]

The wheel holds:
  fabric_run-V.data/scripts/{fabric-run,fabric-rendezvous}  the static binaries themselves:
        pip puts them in the environment's bin/ as they are, so the commands start no Python
  fabric_run/__init__.py, __main__.py   cmake_prefix_path, binary(), `python -m fabric_run`
  fabric_run/{lib,include,lib/cmake}    the C++ runtime package (--runtime-tar, doc/cmake.md)
  fabric_heartbeat.py                   the heartbeat module the agent gives its workers
  fabric_run-V.dist-info/               METADATA (the README as description), WHEEL, RECORD,
                                        licenses/LICENSE
The platform tag is what `auditwheel show` reports for the wheel (it reads the ELF files,
the binaries: they need only glibc's libc and libm; the runtime's static archives are no
ELF files). The file name depends on it, so it is also written to --name-out.
"""

import argparse
import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

NAME = "fabric-run"
DIST = "fabric_run"
# The project's published home (one place; METADATA's URLs).
HOME = "https://github.com/fabric-run/fabric-run"
SUMMARY = ("A native launcher, rendezvous and C++ worker runtime for distributed PyTorch: "
           "torchrun's and `fabric run`'s drop-in, fast and correct under failure")
CLASSIFIERS = [
    "Development Status :: 3 - Alpha",
    "Environment :: GPU :: NVIDIA CUDA",
    "Intended Audience :: Developers",
    "Intended Audience :: Science/Research",
    "Operating System :: POSIX :: Linux",
    "Programming Language :: C++",
    "Programming Language :: Python :: 3",
    "Topic :: Scientific/Engineering :: Artificial Intelligence",
    "Topic :: System :: Distributed Computing",
]
# No hard dependency: fabric-run runs any program; torch is what Python workers import.
EXTRAS = {"torch": ["torch==2.11.*"], "lightning": ["torch==2.11.*", "lightning>=2.6"]}

INIT = '''"""fabric-run: the launcher's Python side (its commands are native binaries in bin/).

    import fabric_run
    fabric_run.__version__
    fabric_run.binary()              # the path of the installed fabric-run binary
    fabric_run.cmake_prefix_path     # for CMake: find_package(FabricRuntime) (doc/cmake.md)
"""

import os as _os

__version__ = "{version}"

# The prefix of the C++ runtime's CMake package (lib/cmake/FabricRuntime under it), as
# torch.utils.cmake_prefix_path is torch's.
cmake_prefix_path = _os.path.dirname(_os.path.abspath(__file__))


def binary(name="fabric-run"):
    """The installed `name` (fabric-run or fabric-rendezvous), wherever pip's scheme put it."""
    from importlib import metadata

    for f in metadata.files("{name}") or ():
        if f.name == name and f.parent.name in ("bin", "Scripts"):
            return str(f.locate().resolve())
    raise FileNotFoundError("%s is not installed with the %s package" % (name, "{name}"))
'''

MAIN = '''"""`python -m fabric_run ARGS...`: the installed fabric-run binary with ARGS."""

import os
import sys

import fabric_run

exe = fabric_run.binary()
os.execv(exe, [exe] + sys.argv[1:])
'''


def metadata(version, readme):
    lines = [
        "Metadata-Version: 2.4",
        "Name: " + NAME,
        "Version: " + version,
        "Summary: " + SUMMARY,
        "Home-page: " + HOME,
        "Author: The fabric-run developers",
        "License-Expression: Apache-2.0",
        "License-File: LICENSE",
        "Project-URL: Homepage, " + HOME,
        "Project-URL: Documentation, " + HOME + "/tree/main/doc",
        "Project-URL: Source, " + HOME,
        "Project-URL: Issues, " + HOME + "/issues",
        "Keywords: pytorch,torchrun,distributed,launcher,elastic,slurm,lightning",
        "Requires-Python: >=3.8",
    ]
    lines += ["Classifier: " + c for c in CLASSIFIERS]
    for extra, reqs in EXTRAS.items():
        lines.append("Provides-Extra: " + extra)
        lines += ['Requires-Dist: %s; extra == "%s"' % (r, extra) for r in reqs]
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def write_wheel(path, version, tag, files):
    """files: [(archive path, bytes, mode)]; adds WHEEL and RECORD."""
    info = "%s-%s.dist-info" % (DIST, version)
    wheel = ("Wheel-Version: 1.0\nGenerator: fabric-run tools/wheel/make_wheel.py\n"
             "Root-Is-Purelib: false\nTag: %s\n" % tag)
    files = files + [(info + "/WHEEL", wheel.encode(), 0o644)]
    record = [record_line(p, d) for p, d, _ in files] + [info + "/RECORD,,"]
    files.append((info + "/RECORD", ("\n".join(record) + "\n").encode(), 0o644))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:
            zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # reproducible
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)


def auditwheel_tag(auditwheel, wheel):
    out = subprocess.run([auditwheel, "show", wheel], capture_output=True, text=True)
    text = " ".join((out.stdout + out.stderr).split())
    m = re.search(r'consistent with the following platform tag: "([a-z0-9_]+)"', text)
    if out.returncode != 0 or not m:
        sys.exit("make_wheel: `auditwheel show` gave no platform tag: " + text)
    return m.group(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--name-out", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--readme", required=True)
    ap.add_argument("--license", required=True)
    ap.add_argument("--heartbeat", required=True)
    ap.add_argument("--binary", action="append", default=[])
    ap.add_argument("--runtime-tar")
    ap.add_argument("--auditwheel", required=True)
    a = ap.parse_args()
    v = a.version
    read = lambda p: open(p, "rb").read()
    files = [
        ("%s/__init__.py" % DIST, INIT.format(version=v, name=NAME).encode(), 0o644),
        ("%s/__main__.py" % DIST, MAIN.encode(), 0o644),
        ("fabric_heartbeat.py", read(a.heartbeat), 0o644),
    ]
    for b in a.binary:
        name, path = b.split("=", 1)
        files.append(("%s-%s.data/scripts/%s" % (DIST, v, name), read(path), 0o755))
    if a.runtime_tar:
        with tarfile.open(a.runtime_tar) as t:
            for m in t.getmembers():
                if m.isfile():
                    name = os.path.normpath(m.name)
                    files.append(("%s/%s" % (DIST, name), t.extractfile(m).read(), 0o644))
    info = "%s-%s.dist-info" % (DIST, v)
    files.append((info + "/METADATA",
                  metadata(v, read(a.readme).decode()).encode(), 0o644))
    files.append((info + "/licenses/LICENSE", read(a.license), 0o644))
    with tempfile.TemporaryDirectory() as tmp:
        # auditwheel judges the ELF files: a probe wheel of the binaries alone says it.
        probe = os.path.join(tmp, "%s-%s-py3-none-linux_x86_64.whl" % (DIST, v))
        write_wheel(probe, v, "py3-none-linux_x86_64",
                    [f for f in files if ".data/scripts/" in f[0] or ".dist-info/" in f[0]])
        platform = auditwheel_tag(a.auditwheel, probe)
    name = "%s-%s-py3-none-%s.whl" % (DIST, v, platform)
    write_wheel(a.out, v, "py3-none-" + platform, files)
    with open(a.name_out, "w") as f:
        f.write(name + "\n")


if __name__ == "__main__":
    main()
