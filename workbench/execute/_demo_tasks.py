"""A demo batch for the executor: CPU-bound, memory-hungry and I/O tasks, mixed.

What ``notebooks/executor_control.ipynb`` submits and reads back. The task
functions live here, at module level, so process workers can import them;
each returns a number that depends only on its arguments, so a batch's
results can be checked.

- :func:`cpu_task` counts primes below ``n`` (pure Python, one core busy);
- :func:`memory_task` fills ``mib`` MiB, holds them ``hold`` seconds and returns
  a checksum (the governor learns its memory use per task name);
- :func:`io_task` writes ``mib`` MiB to a file, fsyncs, reads it back and deletes it.

:func:`submit_batch` submits a mix with one tag per batch (so its ``task_runs``
can be found again), :func:`batch_runs` reads those runs from the store and
:func:`learned_memory` shows what the governor learned per task name.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.errors import ConfigError

__all__ = ["cpu_task", "memory_task", "io_task", "Batch", "submit_batch", "batch_runs", "learned_memory",
           "primes_below"]


def primes_below(n: int) -> int:
    """Number of primes below ``n``, by trial division (slow on purpose: CPU work)."""
    count = 0
    for k in range(2, n):
        r = math.isqrt(k)
        d = 2
        while d <= r:
            if k % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def cpu_task(n: int) -> int:
    """CPU-bound: the number of primes below ``n`` (``n = 400_000`` takes about a second)."""
    return primes_below(int(n))


def memory_task(mib: int, hold: float = 0.5) -> int:
    """Memory-hungry: fill ``mib`` MiB (every page written), hold them ``hold`` s; return the bytes held."""
    size = int(mib) * 2**20
    block = b"\x5a" * size  # written, so resident: not lazily mapped zero pages
    time.sleep(float(hold))
    return len(block)


def io_task(mib: int, directory: str | None = None) -> int:
    """I/O: write ``mib`` MiB to a temporary file, fsync, read it back, delete it; return the bytes read."""
    chunk = os.urandom(2**20)
    fd, path = tempfile.mkstemp(prefix="wb-demo-io-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for _ in range(int(mib)):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        total = 0
        with open(path, "rb") as f:
            while block := f.read(2**20):
                total += len(block)
        return total
    finally:
        os.unlink(path)


@dataclass
class Batch:
    """The futures of one submitted demo batch and the tag its runs carry."""

    tag: str
    futures: dict[str, list[Any]] = field(default_factory=dict)  # task name -> futures

    def __len__(self) -> int:
        return sum(len(f) for f in self.futures.values())

    def wait(self, timeout: float | None = 120) -> pd.DataFrame:
        """Wait for every task (up to ``timeout`` s); per task name, how many ended in which state."""
        every = [f for fs in self.futures.values() for f in fs]
        wait_futures(every, timeout=timeout)
        return self.states()

    def states(self) -> pd.DataFrame:
        """Per task name: tasks done, failed, cancelled and not finished yet."""
        rows = []
        for name, fs in self.futures.items():
            done = [f for f in fs if f.done()]
            cancelled = sum(f.cancelled() for f in done)
            failed = sum(1 for f in done if not f.cancelled() and f.exception() is not None)
            rows.append({"name": name, "tasks": len(fs), "done": len(done) - cancelled - failed,
                         "failed": failed, "cancelled": cancelled, "unfinished": len(fs) - len(done)})
        return pd.DataFrame(rows).set_index("name")


def submit_batch(executor: Any, *, cpu: int = 6, cpu_n: int = 400_000, memory: int = 4, memory_mib: int = 150,
                 hold: float = 0.5, io: int = 4, io_mib: int = 32, directory: str | None = None,
                 tag: str | None = None) -> Batch:
    """Submit ``cpu`` prime counts, ``memory`` fills and ``io`` file round trips, interleaved.

    Every task carries the batch's ``tag`` (default ``batch-<random>``) and one of
    ``cpu``, ``memory``, ``io``, so the panel and ``control.act(..., "reprioritise",
    {"priority": 5, "tag": "io"})`` can select them. Every task starts at priority 0.
    Returns the :class:`Batch`.
    """
    for label, n in (("cpu", cpu), ("memory", memory), ("io", io)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"{label} must be a number of tasks >= 0; got {n!r}.")
    tag = tag or f"batch-{uuid.uuid4().hex[:8]}"
    batch = Batch(tag, {"cpu_task": [], "memory_task": [], "io_task": []})
    plan = ([("cpu_task", cpu_task, (cpu_n,), "cpu", 0)] * cpu
            + [("memory_task", memory_task, (memory_mib, hold), "memory", 0)] * memory
            + [("io_task", io_task, (io_mib, directory), "io", 0)] * io)
    # Interleave the kinds so a limit change or a pause meets all three.
    order = sorted(range(len(plan)), key=lambda i: (_rank(plan, i), i))
    for i in order:
        name, fn, args, kind, priority = plan[i]
        fut = executor.options(name=name, tags=(tag, kind), priority=priority).submit(fn, *args)
        batch.futures[name].append(fut)
    return batch


def _rank(plan: list, i: int) -> int:
    name = plan[i][0]
    return sum(1 for j in range(i) if plan[j][0] == name)


def batch_runs(store: Any, tag: str) -> pd.DataFrame:
    """The recorded ``task_runs`` of one batch, summarised per task name and final state."""
    return store.sql(
        """
        SELECT name, state, count(*) AS tasks, round(avg(wait_s), 2) AS mean_wait_s,
               round(avg(run_s), 2) AS mean_run_s, round(sum(cpu_time_s), 2) AS cpu_s,
               round(max(peak_rss_bytes) / 1048576.0, 1) AS peak_rss_mib
        FROM task_runs WHERE list_contains(string_split(tags, ','), ?)
        GROUP BY name, state ORDER BY name, state
        """,
        [tag],
    )


def learned_memory(executor: Any) -> pd.DataFrame:
    """What the executor's governor learned each kind of task adds to memory (MiB), per task name.

    Only executors with a governor and a backend that measures memory (process
    workers, command tasks) learn; others give an empty table.
    """
    gov = getattr(executor, "governor", None)
    learned = dict(getattr(gov, "learned_memory_", {}) or {})
    frame = pd.DataFrame({"name": list(learned), "learned_mib": [v / 2**20 for v in learned.values()]})
    return frame.sort_values("name").reset_index(drop=True).round({"learned_mib": 1})
