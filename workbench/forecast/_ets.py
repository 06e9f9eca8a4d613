"""Exponential smoothing (ETS) with automatic choice of form, on statsmodels' ``ETSModel``.

The adapter fits every admissible combination of error (additive, multiplicative),
trend (none, additive, additive damped) and seasonality (none, additive,
multiplicative) and keeps the one with the smallest AICc, as Hyndman et al.'s
``ets()`` does. Multiplicative forms need positive data; additive-error models
with multiplicative seasonality are left out (their forecast variance is
infinite). Seasonal forms are tried only with at least two full seasons.

Long seasonal periods (more than ``max_season_length`` steps, 24 by default:
52 weeks in weekly data, a day of 5-minute samples) get no seasonal states
(statsmodels would carry ``m`` of them; ``ets()`` and statsforecast drop such
seasons altogether). The season enters as ``K`` Fourier pairs instead: their
coefficients are fitted to the series minus its centred moving average (a
fixed seasonal profile, as in a classical decomposition, smoothed to ``K``
harmonics), non-seasonal ETS models what is left, and the profile is added
back to the forecasts. ``K`` (0 included: no season) is chosen by the AICc of
the whole model, ETS likelihood of the adjusted series plus the ``2K``
coefficients, so a weak or noisy season is left out rather than repeated.

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

from workbench._params import Each, Integral, Interval, Options
from workbench.errors import DataError
from workbench.forecast._base import SEASON_LENGTH, BaseForecaster
from workbench.forecast._fourier import fourier_terms, seasonal_profile

__all__ = ["ETS"]

_CHOICES = {"error": ("add", "mul"), "trend": (None, "add", "add_damped"), "seasonal": (None, "add", "mul")}


def _choice(key):
    """The constraint-table row of ``error``/``trend``/``seasonal``: "auto", one form, or a list of forms."""
    allowed = _CHOICES[key]
    return [Options("auto", *allowed), Each(Options(*allowed), min_len=1)]


def _as_tuple(value, key):
    """The forms to try (``value`` already checked against :func:`_choice`)."""
    if isinstance(value, str) and value == "auto":
        return _CHOICES[key]
    return tuple(value) if isinstance(value, list | tuple) else (value,)


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
        Longer periods enter as Fourier terms (see the module docstring).
    max_fourier : int
        Most Fourier pairs tried for a long season (``K`` from 0 to this, by AICc).
    initialization : {"auto", "heuristic", "estimated"}
        How initial states are obtained. "auto" uses the fast heuristic of
        Hyndman et al. when the series holds at least four seasons, else estimates.
    """

    min_obs = 4
    _parameter_constraints = {
        "error": _choice("error"),
        "trend": _choice("trend"),
        "seasonal": _choice("seasonal"),
        "season_length": SEASON_LENGTH,
        "max_season_length": [Interval(Integral, 1, None, closed="left")],
        "max_fourier": [Interval(Integral, 0, None, closed="left")],
        "initialization": [Options("auto", "heuristic", "estimated")],
    }

    def __init__(
        self,
        *,
        error="auto",
        trend="auto",
        seasonal="auto",
        season_length: int | None = None,
        max_season_length: int = 24,
        max_fourier: int = 8,
        initialization: str = "auto",
    ) -> None:
        self.error = error
        self.trend = trend
        self.seasonal = seasonal
        self.season_length = season_length
        self.max_season_length = max_season_length
        self.max_fourier = max_fourier
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
        m = self._season(self.season_length)
        self.season_length_ = m
        self.constant_ = bool(np.ptp(y) == 0)
        self.y_ = y.copy()
        self.fourier_K_ = 0
        self.fourier_beta_ = np.empty(0)
        if self.constant_:
            self.form_ = ("add", None, None)
            return
        long_season = m > self.max_season_length
        m_model = 1 if long_season else m
        self.model_season_ = m_model
        init = self.initialization
        if init == "auto":
            init = "heuristic" if y.size >= max(4 * m_model, 20) else "estimated"
        self.init_ = init
        best = self._search(y, m_model, init)
        if best is None:
            raise DataError(
                f"No ETS form could be estimated on this series of {y.size} points.", n=y.size
            )
        work = y
        if long_season and y.size >= 2 * m + 1:
            K, beta = self._choose_fourier(y, m, init, best)
            if K:
                work = y - fourier_terms(np.arange(y.size), m, K) @ beta
                again = self._search(work, 1, init)
                if again is not None:
                    best = again
                    self.fourier_K_, self.fourier_beta_ = K, beta
                else:
                    work = y
        self.work_ = work
        self.aicc_, self.form_, self.params_, _ = best

    def _search(self, y, m, init, forms=None):
        """(AICc, form, params) of the best admissible form on ``y``; None when none fits."""
        best = None
        with quiet():
            for form in forms or self._candidates(y, m):
                try:
                    res = self._model(y, form, m, init).fit(disp=False, maxiter=200)
                except Exception:  # a form that cannot be estimated on this series is skipped
                    continue
                score = res.aicc
                if np.isfinite(score) and (best is None or score < best[0]):
                    best = (score, form, np.asarray(res.params, dtype=float), float(res.llf))
        return best

    def _choose_fourier(self, y, m, init, best):
        """Fourier pairs for a long season by the AICc of the whole model (0: no season).

        Each ``K`` is scored with the form that won on the raw series (its
        additive-error twin when the adjusted series is not positive), counting
        the ``2K`` coefficients as parameters.
        """
        n = y.size

        def aicc(loglik, k):
            return -2 * loglik + 2 * k + 2 * k * (k + 1) / max(n - k - 1, 1)

        _, form0, params0, loglik0 = best
        chosen = (aicc(loglik0, params0.size), 0, np.empty(0))
        pos = np.arange(n)
        for K in range(1, min(int(self.max_fourier), m // 2) + 1):
            beta = seasonal_profile(y, m, K)
            adjusted = y - fourier_terms(pos, m, K) @ beta
            form = form0
            if form[0] == "mul" and not np.all(adjusted > 0):
                form = ("add", form[1], None)
            found = self._search(adjusted, 1, init, forms=[form])
            if found is None:
                continue
            _, _, params, loglik = found
            total = aicc(loglik, params.size + 2 * K)
            if total < chosen[0]:
                chosen = (total, K, beta)
        return chosen[1], chosen[2]

    @property
    def form_name_(self) -> str:
        e, t, s = self.form_
        code = {None: "N", "add": "A", "mul": "M", "add_damped": "Ad"}
        name = f"ETS({code[e]},{code[t]},{code[s]})"
        if self.fourier_K_:
            name += f" + Fourier(K={self.fourier_K_}, period {self.season_length_})"
        return name

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
        if self.fourier_K_:
            season = fourier_terms(np.arange(n, n + h), self.season_length_, self.fourier_K_) @ self.fourier_beta_
            mean = mean + season
            intervals = {lv: (lo + season, hi + season) for lv, (lo, hi) in intervals.items()}
        return mean, intervals
