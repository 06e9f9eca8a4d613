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
``name``, which the alert manager sets). Bucketing, fitting and reuse are
:mod:`workbench._recent`, shared with the executor's ForecastPredictor.

The alert manager calls :meth:`BreachForecaster.from_samples` with its
``(epoch seconds, value)`` samples, and with the default Drift the whole path
is numpy: Drift's own fit and predict on the bucket values (no pandas,
statsmodels or scipy in the agent: ~130 MiB less resident,
docs/benchmarks/agent.md). A pandas Series history (``__call__``) and any
other model go through the model's public ``fit``/``predict``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench._recent import RefitCache, forecast_recent
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
        self._fits = RefitCache(refit_every)  # (name, horizon) -> (mean, sigma)

    def __call__(self, history, horizon_seconds: float, level: float, op: str = ">") -> float:
        _check(op, horizon_seconds)
        if len(history) == 0:
            return 0.0
        times = history.index.as_unit("ns").asi8 / 1e9 if hasattr(history.index, "asi8") else np.asarray(
            [t.timestamp() for t in history.index], dtype=float)
        return self.probability(times, history.to_numpy(dtype=float), horizon_seconds, level, op, name=history.name)

    def from_samples(self, samples, horizon_seconds: float, level: float, op: str = ">", *, name=None) -> float:
        """Like calling it, from ``(epoch seconds, value)`` pairs (the alert manager's history): no pandas."""
        if len(samples) == 0:
            return 0.0
        cached = self._fits.get((name, float(horizon_seconds)), samples[-1][0]) if name is not None else None
        if cached is not None and op in (">", ">=", "<", "<="):
            return _exceedance(cached[0], cached[1], float(level), op)  # no copy of the samples a second
        data = np.asarray(samples, dtype=float).reshape(-1, 2)
        return self.probability(data[:, 0], data[:, 1], horizon_seconds, level, op, name=name)

    def probability(self, times, values, horizon_seconds: float, level: float, op: str = ">", *, name=None) -> float:
        """P(crossing ``level`` within the horizon) from arrays of epoch seconds and values."""
        _check(op, horizon_seconds)
        if len(times) == 0:
            return 0.0
        now = float(times[-1])
        key = (name, float(horizon_seconds))
        cached = self._fits.get(key, now) if name is not None else None
        if cached is not None:
            mean, sigma = cached
        else:
            fitted = self._forecast(np.asarray(times, dtype=float), np.asarray(values, dtype=float), horizon_seconds)
            if fitted is None:
                return 0.0
            mean, sigma = fitted
            if name is not None:
                self._fits.put(key, now, (mean, sigma))
        return _exceedance(mean, sigma, float(level), op)

    def _forecast(self, times: np.ndarray, values: np.ndarray, horizon_seconds: float
                  ) -> tuple[np.ndarray, np.ndarray] | None:
        fc = forecast_recent(self.model, times, values, step=horizon_seconds / self.steps, h=self.steps,
                             min_points=self.min_points, levels=(95,))
        if fc is None:
            return None
        mean = fc["mean"]
        sigma = (fc["hi_95"] - mean) / _Z95
        return mean, np.maximum(sigma, 0.0)


def _check(op: str, horizon_seconds: float) -> None:
    if op not in (">", ">=", "<", "<="):
        raise DataError(f"op must be one of >, >=, <, <=; got {op!r}.", op=op)
    if horizon_seconds <= 0:
        raise DataError(f"horizon must be > 0 seconds; got {horizon_seconds!r}.")


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
