"""Rolling-origin backtesting (time-series cross-validation).

``backtest(model, y, h, n_windows, step)`` cuts the series at ``n_windows``
origins, the last one ``h`` steps before the end and each earlier one ``step``
steps before the next; at each origin a fresh copy of ``model`` is fitted on the
past and forecasts the next ``h`` points. The result holds every forecast beside
the truth, and MAE, RMSE, sMAPE, MASE and interval coverage per horizon step and
overall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.forecast._base import _check_h, check_levels, clone
from workbench.forecast._metrics import mase_scale
from workbench.forecast._prep import prepare_series, season_length_for

__all__ = ["backtest", "BacktestResult", "cutoffs"]


@dataclass
class BacktestResult:
    """Forecasts and scores of a rolling-origin backtest."""

    forecasts: pd.DataFrame  # window, cutoff, ds, step, y, mean, lo_*, hi_*, scale, scaled_error
    by_step: pd.DataFrame  # one row per horizon step
    summary: dict = field(default_factory=dict)  # overall scores

    def __repr__(self) -> str:
        scores = ", ".join(f"{k}={v:.4g}" for k, v in self.summary.items() if isinstance(v, float))
        return f"BacktestResult({scores})"


def cutoffs(n: int, h: int, n_windows: int, step: int) -> list[int]:
    """Training lengths at each origin, oldest first."""
    return [n - h - step * i for i in range(n_windows)][::-1]


def _scores(frame: pd.DataFrame, levels) -> dict:
    err = frame["y"] - frame["mean"]
    denom = frame["y"].abs() + frame["mean"].abs()
    smape_terms = np.where(denom == 0, 0.0, 200 * err.abs() / denom.where(denom != 0, 1))
    out = {
        "mae": float(err.abs().mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "smape": float(np.mean(smape_terms)),
        "mase": float(frame["scaled_error"].mean()),
    }
    for lv in levels:
        name = f"{lv:g}"
        inside = (frame["y"] >= frame[f"lo_{name}"]) & (frame["y"] <= frame[f"hi_{name}"])
        out[f"coverage_{name}"] = float(inside.mean())
    return out


def backtest(
    model,
    y: pd.Series,
    h: int,
    n_windows: int = 3,
    step: int | None = None,
    level=(80, 95),
    season_length: int | None = None,
) -> BacktestResult:
    """Evaluate ``model`` by rolling-origin forecasts (see the module docstring).

    ``step`` defaults to ``h`` (windows that do not overlap); ``season_length``
    (for the MASE scale) defaults to the natural cycle of the frequency.
    """
    h = _check_h(h)
    if isinstance(n_windows, bool) or not isinstance(n_windows, int | np.integer) or n_windows < 1:
        raise DataError(f"n_windows must be a positive integer; got {n_windows!r}.")
    step = h if step is None else _check_h(step)
    levels = check_levels(level)
    series = prepare_series(y)
    n = len(series)
    m = season_length or season_length_for(series.index.freq)
    origins = cutoffs(n, h, n_windows, step)
    if origins[0] < 2:
        raise DataError(
            f"A backtest of {n_windows} window(s) of h={h} every {step} steps needs more than "
            f"{h + step * (n_windows - 1) + 1} points; the series has {n}. Use fewer or shorter windows.",
            n=n,
            needed=h + step * (n_windows - 1) + 2,
        )
    values = series.to_numpy()
    frames = []
    for w, cut in enumerate(origins):
        train = series.iloc[:cut]
        fitted = clone(model).fit(train)
        fc = fitted.predict(h, level=levels)
        truth = values[cut : cut + h]
        scale = mase_scale(values[:cut], m)
        frame = fc.reset_index()
        frame.insert(0, "window", w)
        frame.insert(1, "cutoff", series.index[cut - 1])
        frame.insert(3, "step", np.arange(1, h + 1))
        frame.insert(4, "y", truth)
        frame["scale"] = scale
        frame["scaled_error"] = (
            np.abs(truth - frame["mean"].to_numpy()) / scale if scale and scale > 0 else np.nan
        )
        frames.append(frame)
    forecasts = pd.concat(frames, ignore_index=True)
    by_step = pd.DataFrame(
        [{"step": s, **_scores(g, levels)} for s, g in forecasts.groupby("step", sort=True)]
    )
    summary = _scores(forecasts, levels)
    summary["n_windows"] = n_windows
    summary["h"] = h
    return BacktestResult(forecasts=forecasts, by_step=by_step, summary=summary)
