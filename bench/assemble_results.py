#!/usr/bin/python3
"""Rebuilds bench/RESULTS.md from bench/results/*.md, one section per benchmark family.

Each family's generator writes only its own bench/results/<family>.md (launcher,
rendezvous, train, ...); this script concatenates them (known families first, then the
rest alphabetically), so no generator overwrites another's section.
"""
import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ["launcher", "rendezvous", "train"]


def main():
    parts = sorted(glob.glob(os.path.join(HERE, "results", "*.md")))
    rank = lambda p: (ORDER.index(os.path.basename(p)[:-3])
                      if os.path.basename(p)[:-3] in ORDER else len(ORDER), p)
    out = ["# Benchmark results", "",
           "Assembled by `bench/assemble_results.py` from `bench/results/*.md`; do not edit "
           "here, rerun the family's benchmark (see doc/bench.md).", ""]
    for p in sorted(parts, key=rank):
        with open(p) as f:
            out.append(f.read().strip())
        out.append("")
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
