"""Bounded rolling order statistics for streaming detectors.

Why home-made: pandas/numpy rolling functions work on whole arrays, but a
streaming detector sees one point at a time and must answer "median of the
last *w* points" in microseconds. A sorted list kept with :mod:`bisect` beside
a FIFO gives O(log w) search plus a C-speed ``memmove`` per point, which for
the windows we use (<= 10,000) is a few microseconds. The state is plain
lists, so it pickles and deep-copies with the detector.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

__all__ = ["RollingWindow"]


class RollingWindow:
    """The last ``size`` values, with O(1) quantiles and mean."""

    __slots__ = ("size", "fifo", "sorted", "total")

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.fifo: deque[float] = deque()
        self.sorted: list[float] = []
        self.total = 0.0

    def __len__(self) -> int:
        return len(self.fifo)

    def add(self, x: float) -> None:
        fifo = self.fifo
        fifo.append(x)
        s = self.sorted
        insort(s, x)
        total = self.total + x
        if len(fifo) > self.size:
            old = fifo.popleft()
            del s[bisect_left(s, old)]
            total -= old
        self.total = total

    def quantile(self, q: float) -> float:
        """Nearest-rank-with-interpolation quantile (numpy's ``linear``)."""
        s = self.sorted
        n = len(s)
        if n == 0:
            return float("nan")
        pos = q * (n - 1)
        lo = int(pos)
        if lo >= n - 1:
            return s[-1]
        return s[lo] + (s[lo + 1] - s[lo]) * (pos - lo)

    def median(self) -> float:
        return self.quantile(0.5)

    def mean(self) -> float:
        return self.total / len(self.fifo) if self.fifo else float("nan")

    def min(self) -> float:
        return self.sorted[0]

    def max(self) -> float:
        return self.sorted[-1]

    def __getstate__(self):
        return (self.size, list(self.fifo), self.total)

    def __setstate__(self, state) -> None:
        self.size, values, self.total = state
        self.fifo = deque(values)
        self.sorted = sorted(values)

    def __deepcopy__(self, memo) -> RollingWindow:
        new = RollingWindow.__new__(RollingWindow)
        new.size, new.total = self.size, self.total
        new.fifo = deque(self.fifo)
        new.sorted = list(self.sorted)
        return new
