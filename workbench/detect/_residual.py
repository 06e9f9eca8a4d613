"""Forecast-residual detector: surprise = one-step-ahead error of a seasonal smoother."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from workbench._params import Integral, Interval, Real
from workbench.detect._base import Detector
from workbench.detect._likelihood import AnomalyLikelihood

__all__ = ["ForecastResidualDetector"]


class ForecastResidualDetector(Detector):
    """Additive seasonal exponential smoothing; its errors, scaled, feed a likelihood.

    Each point is first *forecast* from what came before (level plus the
    seasonal offset of its phase), then compared, then learned, so a score
    never uses its own point. The error is divided by a robust running scale
    (an exponentially weighted mean absolute error, updated with errors clipped
    at ``clip`` scales so an outage does not inflate it) and the resulting
    raw surprise goes through :class:`AnomalyLikelihood`.

    The season is given in *time* (``season="1D"``) and turned into a number of
    steps from the observed sampling interval, so one parameter set serves
    1-second and 5-minute series alike. Seasons longer than ``max_period``
    steps are ignored (pure level smoothing).
    """

    _parameter_constraints = {
        **Detector._parameter_constraints,
        "season": [None, str, timedelta],
        "alpha": [Interval(Real, 0, 1, closed="right")],
        "gamma": [Interval(Real, 0, 1, closed="both")],
        "scale_halflife": [Interval(Integral, 1, None, closed="left", text="a positive integer")],
        "clip": [Interval(Real, 0, None, closed="neither")],
        "short": [Interval(Integral, 1, None, closed="left", text="a positive integer")],
        "long": [Interval(Integral, 1, None, closed="left", text="a positive integer")],
        "max_period": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        season: str | None = "1D",
        alpha: float = 0.3,
        gamma: float = 0.1,
        scale_halflife: int = 500,
        clip: float = 5.0,
        short: int = 10,
        long: int = 2000,
        max_period: int = 10080,
        suppress: int = 150,
        grace_period: int = 300,
    ) -> None:
        self.season = season
        self.alpha = alpha
        self.gamma = gamma
        self.scale_halflife = scale_halflife
        self.clip = clip
        self.short = short
        self.long = long
        self.max_period = max_period
        self.suppress = suppress
        self.grace_period = grace_period

    def _init_state(self) -> None:
        super()._init_state()
        self.level_ = math.nan
        self.period_ = 0
        self.seasonal_: np.ndarray | None = None
        self.phase_ = 0
        self.scale_ = math.nan
        self.first_ts_ = None
        self.likelihood_ = AnomalyLikelihood(self.short, self.long, min_periods=100)

    def _settle_period(self, timestamp: Any) -> None:
        """After 20 points, fix the season length in steps from the median interval."""
        if self.season is None:
            self.period_ = 1
            return
        if self.first_ts_ is None:
            self.first_ts_ = pd.Timestamp(timestamp)
            return
        if self.n_seen_ == 20:
            step = (pd.Timestamp(timestamp) - self.first_ts_) / 20
            steps = pd.Timedelta(self.season) / step if step > pd.Timedelta(0) else 0
            period = int(round(steps))
            self.period_ = period if 2 <= period <= self.max_period else 1
            self.seasonal_ = np.zeros(self.period_)

    def _score_learn(self, timestamp: Any, value: float) -> float:
        if not self.period_:
            self._settle_period(timestamp)
        if math.isnan(self.level_):
            self.level_ = value
            return 0.0
        season = self.seasonal_[self.phase_] if self.seasonal_ is not None else 0.0
        err = value - (self.level_ + season)
        scale = self.scale_
        if math.isnan(scale):
            z = 0.0
            self.scale_ = abs(err) + 1e-12
        else:
            z = abs(err) / scale if scale > 0 else 0.0
            w = 1.0 - 0.5 ** (1.0 / self.scale_halflife)
            self.scale_ = scale + w * (min(abs(err), self.clip * scale) - scale) + 1e-15
        # learn: the level chases the deseasonalised value; the season the detrended one
        new_level = self.level_ + self.alpha * (value - season - self.level_)
        if self.seasonal_ is not None:
            self.seasonal_[self.phase_] = season + self.gamma * (value - new_level - season)
            self.phase_ = (self.phase_ + 1) % self.period_
        self.level_ = new_level
        raw = 1.0 - math.exp(-z / 3.0)
        return self.likelihood_.update(raw)
