"""Nearest-neighbour distance of the recent shape to every shape seen before.

Why: a robust z-score only sees *values* that are far from the usual level.
Many real anomalies are made of ordinary values in an unusual order (a daily
rise that does not come, spikes that arrive too often, a flat line where the
series always wiggles). Embedding the last few points as a vector and asking
"how far is this from the closest thing I have seen before?" catches those;
it is the idea of KNN-CAD (Burnaev & Ishimtsev, 2016) without the conformal
machinery, which :class:`~workbench.detect.EnsembleDetector` replaces with its
own per-series calibration.

Why home-made: scikit-learn's ``NearestNeighbors`` refits an index on every
change, and the ANN libraries are built for millions of high-dimensional
points, not for a ring of a few thousand 3-vectors that changes by one row per
sample. The ring is a plain column-major array that pickles; a brute-force
NumPy distance over it (one coordinate at a time, ~20 µs for 10,000 shapes
here) is the reference.

How it is made cheaper, with the *same* answer to the last bit: a shape ``r``
can only be nearer to ``e`` than ``d`` if its coordinate sum is within
``sqrt(dim) * d`` of ``e``'s (Cauchy-Schwarz). So the stored shapes are kept
sorted by their sums (rebuilt every ``_INDEX_EVERY`` stored shapes, cheaply:
the old order is nearly sorted), an upper bound ``d`` comes from one shape
likely to be near (the successor of the last nearest: time runs on in both),
and the exact brute-force arithmetic is done on the shapes whose sums fall
inside the bound, plus the few stored since the last rebuild. The minimum of
the same floating-point expressions over a set that provably holds every
shape that could reach the minimum is the same minimum. On smooth series that
is 1-10 % of the ring; where it is more than half, the plain brute force runs.
The index is derived state: it is not pickled, and rebuilt on first use.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left, bisect_right
from collections import deque

import numpy as np

__all__ = ["NearestShapeDistance"]

# below this many stored shapes the brute force (~2 µs per 1,000) is as cheap as the index (~8 µs)
_INDEX_FROM = 4096
# shapes stored between two rebuilds of the sorted index (searched by brute force meanwhile)
_INDEX_EVERY = 128
# when the first bound leaves more candidates than this, tighten it with the shapes of nearest sum
_REFINE_ABOVE = 1500
_REFINE_WIDTH = 16
# slot numbers in the index (half the memory of intp)
_SLOT = np.int32
# one key in this many kept for the bisection
_COARSE = 32
# relative slack on the bound, far above floating-point error (1e-16): only ever widens the search
_SLACK = 1e-9
_DERIVED = ("_pick", "_rows", "_root", "_keys", "_order", "_recent", "_nrecent", "_slack", "_nn", "_grown")


class NearestShapeDistance:
    """``update(x)`` -> distance of the current embedding to its nearest past one.

    The embedding is ``dim`` points of the input, ``stride`` points apart, of
    the input smoothed by a trailing mean of ``stride`` points (``stride=1``:
    the raw last ``dim`` values; ``stride=12``: the shape of the last ~3
    hours of 5-minute data, with its noise averaged out).

    Past embeddings live in a ring of ``memory`` rows. The last
    ``dim * stride`` embeddings (all that overlap the current one, and one
    more) are held back before they join the ring, or every point would find
    a near copy of itself as its nearest neighbour. Returns
    ``None`` until ``min_memory`` embeddings are stored.

    ``keep_every`` stores only every k-th embedding: on a smoothed input
    (``stride > 1``) neighbouring embeddings are near copies of each other,
    so a ring of every 4th covers the same stretch of history at a quarter of
    the memory and of the cost per point. ``query_every`` searches the ring
    only every k-th point and repeats the last distance in between (the
    smoothed shape moves little from one point to the next; a change is seen
    at most ``query_every - 1`` points late).

    ``index_from``: stored shapes from which the sorted index is used (the
    answer is the same either way; only the cost differs).
    """

    def __init__(self, dim: int = 3, stride: int = 1, memory: int = 10000, min_memory: int = 50,
                 keep_every: int = 1, query_every: int = 1, index_from: int = _INDEX_FROM):
        self.dim = dim
        self.stride = stride
        self.memory = memory
        self.min_memory = min_memory
        self.keep_every = keep_every
        self.query_every = query_every
        self.index_from = index_from
        self.popped = 0
        self.made = 0  # embeddings made so far
        self.last: float | None = None
        self.window: deque[float] = deque(maxlen=stride)  # for the smoothing mean
        self.smoothed: deque[float] = deque(maxlen=(dim - 1) * stride + 1)
        self.held: deque[tuple[float, ...]] = deque()
        self.ring = np.zeros((dim, memory))  # one row per coordinate: contiguous columns
        self.stored = 0
        self.finite = True  # a non-finite shape stored: brute force from then on
        self._clear_index()

    # -- pickling: the index is derived, rebuilt on first use -------------
    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in _DERIVED}

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("index_from", _INDEX_FROM)
        self.__dict__.setdefault("finite", bool(np.isfinite(self.ring).all()))
        self._clear_index()

    def _clear_index(self) -> None:
        self._pick = self._rows = None
        self._keys = self._order = self._recent = None
        self._root = math.sqrt(self.dim) * (1.0 + _SLACK)
        self._nrecent = 0
        self._slack = 0.0
        self._nn = -1
        self._grown = 0  # stored shapes when the index was built

    def update(self, x: float) -> float | None:
        smoothed = self.smoothed
        stride = self.stride
        if stride == 1:
            smoothed.append(0.0 + x)  # what sum([x]) / 1 gives (-0.0 becomes 0.0)
        else:
            window = self.window
            window.append(x)
            smoothed.append(sum(window) / len(window))
        if len(smoothed) < smoothed.maxlen:
            return None
        if stride == 1:
            emb = tuple(smoothed)
        else:
            pick = self._pick
            if pick is None:
                pick = self._pick = operator.itemgetter(*range(0, self.dim * stride, stride))
            emb = pick(smoothed)
            if self.dim == 1:
                emb = (emb,)
        dist = None
        stored = self.stored
        memory = self.memory
        n = stored if stored < memory else memory
        made = self.made
        self.made = made + 1
        if n >= self.min_memory:
            if made % self.query_every and self.last is not None:
                dist = self.last
            elif n >= self.index_from and self.finite:
                dist = self.last = self._nearest(emb, n)
            else:
                dist = self.last = self._brute(emb, n)
        held = self.held
        held.append(emb)
        if len(held) > self.dim * stride:
            old = held.popleft()
            popped = self.popped
            self.popped = popped + 1
            if popped % self.keep_every == 0:
                slot = stored % memory
                rows = self._rows
                if rows is None:
                    rows = self._rows = tuple(self.ring)  # views of the ring's rows
                for row, v in zip(rows, old, strict=True):
                    row[slot] = v
                self.stored = stored + 1
                if self.finite and not math.isfinite(sum(old)):
                    self.finite = False
                recent = self._recent
                if recent is not None:
                    if self._nrecent == _INDEX_EVERY:
                        self._clear_index()  # not searched for a while: rebuilt in full when it is
                    else:
                        recent[self._nrecent] = slot
                        self._nrecent += 1
        return dist

    def _brute(self, emb: tuple[float, ...], n: int) -> float:
        """The reference: the distance to every stored shape."""
        ring = self.ring
        total = ring[0, :n] - emb[0]
        total *= total
        for j in range(1, self.dim):
            part = ring[j, :n] - emb[j]
            part *= part
            total += part
        return math.sqrt(float(total.min()))

    def _rebuild(self, n: int) -> None:
        """Sort the stored shapes by coordinate sum (the old order is nearly sorted: a stable sort is fast)."""
        ring = self.ring
        sums = ring[0, :n].copy()  # in slot order
        for j in range(1, self.dim):
            sums += ring[j, :n]
        if self._order is None:
            ext = np.arange(n, dtype=_SLOT)
        elif n > self._grown:
            ext = np.concatenate((self._order, np.arange(self._grown, n, dtype=_SLOT)))
        else:
            ext = self._order
        keys = sums.take(ext)
        by_key = np.argsort(keys, kind="stable")
        self._order = ext.take(by_key)
        keys = keys.take(by_key)
        # every _COARSE-th key as a Python list: bisect finds a range a block wider on each side
        # than searchsorted would, at a third of its cost per call (the extra shapes are cheap)
        self._keys = keys[::_COARSE].tolist()
        # the floating-point error of any sum is below 1e-16 * dim * the largest |coordinate|
        self._slack = _SLACK * self.dim * max(float(ring.max()), -float(ring.min()))
        self._grown = n
        if self._recent is None:
            self._recent = np.empty(_INDEX_EVERY, dtype=_SLOT)
        self._nrecent = 0

    def _nearest(self, emb: tuple[float, ...], n: int) -> float:
        """The brute force's answer, from the shapes that can reach it (see the module's docstring)."""
        if self._recent is None or self._nrecent >= _INDEX_EVERY:
            self._rebuild(n)
        key = sum(emb)
        if not math.isfinite(key):
            return self._brute(emb, n)
        best = math.inf
        guess = self._nn + 1
        if guess >= n:
            guess = 0
        if guess >= 0:
            best = 0.0
            for r, e in zip(self.ring[:, guess].tolist(), emb, strict=True):
                d = r - e
                best += d * d
            if best == 0.0:
                self._nn = guess
                return 0.0
        # every shape r as near as best has |sum(r) - key| <= sqrt(dim * best), up to rounding:
        # the slack covers the rounding of the sums (that of e's included: |e| <= |e - r| + |r|)
        coarse = self._keys
        slack = self._slack
        root = self._root
        half = root * math.sqrt(best) + slack
        # coarse[j] is keys[j * _COARSE]: the keys in [key - half, key + half] lie in [lo, hi)
        lo = max(0, (bisect_left(coarse, key - half) - 1) * _COARSE)
        hi = bisect_right(coarse, key + half) * _COARSE
        order = self._order
        if hi - lo > _REFINE_ABOVE:  # a poor first guess: try the shapes of nearest sum
            at = min(bisect_left(coarse, key) * _COARSE, len(order) - _REFINE_WIDTH)
            t, i = self._distances(emb, order[max(0, at - _REFINE_WIDTH): at + _REFINE_WIDTH])
            if t < best:
                best, guess = t, i
                if best == 0.0:
                    self._nn = guess
                    return 0.0
                half = root * math.sqrt(best) + slack
                lo = max(0, (bisect_left(coarse, key - half) - 1) * _COARSE)
                hi = bisect_right(coarse, key + half) * _COARSE
        if 2 * (hi - lo) > n:
            self._nn = -1
            return self._brute(emb, n)
        idx = order[lo:hi]
        if self._nrecent:
            idx = np.concatenate((idx, self._recent[: self._nrecent]))
        if len(idx):
            t, i = self._distances(emb, idx)
            if t < best:
                best, guess = t, i
        self._nn = guess
        return math.sqrt(best)

    def _distances(self, emb: tuple[float, ...], idx: np.ndarray) -> tuple[float, int]:
        """(least squared distance, its slot) over the slots ``idx``, with the brute force's arithmetic."""
        shapes = self.ring.take(idx, axis=1)
        shapes -= np.array(emb).reshape(-1, 1)
        shapes *= shapes
        # rows added in order, first + second, then + third ...: the brute force's sums
        total = np.add.reduce(shapes, axis=0)
        i = int(total.argmin())
        return total.item(i), idx.item(i)
