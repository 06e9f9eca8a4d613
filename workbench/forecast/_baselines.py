"""Benchmark forecasters: naive, seasonal naive and drift (Hyndman & Athanasopoulos, FPP3 5.2, 5.5).

Intervals assume Gaussian residuals with the standard deviation of the in-sample
one-step (or one-season) residuals, widened with the horizon as FPP3 table 5.2 gives.
"""

from __future__ import annotations

import numpy as np

from workbench.forecast._base import SEASON_LENGTH, BaseForecaster, normal_intervals

__all__ = ["Naive", "SeasonalNaive", "Drift"]


def _resid_sd(resid: np.ndarray, n_params: int = 0) -> float:
    resid = resid[np.isfinite(resid)]
    if resid.size == 0:
        return 0.0
    dof = max(resid.size - n_params, 1)
    return float(np.sqrt(np.sum(resid**2) / dof))


class Naive(BaseForecaster):
    """Every future value equals the last observed one (a random walk)."""

    min_obs = 1

    def __init__(self) -> None:
        pass

    def _fit(self, y):
        self.last_ = float(y[-1])
        self.sigma_ = _resid_sd(np.diff(y)) if y.size > 1 else 0.0

    def _predict(self, h, levels):
        steps = np.arange(1, h + 1)
        mean = np.full(h, self.last_)
        return mean, normal_intervals(mean, self.sigma_ * np.sqrt(steps), levels)


class SeasonalNaive(BaseForecaster):
    """Every future value equals the value one season earlier.

    ``season_length=None`` takes the natural cycle of the data's frequency (24 for
    hourly data, 288 for 5-minute data, 7 for daily). A series shorter than one
    season falls back to :class:`Naive` behaviour and says so in ``fallback_``.
    """

    min_obs = 1
    _parameter_constraints = {"season_length": SEASON_LENGTH}

    def __init__(self, season_length: int | None = None) -> None:
        self.season_length = season_length

    def _fit(self, y):
        m = self._season(self.season_length)
        self.fallback_ = None
        if y.size < m + 1:
            self.fallback_ = f"series of {y.size} points is shorter than one season ({m}); naive"
            m = 1
        self.season_length_ = m
        self.last_season_ = y[-m:].copy()
        self.sigma_ = _resid_sd(y[m:] - y[:-m]) if y.size > m else 0.0

    def _predict(self, h, levels):
        m = self.season_length_
        steps = np.arange(h)
        mean = self.last_season_[steps % m]
        k = steps // m + 1
        return mean, normal_intervals(mean, self.sigma_ * np.sqrt(k), levels)


class Drift(BaseForecaster):
    """The line from the first to the last observation, extended."""

    min_obs = 2

    def __init__(self) -> None:
        pass

    def _fit(self, y):
        n = y.size
        self.slope_ = float((y[-1] - y[0]) / (n - 1))
        self.last_ = float(y[-1])
        self.sigma_ = _resid_sd(np.diff(y) - self.slope_, n_params=1) if n > 2 else 0.0
        self._n = n

    def _predict(self, h, levels):
        steps = np.arange(1, h + 1)
        mean = self.last_ + self.slope_ * steps
        sd = self.sigma_ * np.sqrt(steps * (1 + steps / (self._n - 1)))
        return mean, normal_intervals(mean, sd, levels)
