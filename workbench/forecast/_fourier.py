"""Fourier terms for long seasonal periods (the season as K sine/cosine pairs)."""

from __future__ import annotations

import numpy as np

__all__ = ["fourier_terms", "seasonal_profile"]


def fourier_terms(positions: np.ndarray, m: int, K: int) -> np.ndarray:
    """Columns ``sin(2 pi k t / m), cos(2 pi k t / m)`` for ``k = 1..K`` at time steps ``positions``."""
    cols = []
    for k in range(1, K + 1):
        angle = 2 * np.pi * k * np.asarray(positions, dtype=float) / m
        cols += [np.sin(angle), np.cos(angle)]
    return np.column_stack(cols) if cols else np.empty((np.size(positions), 0))


def seasonal_profile(y: np.ndarray, m: int, K: int) -> np.ndarray:
    """Coefficients of ``K`` Fourier pairs fitted to ``y`` minus its centred moving average.

    The moving average over one season (``2 x m`` for even ``m``, as in a
    classical decomposition) takes out the level and the trend first, so a
    wandering level does not leak into the seasonal estimate. Needs two seasons.
    """
    y = np.asarray(y, dtype=float)
    if K == 0:
        return np.empty(0)
    weights = np.ones(m) / m if m % 2 else np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.convolve(y, weights, mode="valid")
    half = (weights.size - 1) // 2
    pos = np.arange(half, half + trend.size)
    X = np.column_stack([np.ones(pos.size), fourier_terms(pos, m, K)])
    coef, *_ = np.linalg.lstsq(X, y[pos] - trend, rcond=None)
    return coef[1:]
