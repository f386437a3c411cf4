"""analyze.py DIR K: reads a recovery run's step logs (DIR/rank_R.steps: "step S pid P t MS" after each
step, "kill pid P t MS" just before the SIGKILL injected at the start of step K) and
prints one line:
  kill_step=K to_next_step_ms=A to_failed_step_ms=B steps_redone=N step_ms=M pids_changed=C
to_next_step_ms: from the kill to the first step any rank completes afterwards (the
failed step or later, or any step of a restarted process);
to_failed_step_ms: from the kill until every rank has completed step K (progress regained);
steps_redone: steps rank 0 completed twice (work lost); step_ms: median time between
rank 0's steps before the kill; pids_changed: ranks that ended with another pid than
they started with."""
import glob
import os
import statistics
import sys


def main(d, kill_step):
    steps, kills = {}, []
    for path in glob.glob(os.path.join(d, "rank_*.steps")):
        r = int(os.path.basename(path)[5:-6])
        for line in open(path):
            f = line.split()
            if f[0] == "step":
                steps.setdefault(r, []).append((int(f[1]), int(f[3]), int(f[5])))
            elif f[0] == "kill":
                kills.append(int(f[4]))
    if not kills:
        sys.exit(f"{d}: no kill line")
    t_kill = min(kills)
    before0 = [t for (_, _, t) in steps[0] if t <= t_kill]
    old_pids = {p for r in steps for (_, p, t) in steps[r] if t <= t_kill}
    # Training after the failure: a step of the failed one or later, or any step of a
    # restarted process (not a survivor finishing its last step just after the kill).
    after = [t for r in steps for (s, p, t) in steps[r]
             if t > t_kill and (s >= kill_step or p not in old_pids)]
    done = []
    for r in steps:
        ts = [t for (s, _, t) in steps[r] if s == kill_step and t > t_kill]
        done.append(min(ts) if ts else None)
    seen, redone = set(), 0
    for (s, _, _) in steps[0]:
        redone += s in seen
        seen.add(s)
    gaps = [b - a for a, b in zip(before0, before0[1:])]
    changed = sum(1 for r in steps if steps[r][0][1] != steps[r][-1][1])
    to_failed = (max(done) - t_kill) if all(x is not None for x in done) else -1
    print(f"kill_step={kill_step} to_next_step_ms={min(after) - t_kill} "
          f"to_failed_step_ms={to_failed} steps_redone={redone} "
          f"step_ms={statistics.median(gaps) if gaps else 0:.0f} pids_changed={changed}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
