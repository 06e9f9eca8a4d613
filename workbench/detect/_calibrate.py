"""A high quantile of a stream that forgets: bounded memory, O(1) per point.

Why: :class:`~workbench.detect.EnsembleDetector` divides each view's surprise
by a high quantile (99 %) of that view's own past surprises, so one threshold
serves quiet and noisy series. Kept as a sorted window of the last 10,000
values, that calibration cost ~400 kB per view per series (Python floats in a
deque and a sorted list) and weighted a surprise from five weeks ago like one
from an hour ago until it fell off the end. Here the past lives in a
histogram with logarithmic bins (``bins_per_octave`` per doubling, 4.4 %
wide at 16), every weight decaying with a half-life of ``halflife`` points:
the quantile follows a series that changes (a new deployment, a new load
pattern) smoothly, and the state is a few hundred floats whatever the
history's length.

How it stays O(1): instead of multiplying every bin by the decay factor on
each point, the weight of a *new* point grows by ``2 ** (1 / halflife)``
(renormalised, exactly, long before it overflows), and a pointer to the
quantile's bin, with the weight above it, moves by a bin or two per point.
The result depends only on the values added, in order, so history scored in
batch and the same points seen live give identical quantiles.
"""

from __future__ import annotations

import math

__all__ = ["DecayingQuantile"]

# renormalise when the weight of a new point reaches 2 ** _RENORM_OCTAVES
_RENORM_OCTAVES = 500.0
_RENORM_LIMIT = 2.0**_RENORM_OCTAVES


class DecayingQuantile:
    """``add(x)`` (``x >= 0``), ``quantile()`` -> the ``q`` quantile of the decayed past.

    Values below ``2 ** -span`` of the largest bin are pooled into the lowest
    bin (a 99 % quantile never looks there); zeros are counted apart and the
    quantile is 0 when they are more than ``q`` of the weight.
    """

    __slots__ = ("q", "halflife", "bins_per_octave", "span", "growth", "w", "total", "zeros", "counts",
                 "offset", "p", "above", "n")

    def __init__(self, q: float = 0.99, halflife: float = 5000.0, bins_per_octave: int = 16, span: int = 48):
        self.q = q
        self.halflife = halflife
        self.bins_per_octave = bins_per_octave
        self.span = span * bins_per_octave
        self.growth = 2.0 ** (1.0 / halflife)
        self.w = 1.0  # weight of the next point
        self.total = 0.0
        self.zeros = 0.0
        self.counts: list[float] = []  # counts[i] is bin offset + i
        self.offset = 0
        self.p = -1  # bin (index into counts) holding the quantile; -1: the zeros
        self.above = 0.0  # weight in bins above p
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def __getstate__(self):
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, state) -> None:
        for k, v in zip(self.__slots__, state, strict=True):
            setattr(self, k, list(v) if k == "counts" else v)

    def __deepcopy__(self, memo) -> DecayingQuantile:
        new = DecayingQuantile.__new__(DecayingQuantile)
        new.__setstate__(self.__getstate__())
        return new

    def add(self, x: float) -> None:
        self.n += 1
        w = self.w
        total = self.total = self.total + w
        counts = self.counts
        p = self.p
        above = self.above
        if x <= 0.0:
            self.zeros += w
        else:
            b = math.floor(math.log2(x) * self.bins_per_octave)
            if not counts:
                self.counts = counts = [0.0]
                self.offset = b
                p = 0
                above = 0.0
            i = b - self.offset
            if i < 0:
                room = self.span - len(counts)
                if room <= 0:
                    i = 0  # far below everything kept: pool into the lowest bin
                else:
                    grow = min(-i, room)
                    counts[:0] = [0.0] * grow
                    self.offset -= grow
                    if p >= 0:
                        p += grow
                    i = max(i + grow, 0)
            elif i >= len(counts):
                counts.extend([0.0] * (i + 1 - len(counts)))
                extra = len(counts) - self.span
                if extra > 0:  # keep the top span bins; pool the rest into the lowest
                    pooled = sum(counts[: extra + 1])
                    del counts[:extra]
                    counts[0] = pooled
                    self.offset += extra
                    p = max(p - extra, 0) if p >= 0 else -1
                    above = sum(counts[p + 1 :]) if p >= 0 else sum(counts)
                    i -= extra
            counts[i] += w
            if i > p:
                above += w
        # move the pointer so that above < (1 - q) total <= above + counts[p] (inlined: every point)
        tail = (1.0 - self.q) * total
        # down while the tail is not reached yet
        while p >= 0 and above + counts[p] < tail:
            above += counts[p]
            p -= 1
        # up while the bins above alone already hold the tail
        top = len(counts) - 1
        while p < top and above >= tail and above > 0.0:
            p += 1
            above -= counts[p]
            if above < 0.0:
                above = 0.0
        self.p = p
        self.above = above
        self.w = w = w * self.growth
        if w > _RENORM_LIMIT:
            self._renormalise()

    def _renormalise(self) -> None:
        scale = 1.0 / self.w
        self.counts = [c * scale for c in self.counts]
        self.zeros *= scale
        self.total = self.zeros + math.fsum(self.counts)
        self.above = math.fsum(self.counts[self.p + 1 :]) if self.p >= 0 else math.fsum(self.counts)
        self.w = 1.0

    def quantile(self) -> float:
        """The ``q`` quantile, interpolated in log space inside its bin; nan before any value."""
        if self.n == 0:
            return math.nan
        p = self.p
        if p < 0:
            return 0.0
        c = self.counts[p]
        tail = (1.0 - self.q) * self.total
        frac = (tail - self.above) / c if c > 0 else 0.0  # share of bin p that is in the tail
        # min(max(frac, 0.0), 1.0), as they pick, without two calls per point
        if frac < 0.0:
            frac = 0.0
        elif frac > 1.0:
            frac = 1.0
        return 2.0 ** ((self.offset + p + 1.0 - frac) / self.bins_per_octave)
