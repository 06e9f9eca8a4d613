"""Retry policy, retry budget and the transient/permanent classification of errors."""

from __future__ import annotations

import errno
import math
import random
import time
from collections import deque
from dataclasses import dataclass

from workbench.errors import ConfigError
from workbench.execute._errors import CommandError, WorkerDiedError

__all__ = ["Retry", "RetryBudget", "classify"]

#: Exception types that usually succeed when tried again later.
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,  # includes TaskTimeoutError and socket.timeout
    WorkerDiedError,  # a killed worker (OOM killer, signal) may well survive a second try
    BlockingIOError,
    InterruptedError,
)
TRANSIENT_ERRNOS = frozenset(
    {errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNREFUSED, errno.EINTR}
)
#: Exit codes of commands that mean "try again" (sysexits.h EX_TEMPFAIL, SIGKILL from OOM killer).
TRANSIENT_EXIT_CODES = frozenset({75, -9})


def classify(exc: BaseException) -> str:
    """Return ``"transient"`` or ``"permanent"`` for an error, to decide whether to retry.

    An exception may decide for itself with a boolean ``transient`` attribute; otherwise
    connection problems, timeouts, dead workers and EAGAIN-style OS errors are transient,
    and everything else (bad arguments, bugs) is permanent: retrying those only wastes time.
    """
    flag = getattr(exc, "transient", None)
    if isinstance(flag, bool):
        return "transient" if flag else "permanent"
    if isinstance(exc, CommandError):
        return "transient" if exc.fields.get("returncode") in TRANSIENT_EXIT_CODES else "permanent"
    if isinstance(exc, TRANSIENT_TYPES):
        return "transient"
    if isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS:
        return "transient"
    return "permanent"


@dataclass(frozen=True)
class Retry:
    """How to retry a failed task.

    ``attempts`` counts every try including the first. The delay before try ``n + 1`` is
    ``min(max_backoff, backoff * 2 ** (n - 1))``, with "full jitter" (a uniform draw in
    ``[0, delay]``) when ``jitter`` is true, so that many tasks failing together do not
    retry in lock-step. ``on`` lists the exception types to retry; ``None`` retries the
    errors :func:`classify` calls transient. The executor puts a retried task back in its
    queue with a not-before time; no worker sleeps through the back-off.
    """

    attempts: int = 3
    backoff: float = 0.1
    max_backoff: float = 30.0
    jitter: bool = True
    on: tuple[type[BaseException], ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigError(
                f"Retry(attempts=...) must be an integer >= 1 (it counts the first try); got {self.attempts!r}.",
                attempts=self.attempts,
            )
        if self.backoff < 0 or self.max_backoff < 0:
            raise ConfigError(
                f"Retry backoff and max_backoff must be >= 0 seconds; got backoff={self.backoff!r}, "
                f"max_backoff={self.max_backoff!r}.",
                backoff=self.backoff,
                max_backoff=self.max_backoff,
            )
        if self.on is not None and not isinstance(self.on, tuple):
            object.__setattr__(self, "on", tuple(self.on) if not isinstance(self.on, type) else (self.on,))

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """True when try number ``attempt`` failed with ``exc`` and another try is allowed."""
        if attempt >= self.attempts:
            return False
        if self.on is not None:
            return isinstance(exc, self.on)
        return classify(exc) == "transient"

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        base = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return rng.uniform(0.0, base) if self.jitter else base


@dataclass
class RetryBudget:
    """Caps how fast an executor retries: a token bucket that refills.

    The bucket holds ``min_retries + ratio * (tasks submitted in the last window)``
    retries and refills at that many per ``window`` seconds (Finagle's retry budget,
    with ``min_retries`` as its reserve): a burst of failures may retry at once up to
    the bucket's size, after that retries start at the refill rate. Without a budget a
    systematic failure (a dead database) multiplies the load by the number of attempts
    exactly when the system is least able to take it.

    A retry the bucket has no token for now is **delayed** until it has one, never
    dropped: the work was asked to be retried. Only when that would be more than
    ``max_delay`` seconds away (``None``: no bound) or the budget allows no retry at all
    is the try **refused** and the task fails. Either way the executor says so in the
    task's record (``notes``) and in its exception (``add_note``).

    :meth:`grant` is a pure policy with the clock passed in (testable without threads);
    it is the generic cell rate algorithm, O(1) per retry.
    """

    ratio: float = 0.2
    min_retries: int = 10
    window: float = 1.0
    max_delay: float | None = None
    used: int = 0  # retries granted so far
    delayed: int = 0  # of those, how many the budget pushed later
    refused: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.window, (int, float)) and self.window > 0 and math.isfinite(self.window)):
            raise ConfigError(f"RetryBudget(window=...) must be a positive number of seconds; got {self.window!r}.",
                              window=self.window)
        if self.ratio < 0 or self.min_retries < 0:
            raise ConfigError(f"RetryBudget ratio and min_retries must be >= 0; got ratio={self.ratio!r}, "
                              f"min_retries={self.min_retries!r}.", ratio=self.ratio, min_retries=self.min_retries)
        if self.max_delay is not None and not self.max_delay >= 0:
            raise ConfigError(f"RetryBudget(max_delay=...) must be None or >= 0 seconds; got {self.max_delay!r}.",
                              max_delay=self.max_delay)
        self._tat = -math.inf  # the bucket's "theoretical arrival time": empty again at this time
        self._marks: deque[tuple[float, int]] = deque()  # (time, submitted so far), for "submitted in window"

    def describe(self) -> str:
        return f"{self.min_retries} + {self.ratio:g} x submitted retries per {self.window:g} s"

    def mark(self, now: float, submitted: int) -> None:
        """Note how many tasks were submitted by ``now`` (the executor calls it a few times a second)."""
        marks = self._marks
        if not marks or now - marks[-1][0] >= self.window / 8:
            marks.append((now, submitted))
        while len(marks) > 1 and marks[1][0] <= now - self.window:
            marks.popleft()

    def capacity(self, now: float, submitted: int) -> int:
        """The bucket's size (and refill per window) at ``now``."""
        self.mark(now, submitted)
        base = self._marks[0][1] if self._marks[0][0] <= now - self.window else 0
        return int(self.min_retries + self.ratio * max(0, submitted - base))

    def _slot(self, now: float, submitted: int, at: float) -> tuple[float, float] | None:
        cap = self.capacity(now, submitted)
        if cap < 1:
            return None
        interval = self.window / cap
        return max(at, self._tat - (self.window - interval)), interval

    def grant(self, now: float, submitted: int, at: float | None = None) -> float | None:
        """Take one retry wanted at ``at`` (default ``now``): return when it may start
        (``at``, or later when the bucket is empty), or ``None`` when it is refused."""
        at = now if at is None else max(now, at)
        slot = self._slot(now, submitted, at)
        if slot is None or (self.max_delay is not None and slot[0] - at > self.max_delay):
            self.refused += 1
            return None
        t, interval = slot
        self._tat = max(self._tat, t) + interval
        self.used += 1
        if t > at:
            self.delayed += 1
        return t

    def allow(self, submitted: int, now: float | None = None) -> bool:
        """Take a retry if one may start right now (no delay); ``False`` leaves the budget as it was."""
        now = time.monotonic() if now is None else now
        slot = self._slot(now, submitted, now)
        if slot is None or slot[0] > now:
            return False
        self._tat = max(self._tat, now) + slot[1]
        self.used += 1
        return True
