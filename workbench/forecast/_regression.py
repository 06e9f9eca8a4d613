"""Forecasting by regression on lag, rolling, calendar and Fourier features.

Any scikit-learn regressor can be used (default: ridge regression with its
penalty chosen by efficient leave-one-out, ``RidgeCV``). Multi-step forecasts
are ``recursive`` (one model, its forecasts fed back as lags) or ``direct`` (one
model per horizon step, fitted when a horizon is first asked for).

Intervals are split-conformal by default: a copy of the model is fitted on the
series minus its last stretch, forecasts are made from many origins inside that
stretch, and the quantiles of the absolute errors at each horizon step give the
half-widths (made non-decreasing in the horizon). ``intervals="residual"`` uses
in-sample one-step residual quantiles grown with the square root of the step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone as sk_clone
from sklearn.linear_model import RidgeCV

from workbench._params import Each, Integral, Interval, Options
from workbench.errors import DataError
from workbench.forecast._base import SEASON_LENGTH, BaseForecaster

__all__ = ["Regression"]

_STRATEGIES = ("recursive", "direct")
_INTERVALS = ("conformal", "residual")
_TRANSFORMS = (None, "log", "auto")


def _default_features(m: int, n: int) -> tuple[list[int], list[int]]:
    """Default lags and rolling windows for season length ``m`` and ``n`` observations."""
    cap = max(n // 4, 1)
    if m <= 1:
        lags = list(range(1, 9))
        windows = []
    elif m <= 48:
        # The hour before and after a week back (7m +- 1) as well: on M4 Hourly they carry
        # the weekly shape that the same hour alone does not (issue 16).
        lags = list(range(1, 2 * m + 1)) + [k * m for k in range(3, 8)] + [7 * m - 1, 7 * m + 1]
        windows = [m, 7 * m]
    else:
        lags = list(range(1, 25)) + [m - 1, m, m + 1, 2 * m, 7 * m]
        windows = [m, 7 * m]
    lags = sorted({lag for lag in lags if lag <= cap}) or [1]
    windows = [w for w in windows if w <= cap]
    return lags, windows


def _default_fourier(m: int) -> int:
    """Default sine/cosine pairs of the season: ``min(10, m // 2)`` for ``2 <= m <= 48``, else 0.

    With lags covering whole cycles, deterministic terms for the shape of the cycle help
    the recursive forecast keep it far out (M4 Hourly: OWA 0.433 -> about 0.41, issue 16).
    Longer seasons (5-minute data, m = 288) keep none: their lags do not span the cycle and
    their daily shape is weak.
    """
    return min(10, m // 2) if 2 <= m <= 48 else 0


def _default_estimator():
    return RidgeCV(alphas=np.logspace(-3, 3, 13))


class Regression(BaseForecaster):
    """Regression forecaster.

    Parameters
    ----------
    estimator : scikit-learn regressor, optional
        Default ``RidgeCV(alphas=logspace(-3, 3, 13))``.
    lags : sequence of int, optional
        Lags of the target used as features. Default (``m`` the season length,
        ``n`` the series length; no lag beyond ``n // 4``): ``1..2m``, the
        same hour on the five days before (``3m..7m``) and ``7m - 1, 7m + 1`` when ``m <= 48``;
        ``1..24``, ``m - 1, m, m + 1, 2m`` and ``7m`` for longer seasons;
        ``1..8`` without a season.
    rolling : sequence of int, optional
        Windows of rolling means of the lagged target (ending at lag 1).
        Default ``(m, 7m)`` (within the same ``n // 4`` limit); ``()`` for none.
    fourier : int, optional
        Number of sine/cosine pairs for the seasonal period (0 for none). Default
        ``min(10, m // 2)`` when ``2 <= m <= 48``, 0 for longer seasons or none.
    calendar : bool
        One-hot hour-of-day and day-of-week features from the timestamps (for
        sub-daily data; day-of-week only for daily data).
    trend : bool
        Add a linear time index.
    season_length : int, optional
        Seasonal period in steps; None takes the natural cycle of the frequency.
    strategy : {"recursive", "direct"}
    intervals : {"conformal", "residual"}
    transform : {None, "log", "auto"}
        ``"log"`` models ``log(y)`` (requires y > 0); ``"auto"`` (default) uses it
        when every value is positive. Forecasts of a series with no negative
        value are never negative, and no forecast goes further than half the
        observed range beyond the observed extremes (a recursive lag model can
        otherwise feed on its own errors and explode).
    n_calibration : int, optional
        Forecast origins used for conformal calibration (default ``min(100, n // 4)``).
    """

    _parameter_constraints = {
        "lags": [None, Each(Interval(Integral, 1, None, closed="left"), min_len=1)],
        "rolling": [None, Each(Interval(Integral, 1, None, closed="left"))],
        "fourier": [None, Interval(Integral, 0, None, closed="left")],
        "calendar": [bool],
        "trend": [bool],
        "season_length": SEASON_LENGTH,
        "strategy": [Options(*_STRATEGIES)],
        "intervals": [Options(*_INTERVALS)],
        "transform": [Options(*_TRANSFORMS)],
        "n_calibration": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator=None,
        *,
        lags=None,
        rolling=None,
        fourier: int | None = None,
        calendar: bool = False,
        trend: bool = False,
        season_length: int | None = None,
        strategy: str = "recursive",
        intervals: str = "conformal",
        transform: str | None = "auto",
        n_calibration: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.lags = lags
        self.rolling = rolling
        self.fourier = fourier
        self.calendar = calendar
        self.trend = trend
        self.season_length = season_length
        self.strategy = strategy
        self.intervals = intervals
        self.transform = transform
        self.n_calibration = n_calibration

    # -- configuration -----------------------------------------------------------------
    def _validate(self, m: int, n: int) -> None:
        """The lags and windows used (hyperparameters were checked by ``fit`` against the table)."""
        default_lags, default_windows = _default_features(m, n)
        lags = default_lags if self.lags is None else sorted({int(v) for v in self.lags})
        windows = default_windows if self.rolling is None else sorted({int(w) for w in self.rolling})
        self.lags_ = np.asarray(lags, dtype=int)
        self.windows_ = np.asarray(windows, dtype=int)
        self.max_lag_ = int(max(lags + windows))
        self.fourier_ = _default_fourier(m) if self.fourier is None else int(self.fourier)

    # -- feature construction -------------------------------------------------------------
    def _exog(self, positions: np.ndarray) -> np.ndarray:
        """Features that depend only on the target's time (Fourier, calendar, trend)."""
        cols = []
        m = self.season_length_
        K = min(self.fourier_, m // 2) if m > 1 else 0
        for k in range(1, K + 1):
            angle = 2 * np.pi * k * positions / m
            cols += [np.sin(angle), np.cos(angle)]
        if self.calendar:
            stamps = self.start_ + positions * self._step if self._step is not None else None
            if stamps is None:
                stamps = pd.date_range(self.start_, periods=int(positions.max()) + 1, freq=self.freq_)
                stamps = stamps[positions]
            stamps = pd.DatetimeIndex(stamps)
            if self._step is not None and self._step < pd.Timedelta("1D"):
                hours = stamps.hour.to_numpy()
                cols += [(hours == k).astype(float) for k in range(1, 24)]
            dow = stamps.dayofweek.to_numpy()
            cols += [(dow == k).astype(float) for k in range(1, 7)]
        if self.trend:
            cols.append(positions / max(self.n_obs_, 1))
        if not cols:
            return np.empty((len(positions), 0))
        return np.column_stack(cols)

    def _design(self, z: np.ndarray, origins: np.ndarray, step: int) -> np.ndarray:
        """Rows for forecasting ``z[o + step - 1]`` knowing ``z[:o]`` for each origin ``o``."""
        rows = [z[origins - lag] for lag in self.lags_]
        if self.windows_.size:
            csum = np.concatenate([[0.0], np.cumsum(z)])
            for w in self.windows_:
                rows.append((csum[origins] - csum[origins - w]) / w)
        lagged = np.column_stack(rows)
        return np.hstack([lagged, self._exog(origins + step - 1)])

    # -- transform ----------------------------------------------------------------------------
    def _forward(self, y: np.ndarray) -> np.ndarray:
        z = np.log(y) if self.log_ else y
        return (z - self.center_) / self.scale_

    def _inverse(self, z: np.ndarray) -> np.ndarray:
        z = z * self.scale_ + self.center_
        if self.log_:
            return np.exp(np.clip(z, -700, 700))
        return np.maximum(z, 0.0) if self.nonnegative_ else z

    # -- fitting -------------------------------------------------------------------------------
    def _fit(self, y):
        m = self._season(self.season_length)
        self.season_length_ = m
        n = y.size
        self._validate(m, n)
        need = self.max_lag_ + max(10, self.lags_.size + 2)
        if n < need:
            raise DataError(
                f"Regression with lags up to {self.max_lag_} needs at least {need} observations; "
                f"got {n}. Use fewer lags (lags=...) or a simpler model.",
                n=n,
                min_obs=need,
            )
        positive = bool(np.all(y > 0))
        if self.transform == "log" and not positive:
            raise DataError(
                "transform='log' needs every value > 0; this series has "
                f"{int(np.sum(y <= 0))} value(s) <= 0. Use transform=None or 'auto'.",
                nonpositive=int(np.sum(y <= 0)),
            )
        self.nonnegative_ = bool(np.all(y >= 0))
        self.log_ = self.transform == "log" or (self.transform == "auto" and positive)
        base = np.log(y) if self.log_ else y
        self.center_ = float(np.mean(base))
        sd = float(np.std(base))
        self.scale_ = sd if sd > 0 else 1.0
        tick = isinstance(self.freq_, pd.offsets.Tick)
        self._step = pd.Timedelta(self.freq_) if tick else None
        if tick:
            self.start_ = pd.Timestamp(self.last_timestamp_) - (n - 1) * self._step
        else:
            self.start_ = pd.date_range(end=self.last_timestamp_, periods=n, freq=self.freq_)[0]
        self.y_ = y.copy()
        self.z_ = self._forward(y)
        # Recursive forecasts are kept within half the observed range beyond the
        # observed extremes (a lag model feeding on its own output can explode).
        span = float(np.ptp(y))
        high = float(y.max()) + span / 2
        if self.log_:
            low = float(y.min()) / 2
        else:
            low = float(y.min()) - span / 2
            low = max(low, 0.0) if self.nonnegative_ else low
        zlow, zhigh = self._forward(np.array([low, high]))
        self.bounds_z_ = (float(zlow), float(zhigh))
        self.constant_ = bool(np.ptp(y) == 0)
        self.estimators_ = {}
        self._cal = None
        if self.constant_:
            return
        self.estimators_[1] = self._fit_step(self.z_, 1)
        if self.intervals == "residual":
            z = self.z_
            origins = np.arange(self.max_lag_, n)
            pred = self.estimators_[1].predict(self._design(z, origins, 1))
            self.residuals_ = z[origins] - pred

    def _fit_step(self, z: np.ndarray, step: int):
        origins = np.arange(self.max_lag_, z.size - step + 1)
        X = self._design(z, origins, step)
        target = z[origins + step - 1]
        est = sk_clone(self.estimator) if self.estimator is not None else _default_estimator()
        return est.fit(X, target)

    # -- forecasting -------------------------------------------------------------------------
    def _forecast_z(self, z: np.ndarray, origins: np.ndarray, h: int, estimators) -> np.ndarray:
        """Forecast paths (len(origins) x h) on the model scale from each origin."""
        if self.strategy == "direct":
            out = np.empty((origins.size, h))
            for k in range(1, h + 1):
                est = estimators[k]
                out[:, k - 1] = est.predict(self._design(z, origins, k))
            return np.clip(out, *self.bounds_z_)
        est = estimators[1]
        width = self.max_lag_
        hist = np.empty((origins.size, width + h))
        for i, o in enumerate(origins):
            hist[i, :width] = z[o - width : o]
        rows = np.arange(origins.size)
        out = np.empty((origins.size, h))
        for k in range(h):
            end = np.full(origins.size, width + k)
            cols = [hist[rows, end - lag] for lag in self.lags_]
            if self.windows_.size:
                for w in self.windows_:
                    cols.append(hist[:, width + k - w : width + k].mean(axis=1))
            X = np.hstack([np.column_stack(cols), self._exog(origins + k)])
            pred = np.clip(est.predict(X), *self.bounds_z_)
            hist[:, width + k] = pred
            out[:, k] = pred
        return out

    def _ensure_direct(self, estimators: dict, z: np.ndarray, h: int) -> None:
        for k in range(2, h + 1):
            if k not in estimators:
                estimators[k] = self._fit_step(z, k)

    def _calibrate(self, h: int) -> np.ndarray:
        """Absolute forecast errors (origins x h) on the model scale, from held-out origins."""
        if self._cal is not None and self._cal.shape[1] >= h:
            return self._cal[:, :h]
        z = self.z_
        n = z.size
        n_orig = self.n_calibration or min(100, max(n // 4, 5))
        cut = n - h - n_orig + 1
        min_train = self.max_lag_ + max(10, self.lags_.size + 2) + h
        if cut < min_train:
            n_orig = max(n - h + 1 - min_train, 0)
            cut = n - h - n_orig + 1
        if n_orig < 5:
            self._cal = None
            return None
        train = z[:cut]
        ests = {1: self._fit_step(train, 1)}
        if self.strategy == "direct":
            for k in range(2, h + 1):
                ests[k] = self._fit_step(train, k)
        origins = np.arange(cut, cut + n_orig)
        paths = self._forecast_z(z, origins, h, ests)
        truth = np.column_stack([z[origins + k] for k in range(h)])
        self._cal = np.abs(truth - paths)
        return self._cal

    def _predict(self, h, levels):
        if self.constant_:
            mean = np.full(h, self.y_[-1])
            return mean, {lv: (mean, mean) for lv in levels}
        if self.strategy == "direct":
            self._ensure_direct(self.estimators_, self.z_, h)
        origin = np.array([self.z_.size])
        zmean = self._forecast_z(self.z_, origin, h, self.estimators_)[0]
        mean = self._inverse(zmean)
        intervals = {}
        if not levels:
            return mean, intervals
        if self.intervals == "conformal":
            errors = self._calibrate(h)
        else:
            errors = None
        for lv in levels:
            if errors is not None:
                n_cal = errors.shape[0]
                q = min(np.ceil((n_cal + 1) * lv / 100.0) / n_cal, 1.0)
                half = np.quantile(errors, q, axis=0)
            else:
                resid = self.residuals_
                half = np.quantile(np.abs(resid), lv / 100.0) * np.sqrt(np.arange(1, h + 1))
            half = np.maximum.accumulate(half)
            intervals[lv] = (self._inverse(zmean - half), self._inverse(zmean + half))
        return mean, intervals
