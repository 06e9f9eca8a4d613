"""Task functions for benchmarks/executor.py (importable by worker processes)."""

from __future__ import annotations

import time

MiB = 2**20


def noop() -> None:
    return None


def sleep_1ms() -> None:
    time.sleep(0.001)


def burn(seconds: float) -> int:
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        n += 1
    return n


def hungry(mb: int, cpu_seconds: float) -> int:
    """Allocate and touch ``mb`` MiB, burn CPU while holding it, then free it."""
    block = bytearray(mb * MiB)
    for i in range(0, len(block), 4096):
        block[i] = 1
    burn(cpu_seconds)
    return len(block)


PROBE = r"""
import sys, time
period, out = 0.1, sys.argv[1]
lat = []
t0 = time.monotonic()
k = 0
try:
    while True:
        k += 1
        target = t0 + k * period
        time.sleep(max(0.0, target - time.monotonic()))
        sum(range(30000))  # ~1 ms of interactive work
        lat.append(time.monotonic() - target)
        if k % 5 == 0:
            with open(out, "w") as f:
                f.write("\n".join(map(str, lat)))
except KeyboardInterrupt:
    pass
"""
