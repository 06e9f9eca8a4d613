"""Application metrics: what user code records, in the same store as the system's.

Any process — a notebook, a batch job, an executor task — records with::

    import workbench

    @workbench.timed("etl.load")              # decorator (plain or async functions)
    def load(): ...

    with workbench.timed("etl.load", table="orders"):   # context manager
        ...

    workbench.gauge("queue.depth", 42, queue="ingest")
    workbench.count("etl.rows", 500, table="orders")

and the samples land in ``workbench.store.Store(home)`` with no agent running:

- ``timed(name)`` records one duration in seconds per call, as ``app.<name>.duration``.
- ``gauge(name, value)`` records the value, as ``app.<name>``.
- ``count(name, n)`` records *increments*, as ``app.<name>.count``: the increments
  of one flush window (about a second) are summed into one sample per series, so
  ``sum(value)`` over any time range is the number counted in it, across every
  process that counted. We chose increments over a cumulative total per process
  because a total needs a per-process label (unbounded series for batch jobs, one
  per run) and a reset rule to sum across processes; an increment needs neither.

Recording is cheap and thread-safe: samples go to an in-process buffer (bounded;
when full, the oldest are dropped and counted in :func:`stats`) that a daemon
thread flushes every ``flush_interval`` seconds and once more at interpreter exit.
A flush that fails (store unreachable) keeps its samples for the next one, within
the same bound. A forked child starts with an empty buffer of its own.

Where they go: ``WORKBENCH_HOME`` (default ``./data``) and this host's name,
unless :func:`configure` says otherwise.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from workbench._logthrottle import RepeatedFailure
from workbench.catalog import MetricSpec, global_catalog
from workbench.errors import ConfigError, DataError
from workbench.labels import format_labels

__all__ = ["timed", "gauge", "count", "configure", "flush", "stats", "Sink"]

log = logging.getLogger("workbench.appmetrics")

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULT_FLUSH_INTERVAL = 1.0
_DEFAULT_MAX_BUFFER = 100_000


class Sink(Protocol):
    """Where flushed samples go: :class:`workbench.store.Store` or anything shaped like it."""

    def append(self, data: Any) -> int: ...

    def register_metrics(self, specs: Iterable[MetricSpec]) -> None: ...


class _Recorder:
    """The process-wide buffer, its flushing thread and its destination."""

    def __init__(self) -> None:
        self._home: str | None = None
        self._host: str | None = None
        self._sink: Sink | None = None  # given by configure(store=...) or created lazily
        self._own_sink = True
        self.flush_interval = _DEFAULT_FLUSH_INTERVAL
        self.max_buffer = _DEFAULT_MAX_BUFFER
        self._specs: dict[tuple[str, str], MetricSpec] = {}
        self._reset_state()

    def _reset_state(self) -> None:
        self._lock = threading.Lock()
        self._sink_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._rows: deque[tuple[float, str, str, float]] = deque()
        self._counts: dict[tuple[str, str], float] = {}
        self._registered: set[str] = set()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._wake = threading.Event()  # set to re-read flush_interval, or to stop
        self.dropped = 0
        self.flushed = 0
        self.flush_errors = 0
        self.last_error: str | None = None
        self._trouble = RepeatedFailure("application metrics not written (kept for retry)", logger=log,
                                        level=logging.WARNING)

    # -- configuration --------------------------------------------------------------

    def configure(
        self,
        home: str | os.PathLike[str] | None = None,
        host: str | None = None,
        flush_interval: float | None = None,
        max_buffer: int | None = None,
        store: Sink | None = None,
    ) -> None:
        if flush_interval is not None:
            if isinstance(flush_interval, bool) or not isinstance(flush_interval, int | float) or not (
                math.isfinite(flush_interval) and flush_interval > 0
            ):
                raise ConfigError(
                    f"flush_interval must be a positive number of seconds; got {flush_interval!r}.",
                    option="flush_interval",
                )
            self.flush_interval = float(flush_interval)
            self._wake.set()
        if max_buffer is not None:
            if isinstance(max_buffer, bool) or not isinstance(max_buffer, int) or max_buffer < 1:
                raise ConfigError(
                    f"max_buffer must be a positive integer (samples kept in memory); got {max_buffer!r}.",
                    option="max_buffer",
                )
            self.max_buffer = max_buffer
        with self._flush_lock, self._sink_lock:
            if home is not None or host is not None or store is not None:
                self._home = os.fspath(home) if home is not None else self._home
                self._host = host if host is not None else self._host
                self._sink = store
                self._own_sink = store is None
                self._registered = set()

    def _destination(self) -> Sink:
        with self._sink_lock:
            return self._open_destination()

    def _open_destination(self) -> Sink:
        if self._sink is None:
            from workbench.store import Store  # on first use: `import workbench` stays light

            self._sink = Store(self._home, host=self._host)
        return self._sink

    # -- recording ------------------------------------------------------------------

    def spec(self, name: str, kind: str) -> MetricSpec:
        """The catalogue entry for an application metric, validated on first use."""
        key = (name, kind)
        spec = self._specs.get(key)
        if spec is None:
            if not isinstance(name, str):
                raise DataError(f"A metric name must be a string such as 'etl.load'; got {name!r}.")
            full, unit, text = {
                "duration": (f"app.{name}.duration", "s", "Wall time of each call, recorded by workbench.timed()."),
                "gauge": (f"app.{name}", "", "A value recorded by workbench.gauge()."),
                "count": (
                    f"app.{name}.count",
                    "{count}",
                    "Number counted with workbench.count() during one flush window (about 1 s); "
                    "sum(value) over a time range gives the total counted in it.",
                ),
            }[kind]
            spec = global_catalog().register(MetricSpec(full, unit, "gauge", text, source="app"))
            self._specs[key] = spec
        return spec

    def record(self, metric: str, labels: str, value: float) -> None:
        ts = time.time()
        with self._lock:
            if len(self._rows) >= self.max_buffer:
                self._rows.popleft()  # the newest samples matter most to a monitor
                self.dropped += 1
            self._rows.append((ts, metric, labels, value))
        self._ensure_thread()

    def add(self, metric: str, labels: str, n: float) -> None:
        key = (metric, labels)
        with self._lock:
            if key in self._counts:
                self._counts[key] += n
            elif len(self._counts) >= self.max_buffer:
                self.dropped += 1
            else:
                self._counts[key] = n
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._warm_up()
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="workbench-appmetrics", daemon=True
                    )
                    self._thread.start()
                    # multiprocessing children (fork or spawn, process-pool workers) end
                    # with os._exit, which skips atexit; they run these finalizers instead.
                    import multiprocessing.util

                    multiprocessing.util.Finalize(None, self.close, exitpriority=10)

    def _warm_up(self) -> None:
        """Import what a flush needs, once per process, in the recording thread.

        Not in the flush thread: a module imported there while another thread forks
        can register fork hooks between fork's "before" and "after" calls, or leave
        the child a module lock held by a thread it does not have. And not at exit:
        imports that start threads (pyarrow's pandas bridge pulls in
        concurrent.futures.thread) are refused once interpreter shutdown has begun.
        """
        import concurrent.futures.thread  # noqa: F401

        try:
            self._destination()
            import pyarrow.pandas_compat  # noqa: F401 - imported lazily by the first append
        except Exception:  # noqa: BLE001 - reported by the first flush that needs it
            pass

    def _run(self) -> None:
        while not self._stopped:
            if self._wake.wait(self.flush_interval):
                self._wake.clear()  # configure() changed the interval, or close()
                continue
            self.flush()

    # -- flushing -------------------------------------------------------------------

    def flush(self) -> int:
        """Write everything buffered; returns the number of samples written."""
        with self._flush_lock:
            with self._lock:
                rows = list(self._rows)
                self._rows.clear()
                counts, self._counts = self._counts, {}
            now = time.time()
            rows.extend((now, m, labels, n) for (m, labels), n in counts.items())
            if not rows:
                return 0
            try:
                sink = self._destination()
                pending = [s for s in self._specs.values() if s.name not in self._registered]
                if pending:
                    sink.register_metrics(pending)
                    self._registered.update(s.name for s in pending)
                sink.append(self._frame(rows, sink))
            except Exception as exc:  # noqa: BLE001 - never break user code over telemetry
                self._keep_for_retry(rows)
                self.flush_errors += 1
                message = f"{type(exc).__name__}: {exc}"
                self._trouble.failed(message)
                self.last_error = message
                return 0
            self._trouble.ok()
            self.flushed += len(rows)
            return len(rows)

    def _keep_for_retry(self, rows: list[tuple[float, str, str, float]]) -> None:
        with self._lock:
            self._rows.extendleft(reversed(rows))
            while len(self._rows) > self.max_buffer:
                self._rows.popleft()
                self.dropped += 1

    def _frame(self, rows: list[tuple[float, str, str, float]], sink: Sink):
        import pandas as pd

        ts, metric, labels, value = zip(*rows, strict=True)
        host = self._host or getattr(sink, "host", None) or os.environ.get("WORKBENCH_HOST")
        if host is None:
            import socket

            host = socket.gethostname() or "localhost"
        return pd.DataFrame(
            {
                "ts": pd.to_datetime(pd.Series(ts, dtype="float64"), unit="s", utc=True),
                "host": host,
                "metric": pd.Series(metric, dtype="string"),
                "labels": pd.Series(labels, dtype="string"),
                "value": pd.Series(value, dtype="float64"),
            }
        )

    def close(self) -> None:
        """Stop the thread and flush what is left (called at interpreter exit)."""
        self._stopped = True
        self._wake.set()
        self.flush()

    def after_fork_in_child(self) -> None:
        # The parent's samples are the parent's to write; the child's thread is gone.
        self._reset_state()
        if self._own_sink:
            self._sink = None  # a Store's DuckDB connections must not cross a fork

    def stats(self) -> dict[str, Any]:
        with self._lock:
            buffered = len(self._rows) + len(self._counts)
        return {
            "buffered": buffered,
            "flushed": self.flushed,
            "dropped": self.dropped,
            "flush_errors": self.flush_errors,
            "last_error": self.last_error,
        }


_recorder = _Recorder()
atexit.register(_recorder.close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_recorder.after_fork_in_child)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)  # numpy scalars, Decimal
        except (TypeError, ValueError):
            raise DataError(f"{what} must be a number; got {type(value).__name__} {value!r}.") from None
    value = float(value)
    if not math.isfinite(value):
        raise DataError(f"{what} must be a finite number; got {value!r}.")
    return value


class timed:
    """Record how long something takes, as ``app.<name>.duration`` in seconds.

    Works as a decorator (on plain and ``async`` functions) and as a context
    manager; one instance may be entered from several threads at once. The
    duration is recorded whether the block returns or raises.
    """

    def __init__(self, name: str, **labels: Any) -> None:
        self.metric = _recorder.spec(name, "duration").name
        self.labels = format_labels(labels)
        self._local = threading.local()

    def __enter__(self) -> timed:
        starts = self._local.__dict__.setdefault("starts", [])
        starts.append(time.perf_counter())
        return self

    def __exit__(self, *exc_info: object) -> None:
        elapsed = time.perf_counter() - self._local.starts.pop()
        _recorder.record(self.metric, self.labels, elapsed)

    def __call__(self, func: F) -> F:
        metric, labels = self.metric, self.labels
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    _recorder.record(metric, labels, time.perf_counter() - start)

            return timed_async  # type: ignore[return-value]

        @functools.wraps(func)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                _recorder.record(metric, labels, time.perf_counter() - start)

        return timed_call  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"timed({self.metric!r}, labels={self.labels!r})"


def gauge(name: str, value: float, **labels: Any) -> None:
    """Record ``value`` now as ``app.<name>`` (e.g. a queue depth, a model's loss)."""
    metric = _recorder.spec(name, "gauge").name
    _recorder.record(metric, format_labels(labels), _number(value, f"The value of gauge {name!r}"))


def count(name: str, n: float = 1, **labels: Any) -> None:
    """Add ``n`` to ``app.<name>.count`` (summed per flush window; see the module docs)."""
    metric = _recorder.spec(name, "count").name
    _recorder.add(metric, format_labels(labels), _number(n, f"The increment of count {name!r}"))


def configure(
    *,
    home: str | os.PathLike[str] | None = None,
    host: str | None = None,
    flush_interval: float | None = None,
    max_buffer: int | None = None,
    store: Sink | None = None,
) -> None:
    """Change where and how often application metrics are written.

    ``home``/``host`` choose the store (default ``WORKBENCH_HOME`` or ``./data``, and
    this machine's name); ``store`` passes a ready :class:`~workbench.store.Store`
    (or any object with ``append(df)`` and ``register_metrics(specs)``). Samples
    still buffered go to the new destination at the next flush.
    """
    _recorder.configure(
        home=home, host=host, flush_interval=flush_interval, max_buffer=max_buffer, store=store
    )


def flush() -> int:
    """Write buffered samples now (e.g. at the end of a notebook cell); returns how many."""
    return _recorder.flush()


def stats() -> dict[str, Any]:
    """Counts of buffered, flushed and dropped samples, failed flushes and the last error."""
    return _recorder.stats()
