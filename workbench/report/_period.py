"""The report's time range: whole hours, the period before it, and the chart step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.errors import DataError

__all__ = ["Period", "resolve_period"]


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, whole hours, and the period of the same length before it."""

    start: pd.Timestamp
    end: pd.Timestamp
    now: pd.Timestamp | None = None  # set when the period runs up to now (its last hour is still going)

    @property
    def length(self) -> pd.Timedelta:
        return self.end - self.start

    @property
    def prev_start(self) -> pd.Timestamp:
        return self.start - self.length

    @property
    def step(self) -> str:
        """Chart resolution: 5-minute buckets up to two days, hours beyond."""
        return "5min" if self.length <= pd.Timedelta("2D") else "1h"

    @property
    def shown_end(self) -> pd.Timestamp:
        """Where charts of the period end: now for a period still going, else its end."""
        return self.now if self.now is not None and self.now < self.end else self.end

    def label(self) -> str:
        fmt = "%Y-%m-%d %H:%M"
        return f"{self.start.strftime(fmt)} – {self.shown_end.strftime(fmt)} UTC"


def _when(value: Any, now: pd.Timestamp, what: str) -> pd.Timestamp:
    from workbench.store._timeutil import resolve_time

    try:
        t = resolve_time(value, now=now, what=what)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what} must be a duration ago ('1d', '12h') or a UTC time ('2026-03-01T07:00'); "
                        f"got {value!r} ({exc}).", parameter=what) from None
    return pd.Timestamp(t)


def resolve_period(since: Any = "1d", until: Any = None, *, now: Any = None) -> Period:
    """The period a report covers, in whole hours: ``until`` and ``since`` rounded down to the hour.

    Without ``until`` the period runs to the end of the current hour, so it
    holds everything recorded up to now (no sample is newer than now). Whole
    hours let every figure over the period come exactly from the hourly
    rollups (the mean of the hour partials equals the mean of the raw samples).
    """
    now = pd.Timestamp.now("UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    open_end = until in (None, "", "now")
    end = now.ceil("1h") if open_end else _when(until, now, "until").floor("1h")
    start = _when(since, end, "since").floor("1h")
    if start >= end:
        raise DataError(f"The report period is empty: since={since!r} is not before until={until!r} "
                        f"(after rounding to whole hours: {start} .. {end}). Give a longer since, e.g. '1d'.",
                        parameter="since")
    return Period(start, end, now if open_end else None)
