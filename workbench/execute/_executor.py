"""ThrottledExecutor: a ``concurrent.futures.Executor`` that paces itself to the machine.

Threads and what they do:

* **slot threads** (one per possible worker, started lazily up to the cap) take the best
  admissible task from the ageing priority queue and run one attempt through the
  backend. Taking work is a condition wait on one lock, so the hot path costs about as
  much as ``ThreadPoolExecutor``'s queue;
* one **housekeeping thread** samples CPU, memory and Linux PSI (CPU and memory
  pressure) a few times a second and feeds the :class:`Governor`, moves retries whose
  back-off has passed back into the queue, and enforces thread-task timeouts.

Task life: ``blocked`` (waiting on ``after=``) → ``queued`` → ``running`` → (``delayed``
for a retry → ``queued`` → ...) → one terminal state, recorded once as a
:class:`TaskRun`. Every transition happens under ``self._lock``; futures are resolved
and records written outside it, so callbacks may call back into the executor.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import heapq
import itertools
import math
import os
import random
import threading
import time
import warnings
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Executor, Future
from dataclasses import dataclass
from typing import Any

import psutil

from workbench._params import Integral, Interval, Options, Real, check_params
from workbench.errors import ConfigError
from workbench.execute._backends import Backend, Outcome, get_backend
from workbench.execute._breaker import CircuitBreaker
from workbench.execute._command import Command
from workbench.execute._errors import (
    CircuitOpenError,
    DependencyCycleError,
    DependencyFailedError,
    QueueFullError,
    TaskTimeoutError,
)
from workbench.execute._governor import Governor
from workbench.execute._options import (
    DEFAULT_OPTIONS,
    OPTION_NAMES,
    BoundOptions,
    TaskOptions,
    make_options,
)
from workbench.execute._pressure import PressureReader
from workbench.execute._queue import AgeingQueue
from workbench.execute._retry import Retry, RetryBudget
from workbench.execute._runs import MemorySink, TaskRun

__all__ = ["ThrottledExecutor", "TaskFuture", "PROFILES"]

#: Names of task options (:class:`TaskOptions`). Given as plain keywords to ``submit`` they
#: still set the option, with a DeprecationWarning, for one release.
TASK_OPTIONS = OPTION_NAMES
RESOURCE_KEYS = frozenset({"cpu", "memory"})
WAITING_STATES = frozenset({"new", "blocked", "queued", "delayed"})

#: Workload profiles: defaults picked by ``profile=`` when not given explicitly.
PROFILES: dict[str, dict[str, Any]] = {
    # CPU-bound: one process per core, niced and SCHED_IDLE so interactive work always
    # preempts them (nice alone still lets a worker delay a waking task by a time slice).
    "cpu": {"backend": "process", "workers": lambda: os.cpu_count() or 1, "cpu_target": 0.95, "nice": 10,
            "sched_idle": True},
    # I/O-bound: many threads; CPU is rarely the limit, and latency of the I/O matters.
    "io": {"backend": "thread", "workers": lambda: min(64, 8 * (os.cpu_count() or 1)), "cpu_target": 0.9,
           "nice": None, "sched_idle": False},
    # Mixed: a few threads per core.
    "mixed": {"backend": "thread", "workers": lambda: 2 * (os.cpu_count() or 1), "cpu_target": 0.85,
              "nice": None, "sched_idle": False},
}


class TaskFuture(Future):
    """A real :class:`concurrent.futures.Future` that also knows its task's key and name."""

    key: str
    name: str
    task_id: int

    def cancel(self) -> bool:
        # Overridden rather than a done-callback per task: cheaper on the hot path.
        if not super().cancel():
            return False
        executor = getattr(self, "_wb_executor", None)
        if executor is not None:
            executor._finish(self._wb_task, "cancelled")
        return True


@dataclass(eq=False, slots=True)
class _Task:
    id: int
    key: str
    name: str
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    future: TaskFuture
    priority: float
    tags: tuple[str, ...]
    timeout: float | None
    retry: Retry | None
    cpu: int
    memory: float | None
    submitted: float
    user_key: bool
    state: str = "new"
    attempts: int = 0
    started: float | None = None
    attempt_started: float = 0.0
    cpu_time: float | None = None
    peak_rss: int | None = None
    # Containers are created only for tasks with dependencies: fewer objects per task
    # means less garbage-collector work on the hot path.
    waiting_on: set | None = None  # keys still awaited
    deps: list | None = None  # keys of every after= dependency
    dependents: list | None = None
    terminal: bool = False
    estimate: float | None = None
    slot: Any = None
    attempt_token: int = 0
    not_before: float = 0.0
    notes: list | None = None  # what the executor did to the task that its user should know (retry budget)


class _Slot:
    def __init__(self, index: int) -> None:
        self.index = index
        self.thread: threading.Thread | None = None
        self.state: Any = None
        self.task: _Task | None = None
        self.token = 0
        self.lock = threading.Lock()  # guards (task, token) against a late timeout interrupt


def _warn_legacy(legacy: dict[str, Any], method: str) -> None:
    names = ", ".join(f"{k}=" for k in legacy)
    given = ", ".join(f"{k}=..." for k in legacy)
    warnings.warn(
        f"ex.{method}(fn, ..., {given}) takes {names} as task option(s) for one more release only; from then on "
        f"{method}() passes every keyword to fn, as Executor.{method.lstrip('a')}() promises. Write "
        f"ex.options({given}).{method}(fn, ...) or ex.{method}(fn, ..., options=TaskOptions({given})); "
        f"to pass {names} to fn itself, ex.options().{method}(fn, ..., {given}).",
        DeprecationWarning, stacklevel=3)


def _interrupt(thread_id: int, exc_type: type[BaseException] | None) -> None:
    # Raise exc_type in another thread at its next bytecode (None clears a pending one).
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type) if exc_type else None)


def _percentiles(values: Iterable[float]) -> dict[str, float | None]:
    data = sorted(values)
    if not data:
        return {"p50": None, "p90": None, "p99": None}

    def q(p: float) -> float:
        return data[min(len(data) - 1, int(p * len(data)))]

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99)}


class ThrottledExecutor(Executor):
    """Run many tasks as fast as the machine allows, and never faster.

    Parameters
    ----------
    max_workers:
        ``None`` lets the governor decide within its bounds. An integer without a
        ``governor`` fixes the limit (like ``ThreadPoolExecutor``); with a governor it caps it.
    backend:
        ``"thread"``, ``"process"``, ``"command"`` or a :class:`Backend` instance such as
        ``DaskBackend(client)``. ``None`` takes the profile's.
    governor:
        ``"auto"`` (a :class:`Governor` when ``max_workers`` is ``None``, else a fixed
        limit), a :class:`Governor`, or ``None`` for a fixed limit.
    queue_size:
        Most tasks waiting (blocked, queued or delayed for retry) at once.
    backpressure:
        ``"block"`` makes ``submit`` wait for room (up to ``block_timeout`` seconds, then
        :class:`QueueFullError`); ``"reject"`` raises :class:`QueueFullError` at once.
    ageing:
        Seconds for a waiting task to gain one priority level (``None``: no ageing). A
        task of priority ``p`` waits at most ``ageing * (P - p)`` seconds longer than
        the work already ahead of it, ``P`` the highest priority submitted.
    retry_budget:
        A :class:`RetryBudget`; the default is a bucket of ``10 + 0.2 * submitted``
        retries (submitted in the last second) refilled at that many per second; a retry
        past it is delayed until there is room, never dropped.
    breaker:
        A :class:`CircuitBreaker` applied per tag and per task name, or ``None``.
    sink:
        Receives every :class:`TaskRun`; default a bounded :class:`MemorySink` (``.sink``), or for a
        named executor a :class:`StoreSink` writing its home's ``task_runs``.
    profile:
        ``"cpu"``, ``"io"`` or ``"mixed"``: defaults for backend, worker bound, CPU target
        and niceness / scheduling class of process workers.
    sched_idle:
        Run worker processes and command tasks under Linux ``SCHED_IDLE`` (nice 19 where
        not permitted), so an interactive task always preempts them. ``None`` takes the
        profile's (on for ``"cpu"``, off for ``"io"`` and ``"mixed"``). ``True`` also
        lowers thread-backend slot threads; that is never a profile default because they
        share the GIL and the executor's lock with the caller (priority inversion).
    proc:
        procfs root the sampler reads PSI from (``{proc}/pressure/cpu`` and ``memory``);
        where it is missing the governor works from CPU and memory alone.
    memory_scope:
        What the governor measures as memory use: ``"system"`` (total minus available)
        or ``"self"`` (RSS of this process and all its descendants).
    sample_interval:
        Seconds between CPU/memory samples for the governor.
    seed:
        Seeds the retry jitter, for reproducible tests.
    name:
        Makes the executor visible and steerable from other processes and hosts
        (:mod:`workbench.control`): every ``control_interval`` seconds it publishes its
        state and applies the actions addressed to ``executor:<name>`` (``workbench
        executor pause NAME``...). One executor per name and host; a second raises
        :class:`~workbench.errors.ExecutorRunningError`. ``None`` (default): none of it.
    store:
        The :class:`~workbench.store.Store` (or home path) a named executor publishes
        in; default ``$WORKBENCH_HOME`` or ``./data``.
    """

    _parameter_constraints = {
        "max_workers": [None, Interval(Integral, 1, None, closed="left", doc="None: the governor or the backend decides")],
        "governor": [Options("auto"), None, Governor],
        "queue_size": [Interval(Integral, 1, None, closed="left")],
        "backpressure": [Options("block", "reject")],
        "block_timeout": [None, Interval(Real, 0, None, closed="both", doc="in seconds")],
        "profile": [Options(*PROFILES)],
        "memory_scope": [Options("system", "self")],
        "sample_interval": [Interval(Real, 0, None, closed="neither", doc="in seconds")],
        "sched_idle": [None, bool],
        "control_interval": [Interval(Real, 0, None, closed="neither", doc="in seconds")],
    }
    #: the one row of a task's ``timeout`` (``submit``/``options``)
    _TIMEOUT = {"timeout": [None, Interval(Real, 0, None, closed="right", doc="in seconds")]}

    def __init__(
        self,
        max_workers: int | None = None,
        backend: str | Backend | None = None,
        governor: Governor | str | None = "auto",
        queue_size: int = 100_000,
        backpressure: str = "block",
        *,
        block_timeout: float | None = None,
        ageing: float | None = 10.0,
        retry_budget: RetryBudget | None = None,
        breaker: CircuitBreaker | None = None,
        sink: Any = None,
        profile: str = "mixed",
        memory_scope: str = "system",
        sample_interval: float = 0.25,
        seed: int | None = None,
        sched_idle: bool | None = None,
        proc: str = "/proc",
        name: str | None = None,
        store: Any = None,
        control_interval: float = 1.0,
    ) -> None:
        check_params(self, {"max_workers": max_workers, "governor": governor, "queue_size": queue_size,
                            "backpressure": backpressure, "block_timeout": block_timeout, "profile": profile,
                            "memory_scope": memory_scope, "sample_interval": sample_interval,
                            "sched_idle": sched_idle, "control_interval": control_interval})
        prof = PROFILES[profile]
        spec = backend if backend is not None else prof["backend"]
        idle = prof["sched_idle"] if sched_idle is None else sched_idle
        if spec == "process":
            self._backend = get_backend(spec, nice=prof["nice"], sched_idle=idle)
        elif spec in ("thread", "command"):
            self._backend = get_backend(spec, sched_idle=idle, idle_threads=sched_idle is True)
        else:
            self._backend = get_backend(spec)
        if governor == "auto":
            bound = prof["workers"]() if self._backend.name == prof["backend"] else self._backend.default_workers()
            governor = None if max_workers is not None else Governor(cpu_target=prof["cpu_target"], max_workers=bound)
        self._governor: Governor | None = governor
        if governor is not None:
            if max_workers is not None and (governor.max_workers is None or governor.max_workers > max_workers):
                governor.max_workers = max_workers
            governor._ensure_started(time.monotonic())
            self._cap = governor.upper_
            self._limit = governor.limit_
            self._limit_reason = governor.reason_
        else:
            self._cap = max_workers if max_workers is not None else self._backend.default_workers()
            self._limit = self._cap
            self._limit_reason = f"fixed max_workers={self._cap}"
        self.queue_size = queue_size
        self.backpressure = backpressure
        self.block_timeout = block_timeout
        self.memory_scope = memory_scope
        self.sample_interval = sample_interval
        self.sink = sink if sink is not None else MemorySink()
        self._breaker = breaker
        self._budget = retry_budget if retry_budget is not None else RetryBudget()
        self._rng = random.Random(seed)

        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # slots wait for admissible work
        self._space = threading.Condition(self._lock)  # blocked submitters wait for room
        self._idle = threading.Condition(self._lock)  # drain/shutdown wait for no pending tasks
        self._wake = threading.Condition(self._lock)  # housekeeping waits for its next deadline
        self._queue = AgeingQueue(ageing)
        self._delayed: list[tuple[float, int, _Task]] = []  # retry heap (not_before, id, task)
        self._deadlines: list[tuple[float, int, int, _Task]] = []  # thread-task timeouts
        self._live: dict[str, _Task] = {}  # key -> non-terminal task
        self._forward: dict[str, list[_Task]] = {}  # key not yet submitted -> tasks waiting on it
        self._finished: dict[str, bool] = {}  # user-given key -> succeeded (for later after=)
        self._running_tasks: dict[_Slot, _Task] = {}  # one attempt per slot
        self._slots: list[_Slot] = []
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._blocked = 0
        self._idle_slots = 0  # slot threads waiting for work
        self._space_waiters = 0  # submitters waiting for room
        self._running = 0  # CPU slots in use
        self._pending = 0  # non-terminal tasks
        self._paused = False
        self._shutdown = False
        self._stop = False
        self._counts: Counter[str] = Counter()
        self._waits: deque[float] = deque(maxlen=10_000)
        self._runs: deque[float] = deque(maxlen=10_000)
        self._ends: deque[float] = deque(maxlen=100_000)
        self._admission = "admitted"
        self._cpu = math.nan
        self._mem = math.nan
        self._pressure = PressureReader(proc)
        self._psi: dict[str, float | None] = {"cpu": None, "memory": None}
        self._t0 = time.monotonic()
        if self._governor is not None:
            # Memory is known before the first task is admitted; CPU needs an interval
            # (psutil's first cpu_percent is meaningless), so it starts unknown.
            psutil.cpu_percent(None)
            self._sample(psutil.Process(), cpu=math.nan)
        self._control = None
        if name is not None:
            from workbench.execute._publish import ExecutorControl

            self._control = ExecutorControl(name, store, interval=control_interval)
            if sink is None:  # a named executor records every run in its home's task_runs by default
                from workbench.execute._record import StoreSink

                self.sink = StoreSink(self._control.store)
        elif store is not None:
            raise ConfigError("store= is where a named executor publishes its state; give name= too.")
        self._hk = threading.Thread(target=self._housekeeping, name="throttled-housekeeping", daemon=True)
        self._hk.start()
        _live_executors.add(self)
        if self._control is not None:
            self._control.start(self)

    # ------------------------------------------------------------------ submission ---
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> TaskFuture:
        """Schedule ``fn(*args, **kwargs)``; return a real Future. Every keyword goes to ``fn``.

        Task options (priority, tags, timeout, retry, after, resources, name, key: see
        :class:`TaskOptions`) go apart: ``ex.submit(fn, x, options=TaskOptions(timeout=5))``
        or ``ex.options(timeout=5).submit(fn, x)``. For one release, option names given
        as plain keywords (``ex.submit(fn, timeout=5)``) still set the option, with a
        ``DeprecationWarning``; any call that gives options passes all keywords to ``fn``.
        """
        if kwargs:
            opts = kwargs.get("options")
            if isinstance(opts, TaskOptions):
                del kwargs["options"]
                return self._submit(fn, args, kwargs, opts)
            if not TASK_OPTIONS.isdisjoint(kwargs):
                legacy = {k: kwargs.pop(k) for k in sorted(TASK_OPTIONS.intersection(kwargs))}
                _warn_legacy(legacy, "submit")
                return self._submit(fn, args, kwargs, TaskOptions(**legacy))
        return self._submit(fn, args, kwargs, DEFAULT_OPTIONS)

    def options(self, **opts: Any) -> BoundOptions:
        """This executor with task options bound (Ray's ``f.options(...)``):
        ``ex.options(timeout=5, retry=Retry()).submit(requests.get, url, timeout=1)`` gives
        the task a 5 s timeout and passes ``timeout=1`` to ``requests.get``."""
        return BoundOptions(self, make_options("options()", None, **opts))

    def _submit(self, fn: Callable[..., Any], args: tuple, kwargs: dict, opts: TaskOptions) -> TaskFuture:
        priority, tags, timeout, retry, after = opts.priority, opts.tags, opts.timeout, opts.retry, opts.after
        resources, name, key = opts.resources, opts.name, opts.key
        if not callable(fn):
            raise TypeError(f"submit() needs a callable or a Command; got {fn!r}")
        cpu, memory = 1, None
        if resources:
            unknown = set(resources) - RESOURCE_KEYS
            if unknown:
                raise TypeError(f"unknown resources {sorted(unknown)}; allowed: {sorted(RESOURCE_KEYS)}")
            cpu, memory = int(resources.get("cpu", 1)), resources.get("memory")
            if cpu < 1 or cpu > self._cap:
                raise ConfigError(
                    f"resources cpu={cpu} must be between 1 and the executor's {self._cap} workers.", cpu=cpu
                )
        if timeout is not None:
            check_params(self, {"timeout": timeout}, constraints=self._TIMEOUT)
        if retry is not None and not isinstance(retry, Retry):
            raise TypeError(f"retry= takes a Retry(...); got {retry!r}")
        tags = (tags,) if isinstance(tags, str) else tuple(tags)
        name = name or getattr(fn, "__name__", None) or type(fn).__name__
        task_id = next(self._ids)
        fut = TaskFuture()
        task = _Task(
            id=task_id, key=key or f"{name}-{task_id}", name=name, fn=fn, args=args, kwargs=kwargs, future=fut,
            priority=float(priority), tags=tags, timeout=timeout, retry=retry, cpu=cpu,
            memory=memory, submitted=time.time(), user_key=key is not None,
        )
        fut.key, fut.name, fut.task_id = task.key, name, task_id
        fut._wb_task = task  # lets after= map futures to tasks
        fut._wb_executor = self
        fail_now: Exception | None = None
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if self._occupancy() >= self.queue_size:
                room = False
                if self.backpressure == "block":
                    self._space_waiters += 1
                    try:
                        room = self._space.wait_for(
                            lambda: self._shutdown or self._occupancy() < self.queue_size, self.block_timeout
                        )
                    finally:
                        self._space_waiters -= 1
                if self._shutdown:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                if not room:
                    reject = QueueFullError(
                        f"the executor queue is full ({self.queue_size} tasks waiting, backpressure="
                        f"{self.backpressure!r}, block_timeout={self.block_timeout}); retry later, raise "
                        "queue_size, or use backpressure='block'.",
                        queue_size=self.queue_size,
                        backpressure=self.backpressure,
                    )
                    task.terminal = True
                    task.state = "rejected"
                    self._counts["rejected"] += 1
                    run = self._record_locked(task, "rejected", reject)
        if task.state == "rejected":
            self._emit(run)
            raise reject
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if task.key in self._live or task.key in self._finished:
                raise ConfigError(f"a task with key {task.key!r} was already submitted; keys must be unique.", key=task.key)
            # resolve dependencies
            for dep in (after,) if isinstance(after, (str, Future)) else after:
                if isinstance(dep, Future):
                    dtask = getattr(dep, "_wb_task", None)
                    if dtask is None:
                        raise TypeError("after= takes futures returned by this executor's submit(), or task keys")
                    dkey = dtask.key
                    if dtask.terminal:
                        if dtask.state != "done":
                            fail_now = DependencyFailedError(
                                f"task {task.key!r} depends on {dkey!r}, which ended {dtask.state}.", dependency=dkey
                            )
                        continue
                elif isinstance(dep, str):
                    dkey = dep
                    if dkey in self._finished:
                        if not self._finished[dkey]:
                            fail_now = DependencyFailedError(
                                f"task {task.key!r} depends on {dkey!r}, which did not succeed.", dependency=dkey
                            )
                        continue
                else:
                    raise TypeError(f"after= takes futures or task keys (str); got {dep!r}")
                if task.deps is None:
                    task.deps, task.waiting_on = [], set()
                task.deps.append(dkey)
                task.waiting_on.add(dkey)
            if task.deps and (task.key in task.waiting_on or self._reaches(task.deps, task.key)):
                raise DependencyCycleError(
                    f"task {task.key!r} cannot run after {task.deps}: some of them (transitively) wait for "
                    f"{task.key!r} itself. Remove one after= link.",
                    key=task.key, after=list(task.deps),
                )
            self._live[task.key] = task
            self._pending += 1
            self._counts["submitted"] += 1
            if self._forward and task.key in self._forward:
                task.dependents = self._forward.pop(task.key)
            if fail_now is None:
                for dkey in task.waiting_on or ():
                    target = self._live.get(dkey)
                    if target is not None:
                        if target.dependents is None:
                            target.dependents = []
                        target.dependents.append(task)
                    else:
                        self._forward.setdefault(dkey, []).append(task)
                if task.waiting_on:
                    task.state = "blocked"
                    self._blocked += 1
                else:
                    self._enqueue_locked(task)
        if fail_now is not None:
            self._finish(task, "failed", exc=fail_now)
        return fut

    def _reaches(self, start: list[str], target: str) -> bool:
        # Depth-first search over live tasks' dependency keys: does any path lead to target?
        seen: set[str] = set()
        stack = list(start)
        while stack:
            k = stack.pop()
            if k == target:
                return True
            if k in seen:
                continue
            seen.add(k)
            t = self._live.get(k)
            if t is not None:
                stack.extend(t.waiting_on or ())
        return False

    def _occupancy(self) -> int:
        return len(self._queue) + self._blocked + len(self._delayed)

    def _enqueue_locked(self, task: _Task) -> None:
        task.state = "queued"
        self._queue.push(task, task.priority, time.monotonic() - self._t0)
        self._ensure_slots_locked()
        self._notify_locked()

    def _ensure_slots_locked(self) -> None:
        if len(self._slots) >= self._cap:
            return
        want = min(self._cap, max(self._limit, 1), len(self._queue) + self._running)
        while len(self._slots) < want:
            slot = _Slot(len(self._slots))
            slot.thread = threading.Thread(target=self._slot_loop, args=(slot,), name=f"throttled-{slot.index}", daemon=True)
            self._slots.append(slot)
            slot.thread.start()

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,  # accepted for Executor compatibility; tasks go one by one
        buffersize: int | None = None,
        options: TaskOptions | None = None,
        **opts: Any,
    ) -> Iterator[Any]:
        """Like ``Executor.map``, but reads the input lazily: at most ``buffersize`` tasks
        (default twice the worker cap) are in flight, so unbounded iterables work.
        Task options come as ``options=TaskOptions(...)`` or keywords (``priority=``,
        ``tags=``...; map passes no keywords to ``fn``); others raise ``TypeError``.
        """
        unknown = set(opts) - TASK_OPTIONS
        if unknown:
            raise TypeError(f"map() got unknown option(s) {sorted(unknown)}; task options are {sorted(TASK_OPTIONS)}")
        topts = make_options("map()", options, **opts)
        if topts.key is not None or topts.after:
            raise TypeError("map() cannot take key= or after=: they name a single task")
        deadline = None if timeout is None else time.monotonic() + timeout
        window = buffersize or max(16, 2 * self._cap)
        args_iter = zip(*iterables, strict=False)
        inflight: deque[Future] = deque(self._submit(fn, a, {}, topts) for a in itertools.islice(args_iter, window))

        def results() -> Iterator[Any]:
            try:
                while inflight:
                    fut = inflight.popleft()
                    left = None if deadline is None else deadline - time.monotonic()
                    yield fut.result(left)
                    for a in itertools.islice(args_iter, 1):
                        inflight.append(self._submit(fn, a, {}, topts))
            finally:
                for fut in inflight:
                    fut.cancel()

        return results()

    async def asubmit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``await`` a task's result from asyncio; blocking backpressure waits off the loop.
        Keywords and options as in :meth:`submit`."""
        opts = kwargs.get("options")
        if isinstance(opts, TaskOptions):
            del kwargs["options"]
        elif not TASK_OPTIONS.isdisjoint(kwargs):
            legacy = {k: kwargs.pop(k) for k in sorted(TASK_OPTIONS.intersection(kwargs))}
            _warn_legacy(legacy, "asubmit")
            opts = TaskOptions(**legacy)
        else:
            opts = DEFAULT_OPTIONS
        return await self._asubmit(fn, args, kwargs, opts)

    async def _asubmit(self, fn: Callable[..., Any], args: tuple, kwargs: dict, opts: TaskOptions) -> Any:
        if self.backpressure == "block":
            fut = await asyncio.to_thread(self._submit, fn, args, kwargs, opts)
        else:
            fut = self._submit(fn, args, kwargs, opts)
        return await asyncio.wrap_future(fut)

    # --------------------------------------------------------------------- running ---
    def _slot_loop(self, slot: _Slot) -> None:
        slot.state = self._backend.open_slot()
        try:
            while True:
                with self._lock:
                    task = self._take_locked(slot)
                if task is None:
                    return
                self._run(slot, task)
        finally:
            self._backend.close_slot(slot.state)

    def _take_locked(self, slot: _Slot) -> _Task | None:
        while True:
            if self._stop:
                return None
            if not self._paused and len(self._queue) and slot.index < self._limit:
                task = self._queue.peek()
                fits = self._running == 0 or self._running + task.cpu <= self._limit
                if fits:
                    ok = True
                    if self._governor is not None:
                        task.estimate = self._governor.estimate(task.name, task.memory)
                        if task.estimate:
                            ok, why = self._governor.admit(task.estimate, self._outstanding_locked(), self._running)
                            self._admission = why
                        elif self._learns_memory(task) and any(
                            t.name == task.name for t in self._running_tasks.values()
                        ):
                            # Unknown memory use: run one task of this kind at a time until
                            # one has finished and taught the governor what it needs.
                            ok = False
                            self._admission = f"learning the memory use of {task.name!r} from its first run"
                    if ok:
                        self._queue.pop()
                        if self._admission != "admitted":
                            self._admission = "admitted"
                        task.state = "running"
                        task.slot = slot
                        self._running += task.cpu
                        self._running_tasks[slot] = task
                        if len(self._queue) and self._running < self._limit:
                            self._notify_locked()
                        return task
                    self._idle_slots += 1
                    try:
                        self._work.wait(self.sample_interval)  # re-check after the next sample
                    finally:
                        self._idle_slots -= 1
                    continue
            self._idle_slots += 1
            try:
                self._work.wait()
            finally:
                self._idle_slots -= 1

    def _learns_memory(self, task: _Task) -> bool:
        return self._backend.measures_memory or isinstance(task.fn, Command)

    def _outstanding_locked(self) -> float:
        total = 0.0
        for t in self._running_tasks.values():
            if t.estimate:
                grown = self._backend.grown(t.slot.state) if t.slot is not None and not self._backend.in_slot_thread else None
                total += max(0.0, t.estimate - (grown or 0))
        return total

    def _run(self, slot: _Slot, task: _Task) -> None:
        if task.attempts == 0:
            if not task.future.set_running_or_notify_cancel():
                self._release(slot)
                self._finish(task, "cancelled")
                return
            task.started = time.time()
            self._waits.append(task.started - task.submitted)
        if self._breaker is not None:
            with self._lock:
                blocked = self._breaker.allow(self._groups(task), time.monotonic())
            if blocked is not None:
                self._release(slot)
                self._finish(task, "rejected", exc=CircuitOpenError(
                    f"task {task.key!r} was not run: the circuit breaker for group {blocked!r} is open after "
                    f"repeated failures; it half-opens after {self._breaker.cooldown}s.", group=blocked))
                return
        task.attempts += 1
        task.attempt_started = time.monotonic()
        deadline = None if task.timeout is None else task.attempt_started + task.timeout
        token = next(self._tokens)  # unique per attempt across slots
        task.attempt_token = token
        # Thread tasks with a timeout are watched: the housekeeping thread interrupts them.
        # Command tasks enforce their own deadline (they kill the process tree); an
        # interrupt would abort that and leave the command running.
        if deadline is not None and self._backend.in_slot_thread and not isinstance(task.fn, Command):
            with slot.lock:
                slot.token = token
                slot.task = task
            with self._lock:
                heapq.heappush(self._deadlines, (deadline, task.id, token, task))
                self._wake.notify()
            try:
                try:
                    outcome = self._backend.run(slot.state, task, deadline)
                finally:
                    with slot.lock:
                        slot.task = None
                        _interrupt(threading.get_ident(), None)  # drop an interrupt that came too late
            except TaskTimeoutError as exc:  # the interrupt landed between the call and the lock
                outcome = Outcome(False, exc)
        else:
            outcome = self._backend.run(slot.state, task, deadline)
        with self._lock:
            self._release_locked(slot)
            if task.terminal or task.attempt_token != token:
                return  # the watchdog already resolved this attempt
            task.attempt_token = -1
        self._settle(task, outcome)

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            self._release_locked(slot)

    def _release_locked(self, slot: _Slot) -> None:
        task = self._running_tasks.pop(slot, None)
        if task is not None:
            self._running -= task.cpu
            if len(self._queue):
                self._notify_locked()

    def _notify_locked(self) -> None:
        # A slot whose index is above the live limit ignores work, so when there are such
        # slots wake them all rather than risk handing the one wake-up to an idle slot.
        if not self._idle_slots:
            return
        if len(self._slots) > self._limit:
            self._work.notify_all()
        else:
            self._work.notify()

    def _groups(self, task: _Task) -> list[str]:
        return [f"tag:{t}" for t in task.tags] + [f"name:{task.name}"]

    def _settle(self, task: _Task, outcome: Outcome) -> None:
        """Turn an attempt's outcome into a result, a retry or a terminal failure."""
        now = time.monotonic()
        self._runs.append(now - task.attempt_started)
        if outcome.cpu_time is not None:
            task.cpu_time = (task.cpu_time or 0.0) + outcome.cpu_time
        if outcome.peak_rss is not None:
            task.peak_rss = max(task.peak_rss or 0, outcome.peak_rss)
        if outcome.grown is not None and self._governor is not None:
            with self._lock:
                self._governor.learn(task.name, outcome.grown)
        if self._breaker is not None:
            with self._lock:
                self._breaker.record(self._groups(task), outcome.ok, now)
        if outcome.ok:
            self._finish(task, "done", result=outcome.value)
            return
        exc = outcome.value
        if task.retry is not None and task.retry.should_retry(exc, task.attempts):
            with self._lock:
                if not self._stop and not task.terminal:
                    want = now + task.retry.delay(task.attempts, self._rng)
                    budget = self._budget
                    at = budget.grant(now, self._counts["submitted"], want)
                    nxt = task.attempts + 1
                    if at is not None:
                        self._counts["retried"] += 1
                        if at > want + 1e-3:
                            self._counts["retry_budget_delayed"] += 1
                            self._note_locked(task, f"try {nxt} of {task.retry.attempts} was delayed "
                                                    f"{at - want:.2f} s by the executor's retry budget "
                                                    f"({budget.describe()})")
                        task.state = "delayed"
                        task.not_before = at
                        heapq.heappush(self._delayed, (task.not_before, task.id, task))
                        self._wake.notify()
                        return
                    self._counts["retry_budget_exhausted"] += 1
                    why = ("it allows no retries" if budget.max_delay is None else
                           f"it had no room within max_delay={budget.max_delay:g} s")
                    self._note_locked(task, f"try {nxt} of {task.retry.attempts} was refused by the executor's "
                                            f"retry budget ({budget.describe()}): {why}; raise "
                                            "RetryBudget(max_delay=...) or its min_retries/ratio")
        state = "timed_out" if isinstance(exc, TaskTimeoutError) else "failed"
        self._finish(task, state, exc=exc)

    @staticmethod
    def _note_locked(task: _Task, note: str) -> None:
        if task.notes is None:
            task.notes = []
        task.notes.append(note)

    # -------------------------------------------------------------- terminal state ---
    def _finish(self, task: _Task, state: str, result: Any = None, exc: BaseException | None = None,
                *, only_waiting: bool = False) -> bool:
        """Put a task in its one terminal state: resolve the future, write the record,
        release or fail its dependents. Idempotent: the first caller wins. With
        ``only_waiting`` nothing happens if a slot has meanwhile started the task."""
        stack = [(task, state, result, exc)]
        first, finished = True, False
        while stack:
            task, state, result, exc = stack.pop()
            with self._lock:
                skip = task.terminal or (first and only_waiting and task.state not in WAITING_STATES)
                if first:
                    first, finished = False, not skip
                if skip:
                    continue
                task.terminal = True
                if task.state == "queued":
                    self._queue.remove(task)
                elif task.state == "blocked":
                    self._blocked -= 1
                elif task.state == "delayed":
                    self._delayed = [e for e in self._delayed if e[2] is not task]
                    heapq.heapify(self._delayed)
                task.state = state
                self._counts[state] += 1
                self._pending -= 1
                self._live.pop(task.key, None)
                if task.user_key:
                    self._finished[task.key] = state == "done"
                for dkey in task.waiting_on or ():  # stop waiting for keys never submitted
                    waiters = self._forward.get(dkey)
                    if waiters and task in waiters:
                        waiters.remove(task)
                        if not waiters:
                            del self._forward[dkey]
                ended = time.time()
                self._ends.append(time.monotonic())
                if task.notes and exc is not None and task.notes is not getattr(exc, "_wb_noted", None):
                    for note in task.notes:
                        exc.add_note(note)
                    exc._wb_noted = task.notes
                run = self._record_locked(task, state, exc, ended)
                released = []
                for dep in task.dependents or ():
                    if dep.terminal:
                        continue
                    if state == "done":
                        dep.waiting_on.discard(task.key)
                        if not dep.waiting_on and dep.state == "blocked":
                            self._blocked -= 1
                            self._enqueue_locked(dep)
                    else:
                        released.append(dep)
                if self._space_waiters:
                    self._space.notify_all()
                if self._pending == 0:
                    self._idle.notify_all()
            fut = task.future
            if state == "done":
                fut.set_result(result)
            elif state == "cancelled":
                if not Future.cancel(fut) and not fut.done():
                    fut.set_exception(CancelledError(f"task {task.key!r} was cancelled"))
            elif not fut.done():
                if not fut.cancelled():
                    if fut.running() or fut.set_running_or_notify_cancel():
                        fut.set_exception(exc)
            self._emit(run)
            for dep in released:
                stack.append((dep, "failed", None, DependencyFailedError(
                    f"task {dep.key!r} was not run: its dependency {task.key!r} ended {state}.",
                    dependency=task.key, dependency_state=state)))
        return finished

    def _record_locked(self, task: _Task, state: str, exc: BaseException | None, ended: float | None = None) -> TaskRun:
        return TaskRun(
            id=task.id, key=task.key, name=task.name, tags=task.tags, state=state, priority=task.priority,
            submitted=task.submitted, started=task.started, ended=ended or time.time(), attempts=task.attempts,
            cpu_time=task.cpu_time, peak_rss=task.peak_rss,
            error=None if exc is None else f"{type(exc).__name__}: {exc}", backend=self._backend.name,
            notes="; ".join(task.notes) if task.notes else None,
        )

    def _emit(self, run: TaskRun) -> None:
        try:
            self.sink.write((run,))
        except Exception:  # a failing sink must not lose the task's result; count it instead
            with self._lock:
                self._counts["sink_errors"] += 1

    # ----------------------------------------------------------------- housekeeping ---
    def _housekeeping(self) -> None:
        proc = psutil.Process()
        if self._governor is None:
            psutil.cpu_percent(None)  # the first call only sets the reference point
        next_sample = time.monotonic() + self.sample_interval
        while True:
            timeouts: list[tuple[_Task, int]] = []
            with self._lock:
                if self._stop:
                    return
                now = time.monotonic()
                self._budget.mark(now, self._counts["submitted"])
                while self._delayed and self._delayed[0][0] <= now:
                    _, _, task = heapq.heappop(self._delayed)
                    if not task.terminal:
                        self._enqueue_locked(task)
                while self._deadlines and self._deadlines[0][0] <= now:
                    _, _, token, task = heapq.heappop(self._deadlines)
                    if task.attempt_token == token:
                        task.attempt_token = -1
                        timeouts.append((task, token))
                wake = next_sample
                if self._delayed:
                    wake = min(wake, self._delayed[0][0])
                if self._deadlines:
                    wake = min(wake, self._deadlines[0][0])
                if not timeouts and now < next_sample:
                    self._wake.wait(max(0.0, wake - now))
                    continue
            for task, token in timeouts:
                self._timeout_thread_task(task, token)
            if time.monotonic() >= next_sample:
                self._sample(proc)
                next_sample = time.monotonic() + self.sample_interval

    def _timeout_thread_task(self, task: _Task, token: int) -> None:
        slot = task.slot
        if slot is not None and slot.thread is not None:
            with slot.lock:
                if slot.task is task and slot.token == token:
                    _interrupt(slot.thread.ident, TaskTimeoutError)
        if task.terminal:
            return
        exc = TaskTimeoutError(
            f"task {task.key!r} passed its timeout of {task.timeout}s; its thread was interrupted "
            "(a blocking C call finishes first — use backend='process' to kill such work).",
            key=task.key, timeout=task.timeout,
        )
        self._settle(task, Outcome(False, exc))

    def _sample(self, proc: psutil.Process, cpu: float | None = None) -> None:
        if cpu is None:
            cpu = psutil.cpu_percent(None) / 100.0
        vm = psutil.virtual_memory()
        if self.memory_scope == "self":
            used = 0
            try:
                for p in [proc, *proc.children(recursive=True)]:
                    try:
                        used += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
        else:
            used = vm.total - vm.available
        try:
            psi = self._pressure.read()
        except Exception as exc:  # the housekeeping thread must survive anything a file holds
            psi = {"cpu": None, "memory": None}
            self._pressure.status = f"unavailable ({type(exc).__name__}: {exc})"
        now = time.monotonic()
        predictor = self._governor.predictor if self._governor is not None else None
        if predictor is not None and hasattr(predictor, "observe"):
            # A ForecastPredictor learns from the same samples, and fits here, outside the
            # lock: the governor's call below (same ``now``) then returns the cached forecast.
            predictor.observe(now, cpu, used)
            try:
                predictor(now)
            except Exception:  # the governor's own call reports it in its holding_ note
                pass
        with self._lock:
            self._cpu, self._mem, self._psi = cpu, used, psi
            if self._governor is None:
                return
            limit = self._governor.update(
                now, cpu, used, vm.total, running=self._running, queued=len(self._queue),
                cpu_pressure=psi["cpu"], mem_pressure=psi["memory"],
            )
            self._limit_reason = self._governor.reason_
            if limit != self._limit:
                self._limit = limit
                self._ensure_slots_locked()
            self._work.notify_all()  # admission may have changed with the new sample

    # ---------------------------------------------------------------- live control ---
    def pause(self) -> None:
        """Start no new tasks (running ones finish) until :meth:`resume`."""
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._work.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every task submitted so far has ended; True if it did in time."""
        with self._lock:
            if self._paused and self._pending:
                raise RuntimeError("drain() would wait forever: the executor is paused; call resume() first")
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def set_limits(self, **limits: Any) -> None:
        """Change bounds or targets while running: ``max_workers``, ``min_workers``,
        ``cpu_target``, ``mem_target``, ... (governor) or ``max_workers`` (fixed limit)."""
        with self._lock:
            if self._governor is None:
                unknown = set(limits) - {"max_workers"}
                if unknown:
                    raise TypeError(f"set_limits() without a governor only takes max_workers; got {sorted(unknown)}")
                n = limits["max_workers"]
                check_params(self, {"max_workers": n},
                             constraints={"max_workers": [Interval(Integral, 1, None, closed="left")]})
                self._cap = max(self._cap, n)
                self._limit = n
                self._limit_reason = f"set_limits(max_workers={n})"
            else:
                self._governor.set_limits(**limits)
                self._cap = max(self._cap, self._governor.upper_)
                self._limit = self._governor.limit_
                self._limit_reason = self._governor.reason_
            self._ensure_slots_locked()
            self._work.notify_all()

    def _select(self, tag: str | None, name: str | None, key: str | None, futures: Iterable[Future] | None) -> list[_Task]:
        wanted = {getattr(f, "_wb_task", None) for f in futures} if futures is not None else None
        out = []
        for task in list(self._live.values()):
            if task.state not in WAITING_STATES:
                continue
            if tag is not None and tag not in task.tags:
                continue
            if name is not None and task.name != name:
                continue
            if key is not None and task.key != key:
                continue
            if wanted is not None and task not in wanted:
                continue
            out.append(task)
        return out

    def cancel(self, *, tag: str | None = None, name: str | None = None, key: str | None = None) -> int:
        """Cancel waiting tasks (queued, blocked or waiting to retry) that match; returns how many."""
        with self._lock:
            tasks = self._select(tag, name, key, None)
        return sum(self._finish(task, "cancelled", only_waiting=True) for task in tasks)

    def reprioritise(self, priority: float, *, tag: str | None = None, name: str | None = None,
                     key: str | None = None, futures: Iterable[Future] | None = None) -> int:
        """Give waiting tasks that match a new priority (queued ones keep their age)."""
        with self._lock:
            tasks = self._select(tag, name, key, futures)
            for task in tasks:
                task.priority = float(priority)
            self._queue.reprioritise_many(tasks, float(priority))
            self._work.notify_all()
        return len(tasks)

    @property
    def governor(self) -> Governor | None:
        return self._governor

    def stats(self) -> dict[str, Any]:
        """A consistent snapshot for dashboards: counts, percentiles, throughput, limit and why."""
        with self._lock:
            now = time.monotonic()
            recent = [t for t in self._ends if now - t <= 10.0]
            elapsed = max(1e-9, min(10.0, now - self._t0))
            c = self._counts
            return {
                "queued": len(self._queue),
                "blocked": self._blocked,
                "delayed": len(self._delayed),
                "running": len(self._running_tasks),
                "submitted": c["submitted"],
                "done": c["done"],
                "failed": c["failed"],
                "timed_out": c["timed_out"],
                "cancelled": c["cancelled"],
                "rejected": c["rejected"],
                "retried": c["retried"],
                "retry_budget_delayed": c["retry_budget_delayed"],
                "retry_budget_exhausted": c["retry_budget_exhausted"],
                "wait_time": _percentiles(self._waits),
                "run_time": _percentiles(self._runs),
                "throughput": len(recent) / elapsed,
                "limit": self._limit,
                "limit_reason": self._limit_reason,
                "admission": self._admission,
                "paused": self._paused,
                "cpu": self._cpu,
                "memory": self._mem,
                "cpu_pressure": self._psi["cpu"],
                "memory_pressure": self._psi["memory"],
                "pressure_status": self._pressure.status,
                "breakers": self._breaker.snapshot(now) if self._breaker else {},
            }

    # -------------------------------------------------------------------- shutdown ---
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        # Drained from outside (`workbench executor drain`): what waits is not started now either.
        drained = self._control is not None and self._control.draining
        with self._lock:
            self._shutdown = True
            self._space.notify_all()
            tasks = self._select(None, None, None, None) if cancel_futures or drained else []
            orphans = [t for ts in self._forward.values() for t in ts]
            if not drained:
                self._paused = False
            self._work.notify_all()
        for task in tasks:
            self._finish(task, "cancelled", only_waiting=True)
        for task in orphans:  # forward references that can never be satisfied now
            missing = sorted(k for k in task.waiting_on or () if k not in self._live)
            self._finish(task, "failed", exc=DependencyFailedError(
                f"task {task.key!r} waited for {missing}, which were never submitted before shutdown.",
                missing=missing))
        if wait:
            with self._lock:
                self._idle.wait_for(lambda: self._pending == 0)
        self._stop_threads(wait)

    def _stop_threads(self, wait: bool) -> None:
        with self._lock:
            if wait or self._pending == 0:
                self._stop = True
                self._work.notify_all()
                self._wake.notify_all()
        if not self._stop:
            threading.Thread(target=self._finish_later, daemon=True).start()
            return
        if wait:
            for slot in list(self._slots):
                if slot.thread is not threading.current_thread():
                    slot.thread.join()
            if self._hk is not threading.current_thread():
                self._hk.join()
        self._backend.shutdown()
        for method in ("flush", "close"):
            fn = getattr(self.sink, method, None)
            if fn is not None:
                fn()
        if self._control is not None:
            self._control.close()
        _live_executors.discard(self)

    def _finish_later(self) -> None:
        with self._lock:
            self._idle.wait_for(lambda: self._pending == 0)
        self._stop_threads(True)


_live_executors: weakref.WeakSet[ThrottledExecutor] = weakref.WeakSet()


@atexit.register
def _kill_workers_at_exit() -> None:
    # Slot threads are daemons; make sure no worker process outlives the interpreter.
    for ex in list(_live_executors):
        ex._backend.shutdown()
