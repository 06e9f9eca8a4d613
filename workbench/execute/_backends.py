"""Backends run one task attempt in a slot; a registry maps names to them.

Shaped like papermill's engine registry: :data:`backends` is the package's one
:class:`~workbench._plugins.Registry` (third parties add theirs through the
``workbench.backends`` entry point group), :func:`register_backend` / :func:`get_backend`
use it, and a base class that does the bookkeeping so a backend writes :meth:`Backend.call`.
The executor owns the slots (one thread each), the queue, retries and records; a
backend only knows how to run one attempt and how to stop it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench._plugins import Registry
from workbench.errors import ConfigError
from workbench.execute._command import Command, run_command
from workbench.execute._sched import lower_priority

__all__ = ["Backend", "ThreadBackend", "Outcome", "backends", "register_backend", "get_backend", "available_backends"]


@dataclass
class Outcome:
    """What one attempt produced."""

    ok: bool
    value: Any  # the result, or the exception
    cpu_time: float | None = None
    peak_rss: int | None = None
    grown: int | None = None  # bytes the task added to its worker, for learning per name


class Backend:
    """Base class. Subclasses implement :meth:`call`; the rest has working defaults."""

    name = "base"
    #: True when the task runs on the slot's own thread, so the executor's watchdog must
    #: enforce timeouts by interrupting that thread.
    in_slot_thread = False
    #: True when attempts report the memory they added (``Outcome.grown``), so the
    #: governor can learn memory per task name.
    measures_memory = False
    #: Default for command tasks that do not set ``Command.sched_idle`` themselves.
    sched_idle = False

    def default_workers(self) -> int:
        return os.cpu_count() or 1

    def open_slot(self) -> Any:
        """Per-slot state (for example a worker process), created on the slot's thread."""
        return None

    def close_slot(self, state: Any) -> None:
        """Release what :meth:`open_slot` created."""

    def run(self, state: Any, task: Any, deadline: float | None) -> Outcome:
        """Run one attempt; command tasks run locally with their process tree killable."""
        if isinstance(task.fn, Command):
            try:
                res = run_command(task.fn, deadline, sched_idle=self.sched_idle)
            except BaseException as exc:
                return Outcome(False, exc)
            return Outcome(True, res, res.cpu_time, res.peak_rss, res.peak_rss)
        return self.call(state, task, deadline)

    def call(self, state: Any, task: Any, deadline: float | None) -> Outcome:
        raise NotImplementedError

    def grown(self, state: Any) -> int | None:
        """Bytes the running task has allocated so far (``None`` if unknown)."""
        return None

    def pids(self) -> list[int]:
        """PIDs of worker processes this backend started and still holds."""
        return []

    def shutdown(self) -> None:
        """Stop everything the backend started."""


class ThreadBackend(Backend):
    """Runs tasks on the slot threads: cheapest, for I/O-bound work.

    Timeouts resolve the future at the deadline; the executor also raises
    :class:`TaskTimeoutError` inside the thread, which stops pure-Python code at its next
    bytecode but cannot interrupt a blocking C call (use the process backend for that).

    ``sched_idle`` runs command tasks under ``SCHED_IDLE``. ``idle_threads`` also puts
    each slot thread there (by its native thread id); it is opt-in because the slot
    threads share the GIL and the executor's lock with the caller's threads: on a busy
    machine an idle-class thread that holds either may wait a long time for a CPU, and
    every normal-priority thread waiting on it waits too (priority inversion). Worker
    processes (``backend="process"``) have no such shared lock.
    """

    name = "thread"
    in_slot_thread = True

    def __init__(self, sched_idle: bool = False, idle_threads: bool = False) -> None:
        self.sched_idle = sched_idle
        self.idle_threads = idle_threads

    def open_slot(self) -> Any:
        if self.idle_threads:
            lower_priority(True, None, threading.get_native_id())
        return None

    def default_workers(self) -> int:
        return min(32, (os.cpu_count() or 1) * 4)

    def call(self, state: Any, task: Any, deadline: float | None) -> Outcome:
        t0 = time.thread_time()
        try:
            value = task.fn(*task.args, **task.kwargs)
        except BaseException as exc:
            return Outcome(False, exc, time.thread_time() - t0)
        return Outcome(True, value, time.thread_time() - t0)

    def run(self, state: Any, task: Any, deadline: float | None) -> Outcome:
        if isinstance(task.fn, Command):
            return super().run(state, task, deadline)
        return self.call(state, task, deadline)


#: backend name -> factory (group ``workbench.backends`` for third parties)
backends: Registry[Callable[..., Backend]] = Registry("executor backend", group="workbench.backends")


def register_backend(name: str, factory: Callable[..., Backend]) -> None:
    """Make ``backend=name`` build ``factory(**options)``; names are unique."""
    backends.register(name, factory)


def available_backends() -> list[str]:
    return backends.names()


def get_backend(spec: str | Backend, **options: Any) -> Backend:
    if isinstance(spec, Backend):
        return spec
    if not isinstance(spec, str) or spec not in backends:
        raise ConfigError(
            f"unknown executor backend {spec!r}; choose one of {available_backends()} or pass a Backend instance "
            "(for example DaskBackend(client)).",
            backend=spec,
        )
    return backends.get(spec)(**options)


register_backend("thread", ThreadBackend)
register_backend("command", ThreadBackend)  # command tasks run from slot threads
