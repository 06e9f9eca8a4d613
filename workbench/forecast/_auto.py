"""Automatic model choice: backtest the candidates, select one or average the best, calibrate.

``AutoForecaster`` works in four steps.

1. **Candidates.** The defaults depend on how seasonal the series is (the STL
   seasonal strength that :func:`detect_seasonality` reports, at the season
   length). With a clear season (strength >= 0.64, the threshold ``auto.arima``
   uses for a seasonal difference): seasonal naive, ETS and a lag regression.
   Without one (system metrics such as CPU are mostly level shifts and bursts
   with a weak daily cycle): naive, a non-seasonal ARIMA and the regression.
   A seasonal naive on such data repeats yesterday's bursts, and it won
   short backtests by luck often enough to be a trap.
2. **Backtest.** A rolling-origin backtest of every candidate over
   ``n_windows`` windows of ``horizon`` steps (the horizon you will ask for),
   half a horizon apart by default: more, overlapping windows average out
   the bursts that decide a three-window backtest.
3. **Selection.** Candidates are ranked by the metric (MASE by default).
   When the backtest cannot separate them (a candidate within ``tolerance``,
   5 % by default, of the best) the simplest wins, simplest meaning first in
   the candidate list (the defaults are listed simplest first). Then the
   choice is shrunk toward a robust default, ``prefer`` (the lag regression
   among the default candidates): the default stays unless the other model
   beats it by more than the tolerance *and* by more than ``confidence`` (2)
   standard errors of the paired per-window differences. On bursty CPU data a
   six-window backtest is often decided by one burst; before this rule the
   "simplest within 5 %" took naive or ARIMA on such noise and lost to the
   regression on later days (issue 16, ``docs/benchmarks/forecast.md``).
   ``combine`` then keeps that model (``"select"``), averages the ``top_k``
   best (``"ensemble"``; ``weights="equal"`` by default, the robust choice of
   the "forecast combination puzzle", or ``"inverse"`` to the backtest error),
   or lets the backtest decide (``"auto"``, the default: the average is kept
   only when it beats the selected model by more than the tolerance). The
   chosen models are refitted on the whole series.
4. **Calibration.** The intervals of the chosen forecast are rescaled so that
   they would have covered the stated share of the backtest's truths
   (split-conformal on normalised scores: the error divided by the model's own
   half-width, per block of horizon steps). A model's intervals keep their
   shape over the horizon but not their possibly wrong width: bursty CPU data
   has fatter tails than any Gaussian model assumes.

A candidate that cannot fit a series (too short, wrong sign for a log
transform...) is skipped and recorded in ``errors_``; when no candidate can be
backtested the fallback is a seasonal naive forecast, and ``fallback_`` says why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.forecast._arima import ARIMA, seasonal_strength
from workbench.forecast._backtest import backtest
from workbench.forecast._base import BaseForecaster, clone
from workbench.forecast._baselines import Naive, SeasonalNaive
from workbench.forecast._ets import ETS
from workbench.forecast._regression import Regression

__all__ = ["AutoForecaster", "Ensemble", "default_models", "WEAK_SEASON"]

_METRICS = ("mase", "smape", "mae", "rmse")
_COMBINE = ("auto", "select", "ensemble")
_WEIGHTS = ("equal", "inverse")

#: The robust default among the default candidates (``prefer="auto"``).
DEFAULT_PREFERRED = "Regression"


#: Seasonal strength below which the defaults treat a series as non-seasonal.
WEAK_SEASON = 0.64


def default_models(season_length: int | None = None, strength: float | None = None) -> list[BaseForecaster]:
    """The default candidates, simplest first.

    ``strength`` is the seasonal strength of the series at ``season_length``
    (None: assume a clear season). Seasonal series get seasonal naive, ETS and a
    lag regression; series whose season is weak (below :data:`WEAK_SEASON`) get
    naive, a non-seasonal ARIMA and the regression.
    """
    if strength is not None and strength < WEAK_SEASON:
        return [
            Naive(),
            ARIMA(season_length=1),
            Regression(season_length=season_length),
        ]
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
        Candidates, simplest first; default :func:`default_models` for the
        seasonal strength of the series.
    horizon : int, optional
        Steps ahead the backtest scores; pass the horizon you will forecast.
        Default one season (at least 12 steps).
    n_windows : int
        Backtest windows (fewer on short series: half the data stays for learning).
    step : int, optional
        Steps between backtest origins; default half the horizon.
    metric : {"mase", "smape", "mae", "rmse"}
    combine : {"auto", "select", "ensemble"}
    top_k : int
        Members of the ensemble.
    tolerance : float
        Relative margin within which the backtest is taken not to separate two
        candidates (the simpler one is kept).
    prefer : str or None
        Label of the robust default the choice shrinks toward (kept unless
        beaten by the tolerance and ``confidence`` standard errors). ``"auto"``:
        ``"Regression"`` for the default candidates, none for your own list;
        None: the simplest-within-tolerance rule alone (the rule before issue 16).
    confidence : float
        Standard errors of the paired per-window backtest differences by which
        a rival must beat ``prefer``.
    weights : {"equal", "inverse"}
        Ensemble weights: equal, or inversely proportional to the backtest metric.
    calibrate : bool
        Rescale the 80 and 95 % intervals to the backtest's coverage
        (conformal); other levels keep the chosen models' own widths.
    season_length : int, optional
        Passed to the default candidates and used for MASE.
    """

    min_obs = 1

    def __init__(
        self,
        models=None,
        *,
        horizon: int | None = None,
        n_windows: int = 6,
        step: int | None = None,
        metric: str = "mase",
        combine: str = "auto",
        top_k: int = 2,
        tolerance: float = 0.05,
        prefer: str | None = "auto",
        confidence: float = 2.0,
        weights: str = "equal",
        calibrate: bool = True,
        season_length: int | None = None,
    ) -> None:
        self.models = models
        self.horizon = horizon
        self.n_windows = n_windows
        self.step = step
        self.metric = metric
        self.combine = combine
        self.top_k = top_k
        self.tolerance = tolerance
        self.prefer = prefer
        self.confidence = confidence
        self.weights = weights
        self.calibrate = calibrate
        self.season_length = season_length

    def _fit(self, y):
        if self.metric not in _METRICS:
            raise DataError(f"metric must be one of {', '.join(_METRICS)}; got {self.metric!r}.")
        if self.combine not in _COMBINE:
            raise DataError(f"combine must be one of {', '.join(_COMBINE)}; got {self.combine!r}.")
        if not (isinstance(self.tolerance, int | float) and 0 <= self.tolerance < 1):
            raise DataError(
                f"tolerance must be a number in [0, 1), a relative margin such as 0.05; "
                f"got {self.tolerance!r}."
            )
        if self.weights not in _WEIGHTS:
            raise DataError(f"weights must be one of {', '.join(_WEIGHTS)}; got {self.weights!r}.")
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, int | float) or self.confidence < 0:
            raise DataError(
                f"confidence must be a number >= 0 (standard errors, e.g. 1.0); got {self.confidence!r}."
            )
        m = self._season(self.season_length)
        # Only the default candidates depend on it (an STL fit): not measured otherwise.
        self.season_strength_ = None
        if self.models is not None:
            candidates = list(self.models)
        else:
            self.season_strength_ = seasonal_strength(y, m) if m > 1 else 0.0
            candidates = default_models(self.season_length, self.season_strength_)
        if not candidates:
            raise DataError("AutoForecaster needs at least one candidate model.")
        labels = _unique_labels(candidates)
        preferred = self.prefer
        if preferred == "auto":
            preferred = DEFAULT_PREFERRED if self.models is None else None
        if preferred is not None and preferred not in labels:
            raise DataError(
                f"prefer must be the label of a candidate ({', '.join(labels)}), 'auto' or None; "
                f"got {self.prefer!r}."
            )
        series = pd.Series(
            y, index=pd.date_range(end=self.last_timestamp_, periods=y.size, freq=self.freq_)
        )
        h = self.horizon or max(m, 12)
        h = min(h, max(y.size // 4, 1))
        step = self.step or max(h // 2, 1)
        n_windows = self.n_windows
        # Shrink the backtest on short series rather than refuse: keep half the data to learn from.
        while n_windows > 1 and h + step * (n_windows - 1) > y.size // 2:
            n_windows -= 1
        self.errors_ = {}
        self.fallback_ = None
        self.calibration_ = {}
        results = {}
        if y.size >= 8:
            for label, model in zip(labels, candidates, strict=True):
                try:
                    results[label] = backtest(model, series, h=h, n_windows=n_windows, step=step,
                                              level=(80, 95), season_length=m)
                except Exception as exc:  # a candidate unfit for this series is skipped
                    self.errors_[label] = f"{type(exc).__name__}: {exc}"
        rows = [{"model": k, **{s: r.summary[s] for s in _METRICS}} for k, r in results.items()]
        self.scores_ = pd.DataFrame(rows, columns=["model", *_METRICS])
        by_label = dict(zip(labels, candidates, strict=True))
        backtest_frame = None
        weights = None
        if not results or not np.isfinite(self.scores_[self.metric]).any():
            self.fallback_ = (
                f"no candidate could be backtested on {y.size} points; seasonal naive used"
            )
            chosen = [SeasonalNaive(season_length=self.season_length) if y.size > m else Naive()]
            self.chosen_ = ["SeasonalNaive" if y.size > m else "Naive"]
        else:
            self.chosen_, weights = self._select(labels, results, preferred)
            chosen = [by_label[k] for k in self.chosen_]
            backtest_frame = _average_frames([results[k].forecasts for k in self.chosen_], weights)
        self.fitted_ = []
        fitted_labels = []
        for label, model in zip(self.chosen_, chosen, strict=True):
            try:
                self.fitted_.append(clone(model).fit(series))
                fitted_labels.append(label)
            except Exception as exc:
                self.errors_[label] = f"{type(exc).__name__}: {exc}"
        if fitted_labels != self.chosen_:
            backtest_frame = None  # the calibration was measured on another combination
        if not self.fitted_:
            self.fallback_ = "the chosen models failed on the whole series; naive used"
            self.fitted_ = [Naive().fit(series)]
            fitted_labels = ["Naive"]
        if fitted_labels != self.chosen_ or weights is None:
            weights = np.ones(len(self.fitted_))
        self.chosen_ = fitted_labels
        self.weights_ = np.asarray(weights, float) / np.sum(weights)
        if self.calibrate and backtest_frame is not None:
            self.calibration_ = _calibration(backtest_frame, (80.0, 95.0))

    def _select(self, labels, results, preferred=None) -> tuple[list[str], np.ndarray]:
        """Labels and weights of the chosen model(s): see the module docstring, step 3."""
        score = {k: float(results[k].summary[self.metric]) for k in results}
        valid = [k for k in labels if k in score and np.isfinite(score[k])]  # simplest first
        best = min(score[k] for k in valid)
        margin = 1.0 + float(self.tolerance)
        selected = next(k for k in valid if score[k] <= best * margin)
        self.selection_ = {"best": min(valid, key=lambda k: score[k]), "simplest_near_best": selected,
                           "preferred": preferred, "t": None}
        if preferred in valid and selected != preferred:
            # Shrink toward the robust default: the rival must beat it by more than the
            # tolerance *and* by more than ``confidence`` standard errors of the paired
            # per-window differences (a backtest decided by one burst is noise, not evidence).
            diff = (_window_scores(results[preferred].forecasts, self.metric)
                    - _window_scores(results[selected].forecasts, self.metric))
            diff = diff[np.isfinite(diff)]
            t = _paired_t(diff)
            self.selection_["t"] = t
            clear = score[selected] * margin < score[preferred] and t > float(self.confidence)
            if not clear:
                selected = preferred
        self.selection_["selected"] = selected
        self.selected_score_ = score[selected]
        members = sorted(valid, key=lambda k: score[k])[: max(1, int(self.top_k))]
        if len(members) < 2 or self.combine == "select":
            return [selected], np.ones(1)
        if self.weights == "inverse":
            w = np.array([1.0 / max(score[k], 1e-12) for k in members])
        else:
            w = np.ones(len(members))
        w = w / w.sum()
        if self.combine == "ensemble":
            return members, w
        ens_score = _ensemble_score([results[k] for k in members], self.metric, w)
        self.ensemble_score_ = ens_score
        # The average is the less simple choice: it must beat the selected model clearly.
        if ens_score * margin < score[selected]:
            return members, w
        return [selected], np.ones(1)

    def _predict(self, h, levels):
        frames = [m.predict(h, level=levels) for m in self.fitted_]
        mean, intervals = _combine(frames, self.weights_, levels)
        if self.calibration_:
            intervals = {lv: _apply_calibration(mean, lo, hi, self.calibration_, lv)
                         for lv, (lo, hi) in intervals.items()}
        return mean, intervals


def _average_frames(frames: list[pd.DataFrame], weights=None) -> pd.DataFrame:
    """Backtest forecasts of the weighted (default: equal-weight) average of several models."""
    w = np.full(len(frames), 1.0 / len(frames)) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    out = frames[0].copy()
    cols = [c for c in out.columns if c == "mean" or c.startswith(("lo_", "hi_"))]
    for c in cols:
        out[c] = sum(wi * f[c].to_numpy() for wi, f in zip(w, frames, strict=True))
    return out


_BLOCK_ENDS = (1 / 12, 1 / 4, 1 / 2, 1)  # horizon blocks calibrated separately, short ones first
_MIN_SCORES = 20  # fewer backtest points in a block: keep the model's own width


def _blocks(h: int) -> list[np.ndarray]:
    """Contiguous blocks of horizon steps (1-based), shorter near the origin.

    The first steps get their own factor because their errors are a different
    kind (the next burst) from those far out (the level); with ``h = 144``
    the blocks end at steps 12, 36, 72 and 144.
    """
    ends = sorted({max(1, int(np.ceil(h * f))) for f in _BLOCK_ENDS})
    starts = [1] + [e + 1 for e in ends[:-1]]
    return [np.arange(a, b + 1) for a, b in zip(starts, ends, strict=True)]


def _calibration(frame: pd.DataFrame, levels) -> dict:
    """Per level and block of steps, the factor that makes the half-widths cover the backtest.

    The score of a backtest point is its error divided by the model's half-width
    on that side; the conformal factor is the ``ceil((n + 1) L) / n`` empirical
    quantile of the scores, so that the rescaled interval covers a share ``L``.
    """
    h = int(frame["step"].max())
    y = frame["y"].to_numpy()
    mean = frame["mean"].to_numpy()
    step = frame["step"].to_numpy()
    out = {"h": h, "blocks": [(int(b[0]), int(b[-1])) for b in _blocks(h)]}
    for lv in levels:
        name = f"{lv:g}"
        if f"lo_{name}" not in frame:
            continue
        lo, hi = frame[f"lo_{name}"].to_numpy(), frame[f"hi_{name}"].to_numpy()
        width = np.where(y >= mean, hi - mean, mean - lo)
        err = np.abs(y - mean)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(width > 0, err / width, np.where(err == 0, 0.0, np.nan))
        factors = []
        for first, last in out["blocks"]:
            s = score[(step >= first) & (step <= last)]
            s = s[np.isfinite(s)]
            if s.size < _MIN_SCORES:
                factors.append(float("nan"))  # too thin: taken from the neighbouring blocks
                continue
            q = min(1.0, np.ceil((s.size + 1) * lv / 100.0) / s.size)
            factors.append(float(np.quantile(s, q, method="higher")))
        out[lv] = factors
    return out


def _apply_calibration(mean, lo, hi, calibration: dict, level: float):
    """Rescale the half-widths of one interval level by the backtest's factors (never narrowing with h)."""
    factors = calibration.get(level)
    if factors is None:
        return lo, hi
    centres = np.array([(a + b) / 2 for a, b in calibration["blocks"]])
    factors = np.asarray(factors, dtype=float)
    ok = np.isfinite(factors)
    if not ok.any():
        return lo, hi
    # Linear between block centres (a step function would jump at block edges);
    # steps past the backtest horizon keep the last factor.
    scale = np.interp(np.arange(1, mean.size + 1), centres[ok], factors[ok])
    # Blocks get different factors; uncertainty must still not shrink with the horizon.
    # The closest non-decreasing widths (least squares), not the running maximum: that
    # one carries every upward blip to the end of the horizon and over-covers.
    below = _isotonic(np.maximum(scale * (mean - lo), 0.0))
    above = _isotonic(np.maximum(scale * (hi - mean), 0.0))
    return mean - below, mean + above


def _isotonic(x: np.ndarray) -> np.ndarray:
    """Least-squares non-decreasing fit to ``x`` (pool adjacent violators)."""
    values, counts = [], []
    for v in np.asarray(x, dtype=float):
        values.append(v)
        counts.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            n = counts[-2] + counts[-1]
            values[-2] = (values[-2] * counts[-2] + values[-1] * counts[-1]) / n
            counts[-2] = n
            values.pop()
            counts.pop()
    return np.repeat(values, counts)


def _ensemble_score(results, metric: str, weights=None) -> float:
    frames = [r.forecasts for r in results]
    w = np.full(len(frames), 1.0 / len(frames)) if weights is None else np.asarray(weights, float)
    mean = sum(wi * f["mean"].to_numpy() for wi, f in zip(w, frames, strict=True))
    return _score(frames[0]["y"].to_numpy(), mean, frames[0]["scale"].to_numpy(), metric)


def _score(y, mean, scale, metric: str) -> float:
    err = y - mean
    if metric == "mase":
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


def _window_scores(frame: pd.DataFrame, metric: str) -> np.ndarray:
    """The backtest metric of each window, oldest first."""
    return np.array([
        _score(g["y"].to_numpy(), g["mean"].to_numpy(), g["scale"].to_numpy(), metric)
        for _, g in frame.groupby("window", sort=True)
    ])


def _paired_t(diff: np.ndarray) -> float:
    """Mean of paired differences over its standard error (inf when they all agree, 0 when none)."""
    if diff.size == 0:
        return 0.0
    mean = float(np.mean(diff))
    if diff.size < 2:
        return float(np.sign(mean)) * np.inf if mean else 0.0
    se = float(np.std(diff, ddof=1)) / np.sqrt(diff.size)
    if se == 0:
        return float(np.sign(mean)) * np.inf if mean else 0.0
    return mean / se


def _unique_labels(models) -> list[str]:
    labels, seen = [], {}
    for model in models:
        base = _label(model)
        seen[base] = seen.get(base, 0) + 1
        labels.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return labels

