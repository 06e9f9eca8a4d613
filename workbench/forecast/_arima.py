"""ARIMA with automatic order selection (Hyndman & Khandakar 2008), on statsmodels' SARIMAX.

Order selection, as ``auto.arima`` does it:

1. ``D`` (seasonal differences, 0 or 1): 1 when the STL seasonal strength
   ``max(0, 1 - Var(R) / Var(S + R))`` exceeds 0.64 (Wang, Smith & Hyndman 2006;
   ``nsdiffs(test="seas")``).
2. ``d`` (0..2): repeated KPSS tests at 5 % on the (seasonally) differenced series,
   with ``auto.arima``'s short lag truncation (see :func:`ndiffs`).
3. ``p, q, P, Q`` and the constant: a stepwise search over neighbouring models
   from four starting models, keeping the one with the smallest AICc. During
   the search each candidate is estimated by conditional sum of squares (CSS) on
   a common conditioning window, which is how ``auto.arima`` approximates on long
   series; non-stationary or non-invertible candidates are rejected.

The chosen model is handed to statsmodels' ``SARIMAX`` for the forecasts and their
intervals (``method="css"``: the CSS estimates are used as they are; ``"css-ml"``:
they start a maximum-likelihood refinement).

Long seasonal periods (more than ``max_season_length`` steps, such as a daily cycle
in 5-minute data) are not given a seasonal ARIMA part: the season enters as
Fourier terms (``K`` pairs, 0 included, chosen by AICc) in a regression with ARIMA errors
(dynamic harmonic regression).

statsmodels objects stay inside this module; the fitted state is the order,
parameters and training data, and prediction re-runs the Kalman filter.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, signal

from workbench._params import Each, Integral, Interval, Options
from workbench.errors import DataError
from workbench.forecast._base import SEASON_LENGTH, BaseForecaster
from workbench.forecast._ets import quiet
from workbench.forecast._fourier import fourier_terms

__all__ = ["ARIMA", "seasonal_strength", "ndiffs", "nsdiffs"]

_BURN_IN = 0  # extra seasons left out of the CSS sum of squares


# -- unit-root and seasonality tests --------------------------------------------------------
def seasonal_strength(y: np.ndarray, m: int) -> float:
    """STL seasonal strength in [0, 1] (0 when the series is shorter than two seasons)."""
    y = np.asarray(y, dtype=float)
    if m < 2 or y.size < 2 * m + 1 or np.ptp(y) == 0:
        return 0.0
    from statsmodels.tsa.seasonal import STL

    with quiet():
        dec = STL(y, period=m, robust=True).fit()
    resid = np.asarray(dec.resid)
    sr = np.asarray(dec.seasonal) + resid
    var_sr = np.var(sr)
    if var_sr == 0:
        return 0.0
    return float(max(0.0, 1.0 - np.var(resid) / var_sr))


def nsdiffs(y: np.ndarray, m: int, threshold: float = 0.64) -> int:
    """Seasonal differences needed (0 or 1) by the seasonal-strength rule."""
    return int(seasonal_strength(y, m) > threshold)


def ndiffs(y: np.ndarray, alpha: float = 0.05, max_d: int = 2) -> int:
    """First differences needed (0..max_d) by repeated KPSS level-stationarity tests.

    The long-run variance uses ``floor(3 * sqrt(n) / 13)`` lags, the short
    truncation of ``tseries::kpss.test`` that ``auto.arima`` (and statsforecast)
    use. statsmodels' data-driven ``nlags="auto"`` can disagree: on M4's H261
    (seasonally differenced) it took 16 lags and rejected stationarity
    (p = 0.03) where the short rule does not (p > 0.1), and the d=1 it led to
    forecast that series half as well as d=0.
    """
    from statsmodels.tsa.stattools import kpss

    x = np.asarray(y, dtype=float)
    d = 0
    while d < max_d and x.size > 10 and np.ptp(x) > 0:
        with quiet():
            try:
                nlags = int(np.floor(3 * np.sqrt(x.size) / 13))
                pvalue = kpss(x, regression="c", nlags=nlags)[1]
            except (ValueError, OverflowError):
                break
        if pvalue >= alpha:
            break
        x = np.diff(x)
        d += 1
    return d


# -- conditional sum of squares ---------------------------------------------------------------
def _poly(coefs, step: int, sign: float) -> np.ndarray:
    """Coefficients of ``1 + sign * (c1 B^step + c2 B^2step + ...)``."""
    out = np.zeros(len(coefs) * step + 1)
    out[0] = 1.0
    for i, c in enumerate(coefs, start=1):
        out[i * step] = sign * c
    return out


def _split(params, order):
    p, q, P, Q, const = order
    i = 0
    phi = params[i : i + p]
    i += p
    theta = params[i : i + q]
    i += q
    Phi = params[i : i + P]
    i += P
    Theta = params[i : i + Q]
    i += Q
    mu = params[i] if const else 0.0
    return phi, theta, Phi, Theta, mu


def _polys(params, order, s):
    phi, theta, Phi, Theta, mu = _split(params, order)
    ar = np.convolve(_poly(phi, 1, -1.0), _poly(Phi, s, -1.0))
    ma = np.convolve(_poly(theta, 1, 1.0), _poly(Theta, s, 1.0))
    return ar, ma, mu


def _roots_ok(coefs, sign: float, limit: float = 1.001) -> bool:
    """All roots of ``1 + sign * (c1 z + c2 z^2 ...)`` lie outside the circle of radius ``limit``."""
    if len(coefs) == 0:
        return True
    poly = np.concatenate([[1.0], sign * np.asarray(coefs)])
    roots = np.roots(poly[::-1])
    return bool(np.all(np.abs(roots) > limit))


def _css_fit(w: np.ndarray, order, s: int, ncond: int):
    """CSS estimates and AICc for an ARMA(p,q)(P,Q)s with optional mean on ``w``."""
    p, q, P, Q, const = order
    k = p + q + P + Q + int(const)
    n_eff = w.size - ncond
    if k == 0:
        resid = w[ncond:]
        params = np.empty(0)
    else:
        x0 = np.zeros(k)
        if const:
            x0[-1] = float(np.mean(w))

        def resid_fn(params):
            ar, ma, mu = _polys(params, order, s)
            e = signal.lfilter(ar, ma, w - mu)
            return e[ncond:]

        try:
            sol = optimize.least_squares(resid_fn, x0, method="lm", max_nfev=200 * (k + 1))
        except (ValueError, np.linalg.LinAlgError):
            return None
        params = sol.x
        phi, theta, Phi, Theta, _ = _split(params, order)
        if not (
            _roots_ok(phi, -1.0)
            and _roots_ok(Phi, -1.0)
            # an MA root on the unit circle (over-differencing of a deterministic season)
            # still forecasts well; only clearly non-invertible fits are rejected
            and _roots_ok(theta, 1.0, 0.98)
            and _roots_ok(Theta, 1.0, 0.98)
        ):
            return None
        resid = resid_fn(params)
    ss = float(np.sum(resid**2))
    if not np.isfinite(ss) or ss <= 0 or n_eff - k - 2 <= 0:
        return None
    sigma2 = ss / n_eff
    loglik = -0.5 * n_eff * (np.log(2 * np.pi * sigma2) + 1)
    npar = k + 1
    aicc = -2 * loglik + 2 * npar + 2 * npar * (npar + 1) / (n_eff - npar - 1)
    return aicc, params, sigma2


def _difference(y: np.ndarray, d: int, D: int, s: int) -> np.ndarray:
    w = y
    for _ in range(D):
        w = w[s:] - w[:-s]
    for _ in range(d):
        w = np.diff(w)
    return w


class ARIMA(BaseForecaster):
    """Seasonal ARIMA with automatic order selection (see the module docstring).

    Parameters
    ----------
    order, seasonal_order : tuple, optional
        Fix ``(p, d, q)`` and/or ``(P, D, Q)``; None searches. A fixed order still
        decides the constant by AICc unless ``include_constant`` is given.
    season_length : int, optional
        Seasonal period in steps; None takes the natural cycle of the frequency.
    max_p, max_q, max_P, max_Q, max_order, max_d, max_D : int
        Bounds of the search (``auto.arima``'s defaults; ``max_order`` bounds
        ``p + q + P + Q`` in the full and the seasonal search; a non-seasonal
        stepwise search may pass it, as ``auto.arima``'s does).
    include_constant : bool, optional
        Force the constant/drift in or out; None lets AICc decide (only when
        ``d + D <= 1``).
    stepwise : bool
        Stepwise search (default) or every model within the bounds.
    method : {"css", "css-ml"}
        Estimation of the final model.
    max_season_length : int
        Longer periods become Fourier terms instead of a seasonal ARIMA part.
    max_fourier : int
        Most Fourier pairs tried for a long season.
    """

    min_obs = 8
    _parameter_constraints = {
        "order": [None, Each(Interval(Integral, 0, None, closed="left"), length=3, doc="as (p, d, q)")],
        "seasonal_order": [None, Each(Interval(Integral, 0, None, closed="left"), min_len=3,
                                      doc="as (P, D, Q) or (P, D, Q, s)")],
        "season_length": SEASON_LENGTH,
        **{key: [Interval(Integral, 0, None, closed="left")]
           for key in ("max_p", "max_q", "max_P", "max_Q", "max_order", "max_d", "max_D", "max_fourier")},
        "include_constant": [None, bool],
        "stepwise": [bool],
        "method": [Options("css", "css-ml")],
        "max_season_length": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        order=None,
        seasonal_order=None,
        season_length: int | None = None,
        max_p: int = 5,
        max_q: int = 5,
        max_P: int = 2,
        max_Q: int = 2,
        max_order: int = 5,
        max_d: int = 2,
        max_D: int = 1,
        include_constant: bool | None = None,
        stepwise: bool = True,
        method: str = "css",
        max_season_length: int = 48,
        max_fourier: int = 8,
    ) -> None:
        self.order = order
        self.seasonal_order = seasonal_order
        self.season_length = season_length
        self.max_p = max_p
        self.max_q = max_q
        self.max_P = max_P
        self.max_Q = max_Q
        self.max_order = max_order
        self.max_d = max_d
        self.max_D = max_D
        self.include_constant = include_constant
        self.stepwise = stepwise
        self.method = method
        self.max_season_length = max_season_length
        self.max_fourier = max_fourier

    # -- selection ---------------------------------------------------------------------------
    def _search(self, w: np.ndarray, s: int, seasonal: bool, allow_const: bool):
        fixed = self.order is not None
        if fixed:
            P_fix, Q_fix = (0, 0)
            if seasonal and self.seasonal_order is not None:
                P_fix, Q_fix = int(self.seasonal_order[0]), int(self.seasonal_order[2])
            max_p, max_P = int(self.order[0]), P_fix
        else:
            max_p, max_P = self.max_p, (self.max_P if seasonal else 0)
        max_Q = self.max_Q if seasonal else 0
        # One conditioning window for every candidate, so their AICc are comparable.
        burn = _BURN_IN * s if s > 1 else 0
        ncond = max_p + max_P * s
        while w.size - ncond < 30 and max_P > 0 and not fixed:
            max_P -= 1
            ncond = max_p + max_P * s
        if w.size - ncond - burn >= 100:
            ncond += burn
        if w.size - ncond < 10:
            return None
        consts = (
            (bool(self.include_constant),) if self.include_constant is not None else (True, False)
        )
        if not allow_const:
            consts = (False,)
        tried: dict[tuple, tuple | None] = {}
        # auto.arima bounds p + q + P + Q only in the full search. A non-seasonal stepwise
        # search may grow past it here too (ARMA(5,5)-like fits are common and better on
        # 5-minute CPU data); a seasonal one stays bounded, because past the bound it
        # costs four times the CPU on M4 Hourly for little accuracy.
        bounded = seasonal or not self.stepwise

        def evaluate(order):
            p, q, P, Q, c = order
            if order in tried:
                return tried[order]
            ok = (
                0 <= p <= max_p
                and 0 <= q <= (self.max_q if not fixed else q)
                and 0 <= P <= max_P
                and 0 <= Q <= (max_Q if not fixed else Q)
                and (fixed or not bounded or p + q + P + Q <= self.max_order)
            )
            tried[order] = _css_fit(w, order, s, ncond) if ok else None
            return tried[order]

        if fixed or not self.stepwise:
            if fixed:
                p, q = int(self.order[0]), int(self.order[2])
                grid = [(p, q, P_fix, Q_fix, c) for c in consts]
            else:
                grid = [
                    (p, q, P, Q, c)
                    for p in range(max_p + 1)
                    for q in range(self.max_q + 1)
                    for P in range(max_P + 1)
                    for Q in range(max_Q + 1)
                    for c in consts
                    if p + q + P + Q <= self.max_order
                ]
            for order in grid:
                evaluate(order)
        else:
            c0 = consts[0]
            starts = [(2, 2, 1, 1, c0), (0, 0, 0, 0, c0), (1, 0, 1, 0, c0), (0, 1, 0, 1, c0)]
            if not seasonal:
                starts = [(2, 2, 0, 0, c0), (0, 0, 0, 0, c0), (1, 0, 0, 0, c0), (0, 1, 0, 0, c0)]
            for order in starts:
                evaluate(order)
            best = self._best(tried)
            for _ in range(94):
                if best is None:
                    break
                p, q, P, Q, c = best
                moves = [
                    (p + dp, q + dq, P + dP, Q + dQ, c)
                    for dp, dq, dP, dQ in (
                        (-1, 0, 0, 0), (1, 0, 0, 0), (0, -1, 0, 0), (0, 1, 0, 0),
                        (-1, -1, 0, 0), (1, 1, 0, 0), (0, 0, -1, 0), (0, 0, 1, 0),
                        (0, 0, 0, -1), (0, 0, 0, 1), (0, 0, -1, -1), (0, 0, 1, 1),
                    )
                ]
                moves += [(p, q, P, Q, other) for other in consts if other != c]
                for order in moves:
                    evaluate(order)
                new = self._best(tried)
                if new == best:
                    break
                best = new
        best = self._best(tried)
        if best is None:
            return None
        self.n_models_tried_ = sum(1 for v in tried.values() if v is not None)
        return best, tried[best]

    @staticmethod
    def _best(tried):
        valid = {k: v for k, v in tried.items() if v is not None}
        if not valid:
            return None
        return min(valid, key=lambda k: valid[k][0])

    # -- fitting -------------------------------------------------------------------------------
    def _fit(self, y):
        m = self._season(self.season_length)
        self.season_length_ = m
        self.y_ = y.copy()
        self.constant_ = bool(np.ptp(y) == 0)
        if self.constant_:
            return
        n = y.size
        long_season = m > self.max_season_length
        seasonal = 1 < m <= self.max_season_length and n >= 2 * m + 10
        s = m if seasonal else 1
        # Long seasons: Fourier regressors chosen by AICc, ARIMA on what is left.
        self.fourier_K_ = 0
        self.exog_beta_ = np.empty(0)
        target = y
        if long_season and n >= 2 * m:
            K, beta = self._choose_fourier(y, m)
            self.fourier_K_ = K
            if K:
                X = fourier_terms(np.arange(n), m, K)
                self.exog_beta_ = beta
                target = y - X @ beta
        # Differencing.
        if self.seasonal_order is not None and seasonal:
            D = int(self.seasonal_order[1])
        else:
            D = min(nsdiffs(target, s), self.max_D) if seasonal else 0
        if self.order is not None:
            d = int(self.order[1])
        else:
            d = ndiffs(_difference(target, 0, D, s), max_d=self.max_d)
        w = _difference(target, d, D, s)
        if w.size < 10 or np.ptp(w) == 0:
            d, D = (1, 0) if w.size < 10 else (d, D)
            w = _difference(target, d, D, s)
        found = self._search(w, s, seasonal, allow_const=d + D <= 1)
        if found is None:
            raise DataError(
                f"No ARIMA model could be estimated on this series of {n} points "
                f"(d={d}, D={D}, season {s}).",
                n=n,
            )
        (p, q, P, Q, const), (aicc, params, sigma2) = found
        self.order_ = (p, d, q)
        self.seasonal_order_ = (P, D, Q, s if seasonal else 0)
        self.include_constant_ = bool(const)
        self.aicc_ = float(aicc)
        self._set_sarimax_params(params, sigma2, target)

    def _choose_fourier(self, y, m):
        n = y.size
        pos = np.arange(n)
        best = (np.inf, 0, np.empty(0))
        base = np.column_stack([np.ones(n), pos / n])
        for K in range(0, min(self.max_fourier, m // 2) + 1):
            X = np.hstack([base, fourier_terms(pos, m, K)])
            coef, *_ = np.linalg.lstsq(X, y, rcond=None)
            rss = float(np.sum((y - X @ coef) ** 2))
            k = X.shape[1] + 1
            aicc = n * np.log(max(rss, 1e-300) / n) + 2 * k + 2 * k * (k + 1) / max(n - k - 1, 1)
            if aicc < best[0]:
                best = (aicc, K, coef[2:])
        return best[1], best[2]  # K = 0: the long season is not worth its terms

    def _sarimax(self, target):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        P, D, Q, s = self.seasonal_order_
        return SARIMAX(
            target,
            order=self.order_,
            seasonal_order=(P, D, Q, s) if s > 1 else (0, 0, 0, 0),
            trend="c" if self.include_constant_ else "n",
            enforce_stationarity=False,
            enforce_invertibility=False,
        )

    def _set_sarimax_params(self, params, sigma2, target):
        p, _, q = self.order_
        P, _, Q, s = self.seasonal_order_
        order = (p, q, P, Q, self.include_constant_)
        phi, theta, Phi, Theta, mu = _split(params, order)
        values = []
        if self.include_constant_:
            ar1 = (1 - np.sum(phi)) * (1 - np.sum(Phi))
            values.append(mu * ar1)
        values += list(phi) + list(theta) + list(Phi) + list(Theta) + [sigma2]
        start = np.asarray(values, dtype=float)
        if self.method == "css-ml":
            with quiet():
                try:
                    res = self._sarimax(target).fit(start_params=start, disp=False, maxiter=50)
                    if np.all(np.isfinite(res.params)):
                        start = np.asarray(res.params, dtype=float)
                except Exception:  # keep the CSS estimates when the refinement fails
                    pass
        self.params_ = start
        self.sigma2_ = float(start[-1])

    def _predict(self, h, levels):
        if self.constant_:
            mean = np.full(h, self.y_[-1])
            return mean, {lv: (mean, mean) for lv in levels}
        n = self.y_.size
        seasonal_exog = np.zeros(n + h)
        if self.fourier_K_:
            X = fourier_terms(np.arange(n + h), self.season_length_, self.fourier_K_)
            seasonal_exog = X @ self.exog_beta_
        target = self.y_ - seasonal_exog[:n]
        with quiet():
            res = self._sarimax(target).filter(self.params_)
            fc = res.get_forecast(h)
            mean = np.asarray(fc.predicted_mean, dtype=float)
            intervals = {}
            for lv in levels:
                ci = np.asarray(fc.conf_int(alpha=1 - lv / 100.0), dtype=float)
                intervals[lv] = (ci[:, 0], ci[:, 1])
        future = seasonal_exog[n:]
        mean = mean + future
        intervals = {lv: (lo + future, hi + future) for lv, (lo, hi) in intervals.items()}
        return mean, intervals

    @property
    def model_name_(self) -> str:
        self.check_is_fitted()
        if self.constant_:
            return "constant"
        p, d, q = self.order_
        P, D, Q, s = self.seasonal_order_
        text = f"ARIMA({p},{d},{q})"
        if s > 1:
            text += f"({P},{D},{Q})[{s}]"
        if self.include_constant_:
            text += " with drift" if d + D == 1 else " with mean"
        if self.fourier_K_:
            text += f" + Fourier(K={self.fourier_K_}, period {self.season_length_})"
        return text
