"""A repeated failure logged without flooding the log: the package's one log-throttle rule.

A failure that may repeat every second (a full disk, a broken collector, an
alert rule that raises, a channel's full queue) is logged when it starts or
changes, then once every ``every`` seconds with the count, and once more when
it stops ("recovered"). ``first=N`` logs each of the first ``N`` at once (where
each one is a loss worth seeing, such as a dropped notification).

A failure that flaps (fails, recovers, fails again within ``every``) is
logged once per ``every`` too: a new run of the same kind of error is quiet
until ``every`` has passed since the last line, and a run that logged
nothing recovers quietly.
"""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["RepeatedFailure"]


class RepeatedFailure:
    """One kind of failure that may repeat every second: logged when it starts or changes, then once every
    ``every`` seconds with the count, and once more when it stops ("recovered").

    ``failed(error)`` counts one failure; ``kind`` (default: ``error`` itself)
    is what counts as a change, for errors whose text varies. ``ok()`` ends a
    run of failures. ``status()`` is the run for a status file, or ``None``.
    """

    def __init__(self, what: str, every: float = 60.0, clock=time.monotonic, *,
                 logger: logging.Logger | None = None, level: int = logging.ERROR, first: int = 1,
                 unit: str = "failures", recovery: bool = True) -> None:
        self.what, self.every, self.clock = what, every, clock
        self.log = logger or logging.getLogger("workbench")
        self.level, self.first, self.unit, self.recovery = level, first, unit, recovery
        self.failures = 0  # in this run of failures
        self.since: float | None = None  # wall time of the first failure of this run of failures
        self.error = ""
        self._first = 0.0
        self._next_log = 0.0
        self._kind: str | None = None  # the kind of the last line logged
        self._logged = 0  # lines logged in this run
        self._total = 0  # failures ever, for ``first``

    def failed(self, error: str, detail: str = "", *, exc_info: bool = False, kind: str | None = None) -> None:
        """Count one failure and log it if the rule says so (``exc_info``: a traceback on a run's first line)."""
        now = self.clock()
        if not self.failures:
            self.since, self._first = time.time(), now
        self.failures += 1
        self._total += 1
        kind = error if kind is None else kind
        if self._total <= self.first or kind != self._kind or now >= self._next_log:
            more = (f" ({self.failures} {self.unit} in {now - self._first:.0f} s; while it repeats it is logged "
                    f"every {self.every:g} s)") if self.failures > 1 else ""
            self.log.log(self.level, "%s: %s%s%s", self.what, error, detail, more,
                         exc_info=exc_info and not self._logged)
            self._next_log, self._kind = now + self.every, kind
            self._logged += 1
        self.error = error

    def ok(self, detail: str = "") -> None:
        """The failure stopped: say so (if this run logged anything) and start afresh."""
        if self.failures:
            if self.recovery and self._logged:
                self.log.warning("%s: recovered after %d failure(s) over %.0f s (last error: %s)%s", self.what,
                                 self.failures, self.clock() - self._first, self.error, detail)
            self.failures, self.since, self.error, self._logged = 0, None, "", 0

    def status(self) -> dict[str, Any] | None:
        return {"error": self.error, "since": self.since, "failures": self.failures} if self.failures else None
