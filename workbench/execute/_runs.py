"""The terminal record of every task (:class:`TaskRun`) and the in-memory sink."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

__all__ = ["TaskRun", "TERMINAL_STATES", "Sink", "MemorySink", "CallbackSink"]

#: Every task ends in exactly one of these.
TERMINAL_STATES = ("done", "failed", "cancelled", "rejected", "timed_out")


@dataclass(slots=True)  # not frozen: frozen __init__ costs ~3x, and this is per task
class TaskRun:
    """One row of ``task_runs``: a task's identity, fate, timings and resources used.

    Times are UNIX seconds (``started`` is the first start, ``ended`` the terminal one);
    ``cpu_time`` sums all attempts; ``peak_rss`` is bytes, for process and command tasks;
    ``notes`` says what the executor did that its user should know (a retry the retry
    budget delayed or refused), ``None`` when nothing.
    """

    id: int
    key: str
    name: str
    tags: tuple[str, ...]
    state: str
    priority: float
    submitted: float
    started: float | None
    ended: float
    attempts: int
    cpu_time: float | None
    peak_rss: int | None
    error: str | None
    backend: str
    notes: str | None = None  # e.g. a retry the retry budget delayed or refused

    @property
    def wait_time(self) -> float | None:
        return None if self.started is None else self.started - self.submitted

    def as_dict(self) -> dict:
        return asdict(self)


class Sink(Protocol):
    """Anything with ``write(runs)``; ``flush()``/``close()`` are called if present."""

    def write(self, runs: Iterable[TaskRun]) -> None: ...


class MemorySink:
    """Keeps the latest ``maxlen`` records in memory (the default sink)."""

    def __init__(self, maxlen: int | None = 100_000) -> None:
        self.runs: deque[TaskRun] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def write(self, runs: Iterable[TaskRun]) -> None:
        with self._lock:
            self.runs.extend(runs)

    def to_frame(self):
        import pandas as pd

        with self._lock:
            rows = [r.as_dict() for r in self.runs]
        return pd.DataFrame(rows)


class CallbackSink:
    """Calls ``fn(run)`` for each record, e.g. to update a notebook widget."""

    def __init__(self, fn: Callable[[TaskRun], None]) -> None:
        self.fn = fn

    def write(self, runs: Iterable[TaskRun]) -> None:
        for run in runs:
            self.fn(run)
