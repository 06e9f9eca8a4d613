"""Per-second rates from cumulative counters, with the state kept between ticks.

psutil hands out cumulative counters (bytes read since boot...). A rate needs the
previous reading, so the first reading of a key yields no rate — the same reason
``psutil.cpu_percent(interval=None)`` returns a meaningless 0.0 on its first call;
we emit nothing instead of a false zero. A counter that went backwards (32-bit wrap,
a device re-plugged, a driver reset) gives no rate for that tick rather than a huge
or negative one, as glances' ``_manage_rate`` drops such deltas.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

__all__ = ["RateTracker"]


class RateTracker:
    """Remember the last ``(value, time)`` per key and turn new readings into rates."""

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[float, float]] = {}

    def rate(self, key: Hashable, value: float, now: float) -> float | None:
        """Per-second rate since the previous reading of ``key``, or ``None``.

        ``None`` on the first reading, when time did not advance, or when the
        counter went backwards (wrap or reset: the new value becomes the baseline).
        """
        step = self.delta(key, value, now)
        return None if step is None else step[0] / step[1]

    def delta(self, key: Hashable, value: float, now: float) -> tuple[float, float] | None:
        """``(increase, elapsed seconds)`` since the previous reading, or ``None``."""
        prev = self._last.get(key)
        self._last[key] = (value, now)
        if prev is None:
            return None
        old, then = prev
        dt = now - then
        if dt <= 0 or value < old:
            return None
        return value - old, dt

    def keep_only(self, keys: Iterable[Hashable]) -> None:
        """Forget every key not in ``keys`` (devices unplugged, processes gone)."""
        keep = set(keys)
        for key in [k for k in self._last if k not in keep]:
            del self._last[key]

    def forget(self, key: Hashable) -> None:
        """Drop ``key``'s reading: its next one starts afresh (a source that failed to read)."""
        self._last.pop(key, None)

    def __len__(self) -> int:
        return len(self._last)

    def clear(self) -> None:
        self._last.clear()
