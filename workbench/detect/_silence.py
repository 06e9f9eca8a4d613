"""Silences: mute notifications for matching alerts, once or on a recurring window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.detect._errors import RuleError
from workbench.detect._rules import Matcher

__all__ = ["Silence", "silence_from_dict"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Silence:
    """Mute alerts whose rule/host/labels match, between ``start`` and ``end``.

    A recurring silence (``daily`` window such as ``02:00``-``03:00`` UTC, on
    chosen ``days``) covers nightly maintenance; a window that crosses
    midnight (``23:00``-``01:00``) is allowed. Silenced alerts still change
    state and are recorded; only notifications are held back.
    """

    matchers: Matcher = field(default_factory=Matcher)
    rule: str | None = None
    host: str | None = None
    start: float | None = None
    end: float | None = None
    daily: tuple[dt.time, dt.time] | None = None
    days: tuple[int, ...] = tuple(range(7))
    comment: str = ""
    created_by: str = ""

    def active(self, now: float) -> bool:
        if self.start is not None and now < self.start:
            return False
        if self.end is not None and now >= self.end:
            return False
        if self.daily is None:
            return True
        t = dt.datetime.fromtimestamp(now, tz=dt.UTC)
        begin, stop = self.daily
        clock = t.time().replace(tzinfo=None)
        if begin <= stop:
            return t.weekday() in self.days and begin <= clock < stop
        # crosses midnight: the part after midnight belongs to the previous day's window
        if clock >= begin:
            return t.weekday() in self.days
        return clock < stop and (t.weekday() - 1) % 7 in self.days

    def matches(self, rule: str, host: str, labels: Mapping[str, str], now: float) -> bool:
        return (
            self.active(now)
            and (self.rule is None or self.rule == rule)
            and (self.host is None or self.host == host)
            and self.matchers.matches(labels)
        )


def _when(key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        ts = value
    else:
        try:  # ISO 8601 without pandas (the agent parses silences and must not load it)
            ts = dt.datetime.fromisoformat(str(value))
        except ValueError:
            try:
                import pandas as pd

                ts = pd.Timestamp(value).to_pydatetime()
            except (ValueError, TypeError):
                raise RuleError(
                    f"Silence: {key!r} must be a timestamp like '2026-01-01T02:00Z'; got {value!r}."
                ) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.timestamp()


def _clock(value: Any) -> dt.time:
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise RuleError(f"Silence: daily times must look like '02:00'; got {value!r}.") from None


def silence_from_dict(spec: Mapping[str, Any]) -> Silence:
    """Build a :class:`Silence` from ``{"rule":..., "host":..., "labels": {...}, "start":..., "end":..., "daily": "02:00-03:00", "days": ["mon", ...]}``."""
    allowed = {"rule", "host", "labels", "start", "end", "daily", "days", "comment", "created_by"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise RuleError(f"Silence: unknown key(s) {unknown}; allowed keys are {sorted(allowed)}.")
    daily = None
    if spec.get("daily"):
        parts = str(spec["daily"]).split("-")
        if len(parts) != 2:
            raise RuleError(f"Silence: 'daily' must look like '02:00-03:00'; got {spec['daily']!r}.")
        daily = (_clock(parts[0].strip()), _clock(parts[1].strip()))
    days = tuple(range(7))
    if "days" in spec:
        try:
            days = tuple(_DAYS.index(str(d).lower()[:3]) for d in spec["days"])
        except ValueError:
            raise RuleError(f"Silence: 'days' must name weekdays {list(_DAYS)}; got {spec['days']!r}.") from None
    start, end = _when("start", spec.get("start")), _when("end", spec.get("end"))
    if start is not None and end is not None and end <= start:
        raise RuleError(f"Silence: 'end' ({spec['end']}) must be after 'start' ({spec['start']}).")
    if daily is None and start is None and end is None:
        raise RuleError("Silence: give 'start'/'end' or a recurring 'daily' window, else it would mute forever.")
    return Silence(
        matchers=Matcher.from_mapping(spec.get("labels"), "Silence"),
        rule=spec.get("rule"),
        host=spec.get("host"),
        start=start,
        end=end,
        daily=daily,
        days=days,
        comment=str(spec.get("comment", "")),
        created_by=str(spec.get("created_by", "")),
    )
