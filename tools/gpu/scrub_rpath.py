"""Drops the RUNPATH of each binary given (patchelf --remove-rpath) and blanks the string it
named: patchelf leaves the old path (this checkout's .venv) in .dynstr, unreferenced, and
the GPU folder must name no path of the machine that built it.

    scrub_rpath.py BINARY...
"""
import subprocess
import sys

for path in sys.argv[1:]:
    rpath = subprocess.run(["patchelf", "--print-rpath", path], check=True,
                           capture_output=True, text=True).stdout.strip()
    subprocess.run(["patchelf", "--remove-rpath", path], check=True)
    if not rpath:
        continue
    data = open(path, "rb").read()
    old = rpath.encode()
    # Only the whole, NUL-terminated string: a shorter entry could share its bytes.
    data = data.replace(b"\0" + old + b"\0", b"\0" + b"\0" * len(old) + b"\0")
    open(path, "wb").write(data)
