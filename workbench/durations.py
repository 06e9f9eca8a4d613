"""The one duration grammar of Workbench.

Every length of time a user writes goes through :func:`parse_duration`: the
agent's interval and the executor's timeouts in ``workbench.toml``, an alert
rule's ``for``, a job's ``timeout``, a forecast's ``horizon``, and the
command line's ``--interval``, ``--for`` or ``--max-age``. So ``"1h30min"``
means the same thing everywhere, and a mistake gets the same message.

The grammar:

- a number of seconds: ``90``, ``1.5``, ``"90"``, ``"1e3"``;
- one or more terms *number unit*, summed, with or without spaces:
  ``"30s"``, ``"5min"``, ``"1.5h"``, ``"1h30min"``, ``"1d 12h"``, ``"2 days"``;
- a :class:`datetime.timedelta` (``pandas.Timedelta`` is one).

Units, in any letter case: ``us`` (``µs``), ``ms``, ``s`` (``sec``, ``second``),
``m`` or ``min`` (``minute``), ``h`` (``hr``, ``hour``), ``d`` (``day``),
``w`` (``week``), each also in the plural. ``M`` alone is refused as
ambiguous (minutes, or months as in pandas offsets), and months and years
because they have no fixed length. A duration is finite and not negative.

This module imports no pandas (the agent parses its configuration and must
stay small); :func:`to_timedelta` imports it when called.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import TYPE_CHECKING

from workbench.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["parse_duration", "format_duration", "to_timedelta", "EXAMPLES"]

#: What a message shows as the right form.
EXAMPLES = "'30s', '5min', '1h30min' or '7d'"

_UNIT_SECONDS = {
    "us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0,
}
_ALIASES = {
    "us": ("us", "µs", "usec", "usecs", "microsecond", "microseconds"),
    "ms": ("ms", "msec", "msecs", "millisecond", "milliseconds"),
    "s": ("s", "sec", "secs", "second", "seconds"),
    "min": ("m", "min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
    "w": ("w", "wk", "wks", "week", "weeks"),
}
_UNITS = {alias: unit for unit, aliases in _ALIASES.items() for alias in aliases}
_UNIT_LIST = "us, ms, s, min, h, d or w"
_TERM = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([^\d\s.]+)?\s*")
_NOT_FIXED = ("mo", "mon", "mons", "month", "months", "y", "yr", "yrs", "year", "years")


def _fail(value: object, what: str, reason: str) -> DataError:
    return DataError(
        f"{what} must be a number of seconds or a string such as {EXAMPLES}; got {value!r} ({reason}).",
        value=value, what=what, reason=reason,
    )


def _unit(word: str, value: object, what: str) -> float:
    if word == "M":
        raise _fail(value, what, "'M' is ambiguous; write 'min' for minutes")
    unit = _UNITS.get(word.lower())
    if unit is None:
        if word.lower() in _NOT_FIXED:
            raise _fail(value, what, f"{word!r}: months and years have no fixed length; write days, e.g. '30d'")
        raise _fail(value, what, f"{word!r} is not a unit; use {_UNIT_LIST}")
    return _UNIT_SECONDS[unit]


def _parse_text(text: str, value: object, what: str) -> float:
    stripped = text.strip()
    if not stripped:
        raise _fail(value, what, "it is empty")
    try:
        return float(stripped)  # a bare number is seconds ("90", "1e3"; "-5", "nan" refused by the caller)
    except ValueError:
        pass
    sign = -1.0 if stripped[0] == "-" else 1.0  # refused by the caller, with the message for a negative number
    total, pos = 0.0, 1 if stripped[0] in "+-" else 0
    if pos == len(stripped):
        raise _fail(value, what, "a sign without a number")
    while pos < len(stripped):
        m = _TERM.match(stripped, pos)
        if m is None or m.end() == pos:
            raise _fail(value, what, f"cannot read {stripped[pos:]!r}; write a number followed by a unit")
        if m.group(2) is None:
            raise _fail(value, what, f"the number {m.group(1)} has no unit; use {_UNIT_LIST}")
        total += float(m.group(1)) * _unit(m.group(2), value, what)
        pos = m.end()
    return sign * total


def parse_duration(value: object, *, what: str = "duration", positive: bool = False) -> float:
    """Seconds, as a float, from a duration in the grammar above.

    ``what`` names the value in the message of the :class:`~workbench.errors.DataError`
    raised for anything else (its fields: ``value``, ``what``, ``reason``). Zero is
    allowed unless ``positive``.

    >>> parse_duration("1h30min"), parse_duration(90), parse_duration("2 days")
    (5400.0, 90.0, 172800.0)
    """
    if isinstance(value, bool) or value is None:
        raise _fail(value, what, f"{type(value).__name__} is not a duration")
    if isinstance(value, timedelta):  # pd.Timedelta is a subclass
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value, value, what)
    elif hasattr(value, "__float__") and hasattr(value, "dtype"):  # a NumPy number
        seconds = float(value)
    else:
        raise _fail(value, what, f"a {type(value).__name__} is not a duration")
    finite = math.isfinite(seconds)
    if not finite or seconds < 0 or (positive and seconds == 0):
        reason = "not finite" if not finite else "negative" if seconds < 0 else "zero"
        raise DataError(
            f"{what} must be {'positive' if positive else 'zero or more'}{' and finite' if not finite else ''}; "
            f"got {value!r}. Give seconds or a duration such as {EXAMPLES}.",
            value=value, what=what, reason=reason,
        )
    return seconds


def to_timedelta(value: object, *, what: str = "duration", positive: bool = False) -> pd.Timedelta:
    """:func:`parse_duration` as a ``pandas.Timedelta`` (a timedelta given keeps its nanoseconds)."""
    import pandas as pd

    seconds = parse_duration(value, what=what, positive=positive)
    if isinstance(value, timedelta):
        return pd.Timedelta(value)
    return pd.Timedelta(round(seconds * 1e6), unit="us")


def format_duration(seconds: float | timedelta) -> str:
    """The shortest text :func:`parse_duration` reads back: ``5400`` -> ``"1h30min"``.

    Days, hours, minutes and seconds (``"2d"``, ``"1min30s"``, ``"1.5s"``); below a
    second, milliseconds or microseconds (``"250ms"``).
    """
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    seconds = parse_duration(seconds, what="format_duration(seconds)")
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1e3
        return f"{ms:.10g}ms" if ms >= 1 else f"{seconds * 1e6:.10g}us"
    parts = []
    rest = round(seconds, 6)
    for unit in ("d", "h", "min"):
        size = _UNIT_SECONDS[unit]
        n = int(rest // size)
        if n:
            parts.append(f"{n}{unit}")
            rest = round(rest - n * size, 6)
    if rest:
        parts.append(f"{rest:.10g}s")
    return "".join(parts)
