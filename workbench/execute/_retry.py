"""The executor's retry budget, and its errors' place in the one transient/permanent classification.

:class:`Retry` and :func:`classify` live in :mod:`workbench._resilience`, shared with
the notification channels; they are re-exported here.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from workbench._params import Integral, Interval, Real, check_params
from workbench._resilience import Retry, classify, register_classifier
from workbench.execute._errors import CommandError, WorkerDiedError

__all__ = ["Retry", "RetryBudget", "classify"]

#: Exit codes of commands that mean "try again" (sysexits.h EX_TEMPFAIL, SIGKILL from OOM killer).
TRANSIENT_EXIT_CODES = frozenset({75, -9})


def _classify_executor_errors(exc: BaseException) -> str | None:
    """A command is worth retrying after a transient exit code; a dead worker (OOM killer,
    a signal) may well survive a second try."""
    if isinstance(exc, CommandError):
        return "transient" if exc.fields.get("returncode") in TRANSIENT_EXIT_CODES else "permanent"
    if isinstance(exc, WorkerDiedError):
        return "transient"
    return None


register_classifier(_classify_executor_errors)


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

    _parameter_constraints = {
        "ratio": [Interval(Real, 0, None, closed="both")],
        "min_retries": [Interval(Integral, 0, None, closed="left")],
        "window": [Interval(Real, 0, None, closed="neither", doc="in seconds")],
        "max_delay": [None, Interval(Real, 0, None, closed="both", doc="in seconds")],
    }

    def __post_init__(self) -> None:
        check_params(self)
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
