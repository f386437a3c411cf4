"""A training loop's shape for the status and stacks tests: beats with its step and total
(fabric_heartbeat, on PYTHONPATH under fabric-run) every 20 ms inside train_loop(), until the
file named by STOP_FILE exists; then exits 0. Writes its pid to $HELPER_DIR/worker_<RANK>.pid.
"""
import os
import time

import fabric_heartbeat


def train_loop(stop_file, total):
    step = 0
    while not os.path.exists(stop_file):
        step += 1
        fabric_heartbeat.beat(step=step, total=total)
        time.sleep(0.02)


if __name__ == "__main__":
    rank = os.environ["RANK"]
    with open(os.path.join(os.environ["HELPER_DIR"], f"worker_{rank}.pid"), "w") as f:
        f.write(str(os.getpid()))
    train_loop(os.environ["STOP_FILE"], total=100000)
