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
sample. A brute-force NumPy distance over the ring, one coordinate at a time
over a column-major ring (4x faster than a row-wise ``einsum``: ~30 µs for
10,000 shapes here), keeps the state a plain array that pickles.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["NearestShapeDistance"]


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
    """

    def __init__(self, dim: int = 3, stride: int = 1, memory: int = 10000, min_memory: int = 50,
                 keep_every: int = 1, query_every: int = 1):
        self.dim = dim
        self.stride = stride
        self.memory = memory
        self.min_memory = min_memory
        self.keep_every = keep_every
        self.query_every = query_every
        self.popped = 0
        self.made = 0  # embeddings made so far
        self.last: float | None = None
        self.window: deque[float] = deque(maxlen=stride)  # for the smoothing mean
        self.smoothed: deque[float] = deque(maxlen=(dim - 1) * stride + 1)
        self.held: deque[tuple[float, ...]] = deque()
        self.ring = np.zeros((dim, memory))  # one row per coordinate: contiguous columns
        self.stored = 0

    def update(self, x: float) -> float | None:
        window = self.window
        window.append(x)
        smoothed = self.smoothed
        smoothed.append(sum(window) / len(window))
        if len(smoothed) < smoothed.maxlen:
            return None
        stride = self.stride
        emb = tuple(smoothed[i * stride] for i in range(self.dim)) if stride > 1 else tuple(smoothed)
        dist = None
        n = min(self.stored, self.memory)
        made = self.made
        self.made = made + 1
        if n >= self.min_memory and made % self.query_every and self.last is not None:
            dist = self.last
        elif n >= self.min_memory:
            ring = self.ring
            total = ring[0, :n] - emb[0]
            total *= total
            for j in range(1, self.dim):
                part = ring[j, :n] - emb[j]
                part *= part
                total += part
            dist = self.last = math.sqrt(float(total.min()))
        held = self.held
        held.append(emb)
        if len(held) > self.dim * stride:
            old = held.popleft()
            if self.popped % self.keep_every == 0:
                self.ring[:, self.stored % self.memory] = old
                self.stored += 1
            self.popped += 1
        return dist
