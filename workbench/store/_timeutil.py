"""Time parsing shared by the store, the CLI and the configuration.

Everything inside the store is UTC, as integer microseconds since the epoch
where speed matters (file names, manifests) and as tz-aware pandas
timestamps at the API.

Durations are read by :func:`workbench.durations.parse_duration`, the one
grammar, re-exported here for the store's callers.

pandas is imported only by the functions that return pandas timestamps:
``parse_duration`` and ``now_us`` are used by the agent and the compactor,
which must stay free of pandas (tens of MiB resident, ~0.2 s CPU to import).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from workbench.durations import parse_duration
from workbench.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["parse_duration", "to_utc", "now_us", "us_to_ts", "ts_to_us", "resolve_time"]

def now_us() -> int:
    return time.time_ns() // 1000


def to_utc(value: object, *, what: str = "time") -> pd.Timestamp:
    """A tz-aware UTC timestamp from a datetime, string, number (epoch s) or Timestamp.

    Naive values are taken to be UTC, as everything in the store is.
    """
    import pandas as pd

    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ts = pd.Timestamp(value, unit="s")
        else:
            ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"Cannot read {what} {value!r} as a timestamp: {exc}", value=value) from None
    if ts is pd.NaT:
        raise DataError(f"{what} is NaT (not a time).", value=value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def resolve_time(value: object, *, now: pd.Timestamp | None = None, what: str = "time") -> pd.Timestamp | None:
    """Like :func:`to_utc` but also accepts ``"-1h"``/``"1h"``/timedelta meaning *that long ago*."""
    if value is None:
        return None
    import pandas as pd

    if isinstance(value, (timedelta, pd.Timedelta)):
        return (now or pd.Timestamp.now("UTC")) - pd.Timedelta(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "now":
            return now or pd.Timestamp.now("UTC")
        rel = text[1:] if text.startswith("-") else text
        seconds = _relative(rel, what)
        if seconds is not None:
            return (now or pd.Timestamp.now("UTC")) - pd.Timedelta(seconds=seconds)
    return to_utc(value, what=what)


def _relative(text: str, what: str) -> float | None:
    """Seconds when ``text`` is a duration with a unit ("1h", "1h30min"), else None
    (a bare number is an epoch time, anything else is left to the timestamp parser)."""
    try:
        float(text)
        return None
    except ValueError:
        pass
    try:
        return parse_duration(text, what=what)
    except DataError:
        return None


def us_to_ts(us: int) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(us, unit="us", tz="UTC")


def ts_to_us(ts: datetime | pd.Timestamp) -> int:
    return int(to_utc(ts).value // 1000)
