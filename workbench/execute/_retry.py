"""Retry policy, retry budget and the transient/permanent classification of errors."""

from __future__ import annotations

import errno
import random
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
    """Caps retries per executor at ``min_retries + ratio * submitted``.

    Without a budget a systematic failure (a dead database) multiplies the load by the
    number of attempts exactly when the system is least able to take it.
    """

    ratio: float = 0.2
    min_retries: int = 10
    used: int = 0

    def allow(self, submitted: int) -> bool:
        if self.used < self.min_retries + self.ratio * submitted:
            self.used += 1
            return True
        return False


