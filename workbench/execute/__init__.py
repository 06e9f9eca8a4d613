"""Throttled executor: run batches as fast as the machine allows, and never faster.

``ThrottledExecutor`` is a real :class:`concurrent.futures.Executor` with priorities
(with ageing), a bounded queue with backpressure, retries with back-off, dependencies,
circuit breakers, timeouts that stop work, and a :class:`Governor` that sets the live
concurrency from measured (or predicted, :class:`ForecastPredictor`) CPU and memory and
from Linux pressure stall information. CPU-bound work (``profile="cpu"``) runs in
``SCHED_IDLE`` worker processes, so an interactive task always preempts it. Every task ends in exactly one
terminal state, recorded as a :class:`TaskRun`.

>>> from workbench.execute import ThrottledExecutor, Retry
>>> with ThrottledExecutor(max_workers=2) as ex:
...     fut = ex.options(priority=5, retry=Retry(attempts=2)).submit(pow, 2, 10)
...     fut.result()
1024
"""

from workbench.execute import _process  # noqa: F401  (registers backend="process")
from workbench.execute._backends import (
    Backend,
    Outcome,
    ThreadBackend,
    available_backends,
    get_backend,
    register_backend,
)
from workbench.execute._breaker import CircuitBreaker
from workbench.execute._command import Command, CommandResult
from workbench.execute._dask import DaskBackend
from workbench.execute._errors import (
    CircuitOpenError,
    CommandError,
    DependencyCycleError,
    DependencyFailedError,
    JobsFileError,
    MemoryLimitError,
    QueueFullError,
    RemoteTaskError,
    TaskTimeoutError,
    WorkerDiedError,
)
from workbench.execute._executor import PROFILES, TaskFuture, ThrottledExecutor
from workbench.execute._governor import Decision, Governor
from workbench.execute._options import BoundOptions, TaskOptions
from workbench.execute._predict import ForecastPredictor
from workbench.execute._process import ProcessBackend
from workbench.execute._queue import AgeingQueue
from workbench.execute._record import TASK_RUNS_SCHEMA, StoreSink
from workbench.execute._retry import Retry, RetryBudget, classify
from workbench.execute._runs import TERMINAL_STATES, CallbackSink, MemorySink, Sink, TaskRun

__all__ = [
    "ThrottledExecutor",
    "TaskFuture",
    "TaskOptions",
    "BoundOptions",
    "PROFILES",
    "Governor",
    "Decision",
    "ForecastPredictor",
    "Retry",
    "RetryBudget",
    "classify",
    "CircuitBreaker",
    "AgeingQueue",
    "Command",
    "CommandResult",
    "Backend",
    "Outcome",
    "ThreadBackend",
    "ProcessBackend",
    "DaskBackend",
    "register_backend",
    "get_backend",
    "available_backends",
    "TaskRun",
    "TERMINAL_STATES",
    "Sink",
    "MemorySink",
    "CallbackSink",
    "StoreSink",
    "TASK_RUNS_SCHEMA",
    "QueueFullError",
    "TaskTimeoutError",
    "WorkerDiedError",
    "MemoryLimitError",
    "CircuitOpenError",
    "DependencyFailedError",
    "DependencyCycleError",
    "CommandError",
    "RemoteTaskError",
    "JobsFileError",
]
