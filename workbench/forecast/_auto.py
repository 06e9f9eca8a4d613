"""Automatic model choice: backtest the candidates, then select one or average the best.

``AutoForecaster`` runs a rolling-origin backtest of every candidate over the last
``n_windows`` windows of ``horizon`` steps, ranks them by the chosen metric (MASE
by default), and then either keeps the best (``combine="select"``), averages the
``top_k`` best with equal weights (``"ensemble"``; equal weights are the robust
choice, the "forecast combination puzzle"), or lets the backtest decide between
those two (``"auto"``, the default). The chosen models are then refitted on the
whole series. Ensemble intervals average the members' bounds (quantile averaging).

A candidate that cannot fit a series (too short, wrong sign for a log
transform...) is skipped and recorded in ``errors_``; when no candidate can be
backtested the fallback is a seasonal naive forecast, and ``fallback_`` says why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.forecast._backtest import backtest
from workbench.forecast._base import BaseForecaster, clone
from workbench.forecast._baselines import Naive, SeasonalNaive
from workbench.forecast._ets import ETS
from workbench.forecast._regression import Regression

__all__ = ["AutoForecaster", "Ensemble", "default_models"]

_METRICS = ("mase", "smape", "mae", "rmse")
_COMBINE = ("auto", "select", "ensemble")


def default_models(season_length: int | None = None) -> list[BaseForecaster]:
    """The default candidates: seasonal naive, ETS, and a lag regression."""
    return [
        SeasonalNaive(season_length=season_length),
        ETS(season_length=season_length),
        Regression(season_length=season_length),
    ]


def _label(model) -> str:
    return getattr(model, "name", type(model).__name__)


class Ensemble(BaseForecaster):
    """Weighted average of fitted forecasters' means and interval bounds."""

    min_obs = 1

    def __init__(self, models=(), weights=None) -> None:
        self.models = models
        self.weights = weights

    def _fit(self, y):
        if not self.models:
            raise DataError("Ensemble needs at least one model.")
        series = pd.Series(y, index=pd.date_range(end=self.last_timestamp_, periods=y.size, freq=self.freq_))
        self.models_ = [clone(m).fit(series) for m in self.models]
        w = np.ones(len(self.models_)) if self.weights is None else np.asarray(self.weights, float)
        if w.shape != (len(self.models_),) or np.any(w < 0) or w.sum() <= 0:
            raise DataError(
                f"weights must be {len(self.models_)} non-negative numbers that are not all 0; "
                f"got {self.weights!r}."
            )
        self.weights_ = w / w.sum()

    def _predict(self, h, levels):
        frames = [m.predict(h, level=levels) for m in self.models_]
        return _combine(frames, self.weights_, levels)


def _combine(frames, weights, levels):
    mean = sum(w * f["mean"].to_numpy() for w, f in zip(weights, frames, strict=True))
    intervals = {}
    for lv in levels:
        name = f"{lv:g}"
        lo = sum(w * f[f"lo_{name}"].to_numpy() for w, f in zip(weights, frames, strict=True))
        hi = sum(w * f[f"hi_{name}"].to_numpy() for w, f in zip(weights, frames, strict=True))
        intervals[lv] = (lo, hi)
    return mean, intervals


class AutoForecaster(BaseForecaster):
    """Pick or ensemble forecasters by rolling-origin backtest (see the module docstring).

    Parameters
    ----------
    models : list of forecasters, optional
        Candidates; default :func:`default_models`.
    horizon : int, optional
        Steps ahead the backtest scores; default one season (at least 12 steps).
    n_windows : int
        Backtest windows.
    metric : {"mase", "smape", "mae", "rmse"}
    combine : {"auto", "select", "ensemble"}
    top_k : int
        Members of the ensemble.
    season_length : int, optional
        Passed to the default candidates and used for MASE.
    """

    min_obs = 1

    def __init__(
        self,
        models=None,
        *,
        horizon: int | None = None,
        n_windows: int = 3,
        metric: str = "mase",
        combine: str = "auto",
        top_k: int = 2,
        season_length: int | None = None,
    ) -> None:
        self.models = models
        self.horizon = horizon
        self.n_windows = n_windows
        self.metric = metric
        self.combine = combine
        self.top_k = top_k
        self.season_length = season_length

    def _fit(self, y):
        if self.metric not in _METRICS:
            raise DataError(f"metric must be one of {', '.join(_METRICS)}; got {self.metric!r}.")
        if self.combine not in _COMBINE:
            raise DataError(f"combine must be one of {', '.join(_COMBINE)}; got {self.combine!r}.")
        m = self._season(self.season_length)
        candidates = list(self.models) if self.models is not None else default_models(self.season_length)
        if not candidates:
            raise DataError("AutoForecaster needs at least one candidate model.")
        labels = _unique_labels(candidates)
        series = pd.Series(
            y, index=pd.date_range(end=self.last_timestamp_, periods=y.size, freq=self.freq_)
        )
        h = self.horizon or max(m, 12)
        n_windows = self.n_windows
        # Shrink the backtest on short series rather than refuse: keep half the data to learn from.
        while n_windows > 1 and h * n_windows > y.size // 2:
            n_windows -= 1
        h = min(h, max(y.size // 4, 1))
        self.errors_ = {}
        self.fallback_ = None
        results = {}
        if y.size >= 8:
            for label, model in zip(labels, candidates, strict=True):
                try:
                    results[label] = backtest(model, series, h=h, n_windows=n_windows, level=(80, 95),
                                              season_length=m)
                except Exception as exc:  # a candidate unfit for this series is skipped
                    self.errors_[label] = f"{type(exc).__name__}: {exc}"
        rows = [{"model": k, **{s: r.summary[s] for s in _METRICS}} for k, r in results.items()]
        self.scores_ = pd.DataFrame(rows, columns=["model", *_METRICS])
        by_label = dict(zip(labels, candidates, strict=True))
        if not results or not np.isfinite(self.scores_[self.metric]).any():
            self.fallback_ = (
                f"no candidate could be backtested on {y.size} points; seasonal naive used"
            )
            chosen = [SeasonalNaive(season_length=self.season_length) if y.size > m else Naive()]
            weights = [1.0]
            self.chosen_ = ["SeasonalNaive" if y.size > m else "Naive"]
        else:
            ranked = self.scores_.dropna(subset=[self.metric]).sort_values(self.metric)
            order = list(ranked["model"])
            best_single = order[0]
            members = order[: max(1, int(self.top_k))]
            use_ensemble = self.combine == "ensemble" and len(members) > 1
            if self.combine == "auto" and len(members) > 1:
                ens_score = _ensemble_score([results[k] for k in members], self.metric)
                self.ensemble_score_ = ens_score
                use_ensemble = ens_score < float(ranked[self.metric].iloc[0])
            self.chosen_ = members if use_ensemble else [best_single]
            chosen = [by_label[k] for k in self.chosen_]
            weights = [1.0] * len(chosen)
        self.fitted_ = []
        self.weights_ = []
        for label, model, w in zip(self.chosen_, chosen, weights, strict=True):
            try:
                self.fitted_.append(clone(model).fit(series))
                self.weights_.append(w)
            except Exception as exc:
                self.errors_[label] = f"{type(exc).__name__}: {exc}"
        if not self.fitted_:
            self.fallback_ = "the chosen models failed on the whole series; naive used"
            self.fitted_ = [Naive().fit(series)]
            self.weights_ = [1.0]
            self.chosen_ = ["Naive"]
        w = np.asarray(self.weights_, dtype=float)
        self.weights_ = w / w.sum()

    def _predict(self, h, levels):
        frames = [m.predict(h, level=levels) for m in self.fitted_]
        return _combine(frames, self.weights_, levels)


def _ensemble_score(results, metric: str) -> float:
    frames = [r.forecasts for r in results]
    mean = np.mean([f["mean"].to_numpy() for f in frames], axis=0)
    y = frames[0]["y"].to_numpy()
    err = y - mean
    if metric == "mase":
        scale = frames[0]["scale"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.abs(err) / scale
        scaled = scaled[np.isfinite(scaled)]
        return float(np.mean(scaled)) if scaled.size else float("inf")
    if metric == "smape":
        denom = np.abs(y) + np.abs(mean)
        return float(np.mean(np.where(denom == 0, 0.0, 200 * np.abs(err) / np.where(denom == 0, 1, denom))))
    if metric == "mae":
        return float(np.mean(np.abs(err)))
    return float(np.sqrt(np.mean(err**2)))


def _unique_labels(models) -> list[str]:
    labels, seen = [], {}
    for model in models:
        base = _label(model)
        seen[base] = seen.get(base, 0) + 1
        labels.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return labels

