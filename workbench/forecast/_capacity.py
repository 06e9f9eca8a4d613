"""Capacity questions: when will a metric cross a value?

``time_to_threshold(y, 90.0, horizon=...)`` forecasts ``y`` and reads three times
off the forecast: when the mean crosses the threshold (the expected time), when
the optimistic-for-crossing bound does (the earliest plausible time), and when the
other bound does (the latest plausible time, or None when even that bound stays
on the safe side within the horizon). "Not within the horizon" is an answer,
not an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.forecast._base import BaseForecaster, clone
from workbench.forecast._baselines import Drift
from workbench.forecast._ets import ETS
from workbench.forecast._prep import prepare_series

__all__ = ["time_to_threshold", "ThresholdCrossing"]


@dataclass(frozen=True)
class ThresholdCrossing:
    """The answer of :func:`time_to_threshold`."""

    status: str  # "already", "expected", "possible" or "not_within_horizon"
    threshold: float
    direction: str
    eta: pd.Timestamp | None  # the mean forecast crosses
    earliest: pd.Timestamp | None  # the near bound of the interval crosses
    latest: pd.Timestamp | None  # the far bound crosses (None: not within the horizon)
    horizon_end: pd.Timestamp
    level: float
    message: str
    forecast: pd.DataFrame

    def __repr__(self) -> str:
        return f"ThresholdCrossing(status={self.status!r}, message={self.message!r})"


def _first(mask: np.ndarray, index: pd.DatetimeIndex):
    hits = np.flatnonzero(mask)
    return index[hits[0]] if hits.size else None


def time_to_threshold(
    y: pd.Series,
    threshold: float,
    *,
    horizon: int | None = None,
    model: BaseForecaster | None = None,
    direction: str = "above",
    level: float = 95,
) -> ThresholdCrossing:
    """When will ``y`` go ``direction`` ("above"/"below") ``threshold``, within ``horizon`` steps?

    ``model`` is any forecaster; a fitted one is used as it is, an unfitted one
    is fitted on ``y``. The default is an ETS with automatic form (trend and
    damping chosen by AICc), or a drift line for series too short for it.
    ``horizon`` defaults to the length of the history (no further than the
    data can support).
    """
    if direction not in ("above", "below"):
        raise DataError(f"direction must be 'above' or 'below'; got {direction!r}.")
    try:
        threshold = float(threshold)
    except (TypeError, ValueError) as exc:
        raise DataError(f"threshold must be a number; got {threshold!r}.") from exc
    series = prepare_series(y)
    h = int(horizon) if horizon is not None else len(series)
    if h < 1:
        raise DataError(f"horizon must be a positive number of steps; got {horizon!r}.")
    last = float(series.iloc[-1])
    beyond = (lambda v: v >= threshold) if direction == "above" else (lambda v: v <= threshold)
    if model is None:
        model = ETS() if len(series) >= 10 else Drift()
        fitted = model.fit(series)
    elif getattr(model, "_fitted", False):
        fitted = model
    else:
        fitted = clone(model).fit(series)
    fc = fitted.predict(h, level=(level,))
    name = f"{level:g}"
    near, far = (f"hi_{name}", f"lo_{name}") if direction == "above" else (f"lo_{name}", f"hi_{name}")
    idx = fc.index
    eta = _first(beyond(fc["mean"].to_numpy()), idx)
    earliest = _first(beyond(fc[near].to_numpy()), idx)
    latest = _first(beyond(fc[far].to_numpy()), idx)
    end = idx[-1]
    verb = "rises above" if direction == "above" else "falls below"
    if beyond(last):
        status = "already"
        message = f"The last value {last:g} is already {direction} {threshold:g}."
    elif eta is not None:
        status = "expected"
        tail = f"by {latest}" if latest is not None else "possibly later than the horizon"
        message = (
            f"Expected to cross {threshold:g} at {eta} ({level:g}% range: from {earliest}, {tail})."
        )
    elif earliest is not None:
        status = "possible"
        message = (
            f"The forecast stays {'below' if direction == 'above' else 'above'} {threshold:g} up to "
            f"{end}, but a crossing is possible from {earliest} ({level:g}% interval)."
        )
    else:
        status = "not_within_horizon"
        message = (
            f"Not within the horizon: even the {level:g}% bound never {verb} {threshold:g} up to {end}."
        )
    return ThresholdCrossing(
        status=status,
        threshold=threshold,
        direction=direction,
        eta=eta,
        earliest=earliest,
        latest=latest,
        horizon_end=end,
        level=float(level),
        message=message,
        forecast=fc,
    )
