"""The forecaster behind ``predicted`` rules: the probability that a series crosses a level soon.

A ``predicted`` rule ("memory will exceed 95 % within 30 min, with probability
>= 0.8") needs ``f(history, horizon_seconds, level, op) -> probability``.
:class:`BreachForecaster` answers it with the package's own forecasters:

1. The history (the manager keeps the last samples of the series, often one a
   second) is averaged into ``steps`` buckets per horizon, so a 30 min horizon
   is forecast 30 steps ahead at 1 min, not 1,800 steps at 1 s — the
   interval of a 1,800-step random walk says nothing useful.
2. A forecaster (default :class:`~workbench.forecast.Drift`: the recent trend
   carried on, with intervals that widen with the horizon) predicts the
   horizon with a 95 % interval, read as a normal distribution per step.
3. The answer is the largest probability over the steps that the value is
   beyond the level: "within 30 min" means at any step, and for a trend the
   largest is at the end.

Fitting costs a few milliseconds, and rules see a sample a second; a fit is
reused for ``refit_every`` seconds per series (identified by the history's
``name``, which the alert manager sets).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.errors import DataError

__all__ = ["BreachForecaster"]

_Z95 = 1.959963984540054


class BreachForecaster:
    """``f(history, horizon_seconds, level, op) -> P(crossing within the horizon)``.

    ``model``: an unfitted forecaster (cloned per fit); default ``Drift()``.
    ``steps``: forecast steps per horizon. ``min_points``: buckets needed
    before any answer other than 0. ``refit_every``: seconds a fit is reused.
    """

    def __init__(self, model: Any = None, steps: int = 30, min_points: int = 8, refit_every: float = 30.0) -> None:
        self.model = model
        self.steps = steps
        self.min_points = min_points
        self.refit_every = refit_every
        self._cache: dict[Any, tuple[float, np.ndarray, np.ndarray]] = {}

    def __call__(self, history, horizon_seconds: float, level: float, op: str = ">") -> float:
        if op not in (">", ">=", "<", "<="):
            raise DataError(f"op must be one of >, >=, <, <=; got {op!r}.", op=op)
        if horizon_seconds <= 0:
            raise DataError(f"horizon must be > 0 seconds; got {horizon_seconds!r}.")
        if len(history) == 0:
            return 0.0
        now = history.index[-1].timestamp()
        key = (history.name, float(horizon_seconds))
        cached = self._cache.get(key) if history.name is not None else None
        if cached is not None and now - cached[0] < self.refit_every:
            _, mean, sigma = cached
        else:
            fitted = self._forecast(history, horizon_seconds)
            if fitted is None:
                return 0.0
            mean, sigma = fitted
            if history.name is not None:
                self._cache[key] = (now, mean, sigma)
        return _exceedance(mean, sigma, float(level), op)

    def _forecast(self, history, horizon_seconds: float) -> tuple[np.ndarray, np.ndarray] | None:
        import pandas as pd

        from workbench.forecast import Drift, clone

        step = horizon_seconds / self.steps
        y = history.dropna()
        if len(y) < 2:
            return None
        t0 = y.index[-1]
        # buckets end at the last sample, so the newest bucket is complete
        ages = (t0 - y.index).total_seconds().to_numpy()
        bucket = np.floor(ages / step).astype(np.int64)
        sums = np.bincount(bucket, weights=y.to_numpy(dtype=float))
        counts = np.bincount(bucket)
        keep = counts > 0
        if keep.sum() < self.min_points:
            return None
        # oldest first; empty buckets (gaps in the samples) interpolated from their neighbours
        vals = sums[::-1] / np.maximum(counts[::-1], 1)
        mask = keep[::-1]
        vals = np.interp(np.arange(len(vals)), np.flatnonzero(mask), vals[mask])
        grid = pd.date_range(end=t0, periods=len(vals), freq=pd.Timedelta(seconds=step))
        series = pd.Series(vals, index=grid)
        model = clone(self.model) if self.model is not None else Drift()
        pred = model.fit(series).predict(self.steps, level=(95,))
        mean = pred["mean"].to_numpy(dtype=float)
        sigma = (pred["hi_95"].to_numpy(dtype=float) - mean) / _Z95
        return mean, np.maximum(sigma, 0.0)


def _exceedance(mean: np.ndarray, sigma: np.ndarray, level: float, op: str) -> float:
    """Largest per-step probability that a normal(mean, sigma) value is beyond ``level``."""
    best = 0.0
    above = op in (">", ">=")
    for m, s in zip(mean, sigma, strict=True):
        if s <= 0 or not math.isfinite(s):
            p = float(m > level or (op == ">=" and m == level)) if above else float(
                m < level or (op == "<=" and m == level))
        else:
            z = (level - m) / s
            p = 0.5 * math.erfc(z / math.sqrt(2)) if above else 0.5 * math.erfc(-z / math.sqrt(2))
        best = max(best, p)
    return best
