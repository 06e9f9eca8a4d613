"""A repeated failure logged without flooding the log.

A failure that may repeat every second (a full disk, a broken collector) is
logged when it starts or changes, then once every ``every`` seconds with the
count, and once more when it stops ("recovered").
"""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["RepeatedFailure"]


class RepeatedFailure:
    """One kind of failure that may repeat every second (a full disk): logged when it starts or changes, then
    once every ``every`` seconds with the count, and once more when it stops ("recovered")."""

    def __init__(self, what: str, every: float = 60.0, clock=time.monotonic, *,
                 logger: logging.Logger | None = None) -> None:
        self.what, self.every, self.clock = what, every, clock
        self.log = logger or logging.getLogger("workbench")
        self.failures = 0
        self.since: float | None = None  # wall time of the first failure of this run of failures
        self.error = ""
        self._first = 0.0
        self._next_log = 0.0

    def failed(self, error: str, detail: str = "", *, exc_info: bool = False) -> None:
        now = self.clock()
        if not self.failures:
            self.since, self._first = time.time(), now
        self.failures += 1
        if error != self.error or now >= self._next_log:
            more = (f" ({self.failures} failures in {now - self._first:.0f} s; while it repeats it is logged "
                    f"every {self.every:g} s)") if self.failures > 1 else ""
            self.log.error("%s: %s%s%s", self.what, error, detail, more, exc_info=exc_info and self.failures == 1)
            self._next_log = now + self.every
        self.error = error

    def ok(self, detail: str = "") -> None:
        if self.failures:
            self.log.warning("%s: recovered after %d failure(s) over %.0f s (last error: %s)%s", self.what,
                             self.failures, self.clock() - self._first, self.error, detail)
            self.failures, self.since, self.error = 0, None, ""

    def status(self) -> dict[str, Any] | None:
        return {"error": self.error, "since": self.since, "failures": self.failures} if self.failures else None
