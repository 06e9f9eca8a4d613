"""CPU cost of each collector per tick, with ~300 extra idle processes running.

Prints, per registered collector, the median CPU milliseconds of one ``collect()``
and what that costs as a share of one core at the collector's default interval;
beside it, in the same run, a peer: a glances-style process scan (psutil's
``process_iter`` asking every process for the attributes a top-like monitor shows,
as glances' process list does) to put the process collector's figure in context.

    nice -n 5 .venv/bin/python benchmarks/collector_cost.py [--procs 300] [--ticks 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import psutil

from workbench.collect import registry

PEER_ATTRS = [
    "pid", "ppid", "name", "cmdline", "username", "status", "nice", "num_threads",
    "cpu_times", "cpu_percent", "memory_info", "memory_percent", "io_counters",
]


def cpu_ms(fn, ticks: int) -> float:
    """Median CPU time (this process) of one call, in milliseconds."""
    fn()  # the first call primes rates and handles, as the agent's first tick does
    costs = []
    for _ in range(ticks):
        start = time.process_time()
        fn()
        costs.append((time.process_time() - start) * 1000.0)
        time.sleep(0.02)
    return statistics.median(costs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=300, help="idle sleep processes to start")
    parser.add_argument("--ticks", type=int, default=30, help="timed calls per collector")
    args = parser.parse_args()

    sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(args.procs)]
    try:
        time.sleep(0.5)
        nproc = len(psutil.pids())
        print(f"{nproc} processes running ({args.procs} idle sleepers started), "
              f"{psutil.cpu_count()} CPUs, psutil {psutil.__version__}\n")
        print(f"{'collector':<12} {'interval s':>10} {'CPU ms/tick':>12} {'% of 1 core':>12} {'samples':>8}")
        total_pct = 0.0
        for name in registry.names():
            c = registry.create(name)
            ms = cpu_ms(c.collect, args.ticks)
            n = len(c.collect())
            pct = ms / 1000.0 / c.interval * 100.0
            total_pct += pct
            print(f"{name:<12} {c.interval:>10.1f} {ms:>12.3f} {pct:>12.3f} {n:>8}")
            c.close()
        print(f"{'all default':<12} {'':>10} {'':>12} {total_pct:>12.3f}\n")

        def peer() -> None:
            for p in psutil.process_iter(PEER_ATTRS):
                p.info  # noqa: B018 - the attributes are read by process_iter

        peer_ms = cpu_ms(peer, max(args.ticks // 3, 5))
        ours = registry.create("processes")
        ours_ms = cpu_ms(ours.collect, args.ticks)
        print("process scan, CPU ms per tick (same run):")
        print(f"  workbench processes collector (top-10 by CPU and memory): {ours_ms:8.2f}")
        print(f"  glances-style process_iter, {len(PEER_ATTRS)} attrs for every process:  {peer_ms:8.2f}")
        print(f"  ratio ours / peer: {ours_ms / peer_ms:.2f}")
    finally:
        for s in sleepers:
            s.kill()
        for s in sleepers:
            s.wait()


if __name__ == "__main__":
    main()
