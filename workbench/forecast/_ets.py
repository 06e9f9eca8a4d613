"""Exponential smoothing (ETS) with automatic choice of form, on statsmodels' ``ETSModel``.

The adapter fits every admissible combination of error (additive, multiplicative),
trend (none, additive, additive damped) and seasonality (none, additive,
multiplicative) and keeps the one with the smallest AICc, as Hyndman et al.'s
``ets()`` does. Multiplicative forms need positive data; additive-error models
with multiplicative seasonality are left out (their forecast variance is
infinite). Seasonal forms are tried only with at least two full seasons.

Long seasonal periods (more than ``max_season_length`` steps, e.g. a daily cycle
in 5-minute data) are handled like ``stlf``: an STL decomposition takes the
seasonal component out, ETS forecasts the seasonally adjusted series, and the
last seasonal cycle is added back.

statsmodels objects stay inside this module: the fitted state is the chosen form,
its parameters and the training values; prediction re-runs the filter with those
parameters (no re-estimation).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd

# statsmodels installs "always" filters for its warnings when this module is first
# imported; importing it here, before any quiet() block, keeps those blocks quiet.
import statsmodels.tools.sm_exceptions  # noqa: F401

from workbench.errors import DataError
from workbench.forecast._base import BaseForecaster

__all__ = ["ETS"]

_CHOICES = {"error": ("add", "mul"), "trend": (None, "add", "add_damped"), "seasonal": (None, "add", "mul")}


def _as_tuple(value, key):
    allowed = _CHOICES[key]
    if value == "auto":
        return allowed
    values = value if isinstance(value, list | tuple) else (value,)
    for v in values:
        if v not in allowed:
            raise DataError(
                f"{key}={v!r} is not one of 'auto', {', '.join(repr(a) for a in allowed)}.",
                param=key,
                value=repr(v),
            )
    return tuple(values)


@contextlib.contextmanager
def quiet():
    """Silence statsmodels' convergence chatter and numpy's floating-point warnings."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


class ETS(BaseForecaster):
    """Exponential smoothing state-space model with automatic form selection by AICc.

    Parameters
    ----------
    error, trend, seasonal : "auto" or a value or a list of values
        ``error`` in ("add", "mul"); ``trend`` in (None, "add", "add_damped");
        ``seasonal`` in (None, "add", "mul"). "auto" tries all of them.
    season_length : int, optional
        Seasonal period in steps; None takes the natural cycle of the frequency.
    max_season_length : int
        Longer periods are handled by STL decomposition (see the module docstring).
    initialization : {"auto", "heuristic", "estimated"}
        How initial states are obtained. "auto" uses the fast heuristic of
        Hyndman et al. when the series holds at least four seasons, else estimates.
    """

    min_obs = 4

    def __init__(
        self,
        *,
        error="auto",
        trend="auto",
        seasonal="auto",
        season_length: int | None = None,
        max_season_length: int = 48,
        initialization: str = "auto",
    ) -> None:
        self.error = error
        self.trend = trend
        self.seasonal = seasonal
        self.season_length = season_length
        self.max_season_length = max_season_length
        self.initialization = initialization

    def _candidates(self, y: np.ndarray, m: int):
        positive = bool(np.all(y > 0))
        errors = _as_tuple(self.error, "error")
        trends = _as_tuple(self.trend, "trend")
        seasonals = _as_tuple(self.seasonal, "seasonal")
        if m <= 1 or y.size < 2 * m + 2:
            seasonals = tuple(s for s in seasonals if s is None) or (None,)
        if y.size < 10:
            trends = tuple(t for t in trends if t is None) or (None,)
        out = []
        for e in errors:
            for t in trends:
                for s in seasonals:
                    if not positive and "mul" in (e, s):
                        continue
                    if e == "add" and s == "mul":
                        continue
                    out.append((e, t, s))
        if not out:
            raise DataError(
                f"No admissible ETS form for error={self.error!r}, trend={self.trend!r}, "
                f"seasonal={self.seasonal!r} on this series (multiplicative forms need every "
                "value > 0).",
                error=repr(self.error),
                seasonal=repr(self.seasonal),
            )
        return out

    def _model(self, y: np.ndarray, form, m: int, init: str):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        e, t, s = form
        return ETSModel(
            pd.Series(y),
            error=e,
            trend="add" if t else None,
            damped_trend=t == "add_damped",
            seasonal=s,
            seasonal_periods=m if s else None,
            initialization_method=init,
        )

    def _fit(self, y):
        if self.initialization not in ("auto", "heuristic", "estimated"):
            raise DataError(
                "initialization must be 'auto', 'heuristic' or 'estimated'; "
                f"got {self.initialization!r}.",
                initialization=self.initialization,
            )
        m = self._season(self.season_length)
        self.season_length_ = m
        self.constant_ = bool(np.ptp(y) == 0)
        self.y_ = y.copy()
        self.stl_seasonal_ = None
        if self.constant_:
            self.form_ = ("add", None, None)
            return
        work, m_model = y, m
        if m > self.max_season_length and y.size >= 2 * m + 1:
            from statsmodels.tsa.seasonal import STL

            with quiet():
                dec = STL(y, period=m, robust=True).fit()
            self.stl_seasonal_ = np.asarray(dec.seasonal)[-m:].copy()
            work = y - np.asarray(dec.seasonal)
            m_model = 1
        elif m > self.max_season_length:
            m_model = 1
        self.model_season_ = m_model
        self.work_ = work
        init = self.initialization
        if init == "auto":
            init = "heuristic" if work.size >= max(4 * m_model, 20) else "estimated"
        self.init_ = init
        best = None
        with quiet():
            for form in self._candidates(work, m_model):
                try:
                    res = self._model(work, form, m_model, init).fit(disp=False, maxiter=200)
                except Exception:  # a form that cannot be estimated on this series is skipped
                    continue
                score = res.aicc
                if np.isfinite(score) and (best is None or score < best[0]):
                    best = (score, form, np.asarray(res.params, dtype=float))
        if best is None:
            raise DataError(
                f"No ETS form could be estimated on this series of {y.size} points.", n=y.size
            )
        self.aicc_, self.form_, self.params_ = best

    @property
    def form_name_(self) -> str:
        e, t, s = self.form_
        code = {None: "N", "add": "A", "mul": "M", "add_damped": "Ad"}
        return f"ETS({code[e]},{code[t]},{code[s]})" + (" on STL-adjusted" if self.stl_seasonal_ is not None else "")

    def _predict(self, h, levels):
        if self.constant_:
            mean = np.full(h, self.y_[-1])
            return mean, {lv: (mean, mean) for lv in levels}
        n = self.work_.size
        with quiet():
            model = self._model(self.work_, self.form_, self.model_season_, self.init_)
            res = model.smooth(self.params_)
            pred = res.get_prediction(start=n, end=n + h - 1)
            mean = np.asarray(pred.predicted_mean, dtype=float)
            intervals = {}
            for lv in levels:
                frame = pred.summary_frame(alpha=1 - lv / 100.0)
                intervals[lv] = (frame["pi_lower"].to_numpy(float), frame["pi_upper"].to_numpy(float))
        if self.stl_seasonal_ is not None:
            season = self.stl_seasonal_[np.arange(h) % self.stl_seasonal_.size]
            mean = mean + season
            intervals = {lv: (lo + season, hi + season) for lv, (lo, hi) in intervals.items()}
        return mean, intervals
