"""Process B of the executor control tests: a named executor running many short tasks.

Usage: python _executor_proc.py HOME NAME N_TASKS LOG [SECONDS]

Each task appends ``start <i> <time>`` and ``end <i> <time>`` lines to LOG.
Prints ``ready`` once the executor runs, then waits until every task ended,
LOG.stop exists or SECONDS passed, shuts down and prints its stats as JSON.
"""

import json
import os
import sys
import time
from pathlib import Path

from workbench.execute import ThrottledExecutor


def main() -> None:
    home, name, n, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    task_s = float(os.environ.get("TASK_SECONDS", "0.05"))

    def task(i: int) -> int:
        with open(log, "a") as fh:
            fh.write(f"start {i} {time.time():.6f}\n")
        time.sleep(task_s)
        with open(log, "a") as fh:
            fh.write(f"end {i} {time.time():.6f}\n")
        return i

    ex = ThrottledExecutor(max_workers=2, name=name, store=home, control_interval=float(
        os.environ.get("CONTROL_INTERVAL", "1.0")))
    print("ready", flush=True)
    futures = [ex.submit(task, i) for i in range(n)]
    stop = log.with_suffix(".stop")
    deadline = time.time() + seconds
    while time.time() < deadline and not stop.exists() and not all(f.done() for f in futures):
        time.sleep(0.05)
    ex.shutdown(wait=True, cancel_futures=True)
    print(json.dumps({k: v for k, v in ex.stats().items() if isinstance(v, (int, float, str, bool))}), flush=True)


if __name__ == "__main__":
    main()
