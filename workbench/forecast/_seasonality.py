"""Seasonality detection and trend analysis.

``detect_seasonality`` finds candidate periods from the periodogram's peaks and
the calendar cycles implied by the sampling frequency (a day, a week), then
scores each with the STL seasonal strength ``max(0, 1 - Var(R) / Var(S + R))``
and the autocorrelation at that lag. ``analyze_trend`` reports a robust slope
(Theil-Sen), a Mann-Kendall style test of monotonic trend (Kendall's tau
against time) and the STL trend strength.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import signal, stats

from workbench.forecast._arima import seasonal_strength
from workbench.forecast._ets import quiet
from workbench.forecast._prep import prepare_series, season_length_for

__all__ = ["detect_seasonality", "SeasonalPeriod", "analyze_trend", "TrendAnalysis"]


@dataclass(frozen=True)
class SeasonalPeriod:
    """A candidate seasonal period (in steps) and how strong it is."""

    period: int
    strength: float  # STL seasonal strength in [0, 1]
    acf: float  # autocorrelation at lag ``period`` of the differenced-out-trend series
    source: str  # "periodogram", "calendar" or both
    duration: pd.Timedelta | None = None  # the period in time, for fixed frequencies

    def to_dict(self) -> dict:
        return asdict(self)


def _acf_at(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    denom = float(np.dot(x, x))
    if lag >= x.size or denom == 0:
        return 0.0
    return float(np.dot(x[:-lag], x[lag:]) / denom)


def detect_seasonality(
    y: pd.Series,
    *,
    max_period: int | None = None,
    top: int = 3,
    min_strength: float = 0.0,
) -> list[SeasonalPeriod]:
    """Candidate seasonal periods of ``y``, strongest first.

    Periods must fit at least twice in the series (``max_period`` defaults to
    half its length). Candidates with a strength below ``min_strength`` are
    dropped; a series without seasonality returns an empty list or only weak ones.
    """
    series = prepare_series(y)
    x = series.to_numpy()
    n = x.size
    limit = min(max_period or n // 2, n // 2)
    if n < 8 or np.ptp(x) == 0 or limit < 2:
        return []
    # Take out a slow trend so it does not dominate the low frequencies.
    window = max(3, min(n // 10, 2 * limit) | 1)
    trend = pd.Series(x).rolling(window, center=True, min_periods=1).mean().to_numpy()
    detrended = x - trend
    freqs, power = signal.periodogram(detrended, detrend="linear", scaling="spectrum")
    sources: dict[int, set[str]] = {}
    keep = freqs > 0
    freqs, power = freqs[keep], power[keep]
    if power.size:
        peaks, _ = signal.find_peaks(power)
        if peaks.size == 0:
            peaks = np.array([int(np.argmax(power))])
        for i in peaks[np.argsort(power[peaks])[::-1][: 3 * top]]:
            period = int(round(1.0 / freqs[i]))
            if 2 <= period <= limit:
                sources.setdefault(period, set()).add("periodogram")
    for cycle in ("day", "week"):
        period = season_length_for(series.index.freq, cycle=cycle)
        if 2 <= period <= limit:
            sources.setdefault(period, set()).add("calendar")
    step = series.index.freq
    out = []
    for period, src in sources.items():
        with quiet():
            strength = seasonal_strength(x, period)
        try:
            duration = pd.Timedelta(step) * period
        except (TypeError, ValueError):
            duration = None
        out.append(
            SeasonalPeriod(
                period=period,
                strength=round(strength, 4),
                acf=round(_acf_at(detrended, period), 4),
                source="+".join(sorted(src)),
                duration=duration,
            )
        )
    out = [c for c in out if c.strength >= min_strength]
    out.sort(key=lambda c: (-c.strength, c.period))
    return out[:top]


@dataclass(frozen=True)
class TrendAnalysis:
    """What the trend of a series is doing."""

    slope_per_step: float  # Theil-Sen slope
    slope_per_day: float | None  # the same per day, for fixed frequencies
    slope_low: float  # 95 % confidence bounds of the Theil-Sen slope
    slope_high: float
    direction: str  # "increasing", "decreasing" or "none"
    kendall_tau: float
    p_value: float  # Mann-Kendall style test that there is no monotonic trend
    strength: float  # STL trend strength in [0, 1]

    def to_dict(self) -> dict:
        return asdict(self)


def analyze_trend(y: pd.Series, *, alpha: float = 0.05, season_length: int | None = None) -> TrendAnalysis:
    """Robust slope, significance and strength of the trend of ``y``."""
    series = prepare_series(y)
    x = series.to_numpy()
    t = np.arange(x.size, dtype=float)
    if x.size < 3 or np.ptp(x) == 0:
        slope = lo = hi = 0.0
        tau, p = 0.0, 1.0
    else:
        slope, _, lo, hi = stats.theilslopes(x, t, alpha=1 - alpha)
        tau, p = stats.kendalltau(t, x)
        tau, p = float(tau), float(p)
    direction = "none"
    if p < alpha and slope > 0:
        direction = "increasing"
    elif p < alpha and slope < 0:
        direction = "decreasing"
    m = season_length or season_length_for(series.index.freq)
    strength = 0.0
    if x.size >= 7 and np.ptp(x) > 0:
        from statsmodels.tsa.seasonal import STL

        period = m if 2 <= m <= x.size // 2 else None
        with quiet():
            if period:
                dec = STL(x, period=period, robust=True).fit()
                trend, resid = np.asarray(dec.trend), np.asarray(dec.resid)
            else:
                win = max(3, (x.size // 10) | 1)
                trend = pd.Series(x).rolling(win, center=True, min_periods=1).mean().to_numpy()
                resid = x - trend
        var_tr = np.var(trend + resid)
        strength = float(max(0.0, 1 - np.var(resid) / var_tr)) if var_tr > 0 else 0.0
    try:
        per_day = float(slope) * (pd.Timedelta("1D") / pd.Timedelta(series.index.freq))
    except (TypeError, ValueError):
        per_day = None
    return TrendAnalysis(
        slope_per_step=float(slope),
        slope_per_day=per_day,
        slope_low=float(lo),
        slope_high=float(hi),
        direction=direction,
        kendall_tau=float(tau),
        p_value=float(p),
        strength=round(strength, 4),
    )
