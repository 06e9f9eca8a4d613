"""Retry and circuit breaking: one of each, for the executor and the notification channels.

:class:`Retry` says whether and when to try a failed call again (exponential
back-off with full jitter); :class:`CircuitBreaker` says whether to call at
all, per group of calls (a task tag, a notification channel). Both are pure
policies with the time passed in. The executor applies them by putting a
task back in its queue with a not-before time; a notification channel, which
may block its own worker thread, with :meth:`Retry.call`.

This module imports nothing heavy: the agent's notification channels use it
and must not load the executor (NumPy, multiprocessing).
"""

from __future__ import annotations

import errno
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from workbench._params import Integral, Interval, Real, check_params
from workbench.errors import WorkbenchError

__all__ = ["Retry", "CircuitBreaker", "CircuitOpenError", "classify", "register_classifier"]

T = TypeVar("T")

#: Exception types that usually succeed when tried again later.
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,  # includes TaskTimeoutError and socket.timeout
    BlockingIOError,
    InterruptedError,
)
TRANSIENT_ERRNOS = frozenset(
    {errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNREFUSED, errno.EINTR}
)

_CLASSIFIERS: list[Callable[[BaseException], str | None]] = []


class CircuitOpenError(WorkbenchError, RuntimeError):
    """A circuit breaker is open: the call (a task, a notification) was not made."""


def register_classifier(fn: Callable[[BaseException], str | None]) -> None:
    """Let a part classify its own errors: ``fn(exc)`` returns ``"transient"``,
    ``"permanent"`` or ``None`` (not mine). The executor registers its dead-worker and
    command errors; the registry is here so that this module needs no import of theirs."""
    if fn not in _CLASSIFIERS:
        _CLASSIFIERS.append(fn)


def classify(exc: BaseException) -> str:
    """Return ``"transient"`` or ``"permanent"`` for an error, to decide whether to retry.

    An exception may decide for itself with a boolean ``transient`` attribute; then the
    registered classifiers are asked; otherwise connection problems, timeouts and
    EAGAIN-style OS errors are transient, and everything else (bad arguments, bugs) is
    permanent: retrying those only wastes time.
    """
    flag = getattr(exc, "transient", None)
    if isinstance(flag, bool):
        return "transient" if flag else "permanent"
    for fn in _CLASSIFIERS:
        verdict = fn(exc)
        if verdict is not None:
            return verdict
    if isinstance(exc, TRANSIENT_TYPES):
        return "transient"
    if isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS:
        return "transient"
    return "permanent"


@dataclass(frozen=True)
class Retry:
    """How to retry a failed call.

    ``attempts`` counts every try including the first. The delay before try ``n + 1`` is
    ``min(max_backoff, backoff * 2 ** (n - 1))``, with "full jitter" (a uniform draw in
    ``[0, delay]``) when ``jitter`` is true, so that many calls failing together do not
    retry in lock-step. ``on`` lists the exception types to retry; ``None`` retries the
    errors :func:`classify` calls transient. The executor puts a retried task back in its
    queue with a not-before time (no worker sleeps through the back-off); a caller that may
    block uses :meth:`call`.
    """

    attempts: int = 3
    backoff: float = 0.1
    max_backoff: float = 30.0
    jitter: bool = True
    on: tuple[type[BaseException], ...] | None = None

    _parameter_constraints = {
        "attempts": [Interval(Integral, 1, None, closed="left", doc="it counts the first try")],
        "backoff": [Interval(Real, 0, None, closed="both", doc="in seconds")],
        "max_backoff": [Interval(Real, 0, None, closed="both", doc="in seconds")],
    }

    def __post_init__(self) -> None:
        check_params(self)
        if self.on is not None and not isinstance(self.on, tuple):
            object.__setattr__(self, "on", tuple(self.on) if not isinstance(self.on, type) else (self.on,))

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """True when try number ``attempt`` failed with ``exc`` and another try is allowed."""
        if attempt >= self.attempts:
            return False
        if self.on is not None:
            return isinstance(exc, self.on)
        return classify(exc) == "transient"

    def delay(self, attempt: int, rng: random.Random | Any = random) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        base = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return rng.uniform(0.0, base) if self.jitter else base

    def call(
        self,
        fn: Callable[[], T],
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | Any = random,
        on_retry: Callable[[BaseException, int, float], None] | None = None,
    ) -> T:
        """``fn()``, tried again after :meth:`delay` while :meth:`should_retry` allows; the
        last error is raised. ``on_retry(exc, attempt, delay)`` is told of each retry (to log it)."""
        attempt = 1
        while True:
            try:
                return fn()
            except Exception as exc:
                if not self.should_retry(exc, attempt):
                    raise
                wait = self.delay(attempt, rng)
                if on_retry is not None:
                    on_retry(exc, attempt, wait)
            sleep(wait)
            attempt += 1


@dataclass
class _Group:
    results: deque = field(default_factory=lambda: deque(maxlen=20))
    consecutive: int = 0
    state: str = "closed"
    opened_at: float = 0.0
    trial_running: bool = False


class CircuitBreaker:
    """Circuit breakers per group (a task tag or name, a notification channel), as a pure policy.

    closed --(``failures`` in a row, or a failure rate >= ``failure_rate`` over the last
    ``window`` results)--> open --(``cooldown`` seconds)--> half-open: one trial call is
    let through; its success closes the circuit, its failure opens it again. While open,
    calls of the group are refused without being made, which protects a failing
    dependency and saves the caller's time.

    ``now`` is passed in (any monotonic clock). Not thread-safe: the caller locks.
    """

    def __init__(self, failures: int = 5, failure_rate: float = 0.5, window: int = 20, cooldown: float = 30.0) -> None:
        self.failures = failures
        self.failure_rate = failure_rate
        self.window = window
        self.cooldown = cooldown
        self._groups: dict[str, _Group] = {}

    def _group(self, name: str) -> _Group:
        g = self._groups.get(name)
        if g is None:
            g = self._groups[name] = _Group(results=deque(maxlen=self.window))
        return g

    def state(self, name: str, now: float) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` for group ``name`` at ``now``."""
        g = self._groups.get(name)
        if g is None:
            return "closed"
        if g.state == "open" and now - g.opened_at >= self.cooldown:
            g.state, g.trial_running = "half_open", False
        return g.state

    def allow(self, groups: list[str], now: float) -> str | None:
        """Return ``None`` if a call of these groups may go ahead, else the name of an open group."""
        for name in groups:
            state = self.state(name, now)
            if state == "open" or (state == "half_open" and self._groups[name].trial_running):
                return name
        for name in groups:
            if self.state(name, now) == "half_open":
                self._groups[name].trial_running = True
        return None

    def record(self, groups: list[str], ok: bool, now: float) -> None:
        """Count the result of a call that :meth:`allow` let through."""
        for name in groups:
            g = self._group(name)
            g.results.append(ok)
            if ok:
                g.consecutive = 0
                if g.state == "half_open":
                    g.state, g.trial_running = "closed", False
                    g.results.clear()
                continue
            g.consecutive += 1
            rate = g.results.count(False) / len(g.results)
            if g.state == "half_open" or g.consecutive >= self.failures or (
                len(g.results) >= self.window and rate >= self.failure_rate
            ):
                g.state, g.opened_at, g.trial_running = "open", now, False

    def snapshot(self, now: float) -> dict[str, str]:
        return {name: self.state(name, now) for name in self._groups}
