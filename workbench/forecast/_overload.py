"""Probability of overload: will the metric exceed a threshold within the next window?

``OverloadClassifier(threshold=90, window=12)`` learns, from the history of one
metric, the probability that any of the next ``window`` values exceeds
``threshold``. Features at time ``t`` use only values up to ``t``: lags, rolling
mean/max/std, and the position in the daily cycle (sine/cosine). The classifier
(default: logistic regression on standardised features) is calibrated with
``CalibratedClassifierCV`` over time-ordered folds, so its probabilities can be
read as probabilities. ``backtest`` scores it on rolling origins with the Brier
score beside the climatological forecast (always the training base rate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone as sk_clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from workbench._params import Each, Integral, Interval, Options, Real, check_params
from workbench.errors import DataError, NotFittedError
from workbench.forecast._prep import prepare_series, season_length_for

__all__ = ["OverloadClassifier", "BrierReport"]


@dataclass(frozen=True)
class BrierReport:
    """Rolling-origin evaluation of an :class:`OverloadClassifier`."""

    brier: float  # mean squared error of the probabilities (lower is better)
    brier_climatology: float  # the same for always predicting the training base rate
    skill: float  # 1 - brier / brier_climatology (> 0: better than climatology)
    base_rate: float  # share of test points followed by an overload
    n: int  # scored points
    reliability: pd.DataFrame  # per probability bin: mean predicted, observed rate, count


class OverloadClassifier:
    """Calibrated probability that ``y`` exceeds ``threshold`` within the next ``window`` steps."""

    _parameter_constraints = {
        "threshold": [Interval(Real, None, None, closed="neither")],
        "window": [Interval(Integral, 1, None, closed="left")],
        "lags": [Interval(Integral, 1, None, closed="left")],
        "rolling": [Each(Interval(Integral, 1, None, closed="left"))],
        "method": [Options("sigmoid", "isotonic")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "season_length": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        threshold: float,
        *,
        window: int = 12,
        lags: int = 12,
        rolling=(12, 72),
        estimator=None,
        method: str = "sigmoid",
        cv: int = 3,
        season_length: int | None = None,
    ) -> None:
        self.threshold = threshold
        self.window = window
        self.lags = lags
        self.rolling = rolling
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.season_length = season_length

    def get_params(self, deep: bool = False) -> dict:
        return {k: getattr(self, k) for k in (
            "threshold", "window", "lags", "rolling", "estimator", "method", "cv", "season_length")}

    def _features(self, x: np.ndarray, start_pos: int = 0) -> np.ndarray:
        n = x.size
        s = pd.Series(x)
        cols = [s.shift(k).bfill().to_numpy() for k in range(0, self.lags)]  # no look-ahead past t
        for w in self.rolling:
            r = s.rolling(w, min_periods=1)
            cols += [r.mean().to_numpy(), r.max().to_numpy(), r.std().fillna(0).to_numpy()]
        m = self.season_length_
        if m > 1:
            pos = np.arange(start_pos, start_pos + n)
            cols += [np.sin(2 * np.pi * pos / m), np.cos(2 * np.pi * pos / m)]
        return np.column_stack(cols)

    def _labels(self, x: np.ndarray) -> np.ndarray:
        """1 where any of the next ``window`` values exceeds the threshold (NaN at the end)."""
        above = (x > self.threshold).astype(float)
        future = pd.Series(above[::-1]).rolling(self.window, min_periods=self.window).max().to_numpy()[::-1]
        out = np.full(x.size, np.nan)
        out[:-1] = future[1:]
        return out

    def fit(self, y: pd.Series) -> OverloadClassifier:
        check_params(self)
        series = prepare_series(y)
        x = series.to_numpy()
        self.freq_ = series.index.freq
        self.season_length_ = self.season_length or season_length_for(self.freq_)
        X = self._features(x)
        target = self._labels(x)
        warm = max(self.lags - 1, 0)
        ok = np.isfinite(target) & (np.arange(x.size) >= warm)
        X, target = X[ok], target[ok].astype(int)
        positives = int(target.sum())
        if positives < 2 * self.cv or positives > target.size - 2 * self.cv:
            raise DataError(
                f"The history has {positives} of {target.size} points followed by a value above "
                f"{self.threshold:g} within {self.window} steps; a classifier needs both outcomes "
                f"at least {2 * self.cv} times. Use a longer history or another threshold.",
                positives=positives,
                n=int(target.size),
            )
        base = self.estimator if self.estimator is not None else make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000)
        )
        self.model_ = CalibratedClassifierCV(
            sk_clone(base), method=self.method, cv=TimeSeriesSplit(n_splits=self.cv)
        ).fit(X, target)
        self.base_rate_ = float(target.mean())
        self.n_obs_ = x.size
        self._tail = x[-max(self.lags, max(self.rolling, default=1)) :].copy()
        self._tail_pos = x.size - self._tail.size
        return self

    def _check(self):
        if not hasattr(self, "model_"):
            raise NotFittedError("This OverloadClassifier is not fitted yet; call fit(y) first.")

    def predict_proba(self, y: pd.Series | None = None) -> pd.Series | float:
        """Probability of an overload in the next window.

        With no argument: from the end of the training data (a float). With a
        series: for every point of it, using only values up to that point.
        """
        self._check()
        if y is None:
            X = self._features(self._tail, self._tail_pos)[-1:]
            return float(self.model_.predict_proba(X)[0, 1])
        series = prepare_series(y)
        X = self._features(series.to_numpy())
        return pd.Series(self.model_.predict_proba(X)[:, 1], index=series.index, name="p_overload")

    def backtest(self, y: pd.Series, n_splits: int = 4, bins: int = 10) -> BrierReport:
        """Rolling-origin Brier score: fit on the past, score the next block, ``n_splits`` times."""
        series = prepare_series(y)
        x = series.to_numpy()
        target = self._labels(x)
        probs, truth, clim = [], [], []
        fold = x.size // (n_splits + 1)
        for k in range(1, n_splits + 1):
            cut = k * fold
            end = min(cut + fold, x.size)
            model = type(self)(**self.get_params()).fit(series.iloc[:cut])
            p = model.predict_proba(series.iloc[:end]).to_numpy()[cut:end]
            t = target[cut:end]
            ok = np.isfinite(t)
            probs.append(p[ok])
            truth.append(t[ok])
            clim.append(np.full(ok.sum(), model.base_rate_))
        p, t, c = (np.concatenate(a) for a in (probs, truth, clim))
        brier = float(np.mean((p - t) ** 2))
        brier_c = float(np.mean((c - t) ** 2))
        edges = np.linspace(0, 1, bins + 1)
        which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
        rel = pd.DataFrame({"bin": which, "p": p, "y": t}).groupby("bin").agg(
            predicted=("p", "mean"), observed=("y", "mean"), count=("y", "size")
        )
        return BrierReport(
            brier=brier,
            brier_climatology=brier_c,
            skill=1 - brier / brier_c if brier_c > 0 else float("nan"),
            base_rate=float(t.mean()),
            n=int(t.size),
            reliability=rel.reset_index(),
        )
