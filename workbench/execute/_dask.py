"""Dask backend: the throttling, priority and retry layer over a Dask cluster.

Each slot keeps at most one Dask future outstanding, so the executor's limit bounds what
the cluster runs for it; priorities, retries, dependencies and records stay here, the
cluster does the work. A timeout cancels the Dask future; Dask cannot stop a task that
already runs in a worker thread, so the slot is freed but the worker finishes the call.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.errors import MissingDependencyError
from workbench.execute._backends import Backend, Outcome
from workbench.execute._command import Command, run_command
from workbench.execute._errors import TaskTimeoutError, WorkerDiedError

__all__ = ["DaskBackend"]


def _call_remote(fn: Any, args: tuple, kwargs: dict, timeout: float | None) -> tuple[Any, float | None, int | None]:
    if isinstance(fn, Command):
        res = run_command(fn, None if timeout is None else time.monotonic() + timeout)
        return res, res.cpu_time, res.peak_rss
    t0 = time.thread_time()
    value = fn(*args, **kwargs)
    return value, time.thread_time() - t0, None


class DaskBackend(Backend):
    """Run tasks on ``client``'s cluster: ``ThrottledExecutor(backend=DaskBackend(client))``."""

    name = "dask"

    def __init__(self, client: Any) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:  # pragma: no cover - distributed is a dev dependency
            raise MissingDependencyError.for_extra("DaskBackend", "distributed", "dask") from exc
        self.client = client

    def default_workers(self) -> int:
        info = self.client.scheduler_info()
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def call(self, state: Any, task: Any, deadline: float | None) -> Outcome:
        return self.run(state, task, deadline)

    def run(self, state: Any, task: Any, deadline: float | None) -> Outcome:
        from distributed import KilledWorker

        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        fut = self.client.submit(
            _call_remote, task.fn, task.args, task.kwargs, timeout,
            key=f"{task.key}-attempt{task.attempts}", pure=False, priority=int(task.priority),
        )
        try:
            value, cpu, peak = fut.result(timeout=timeout)
        except TimeoutError as exc:
            if fut.done() and not isinstance(exc, TaskTimeoutError) and fut.status == "error":
                return Outcome(False, exc)
            fut.cancel()
            return Outcome(False, TaskTimeoutError(
                f"task {task.name!r} passed its timeout on the Dask cluster; its future was cancelled.",
                key=task.key))
        except KilledWorker as exc:
            return Outcome(False, WorkerDiedError(f"Dask workers died running task {task.name!r}: {exc}", key=task.key))
        except BaseException as exc:
            return Outcome(False, exc)
        return Outcome(True, value, cpu, peak)
