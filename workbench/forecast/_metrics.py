"""Forecast accuracy measures (M4 definitions) and interval coverage."""

from __future__ import annotations

import numpy as np

from workbench.errors import DataError

__all__ = ["mae", "rmse", "smape", "mase", "coverage", "mase_scale"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=float)
    b = np.asarray(y_pred, dtype=float)
    if a.shape != b.shape:
        raise DataError(
            f"y_true and y_pred must have the same shape; got {a.shape} and {b.shape}.",
            true_shape=a.shape,
            pred_shape=b.shape,
        )
    return a, b


def mae(y_true, y_pred) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.mean(np.abs(a - b)))


def rmse(y_true, y_pred) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def smape(y_true, y_pred) -> float:
    """Symmetric MAPE in percent, ``200 |y - f| / (|y| + |f|)``; 0/0 counts as 0."""
    a, b = _pair(y_true, y_pred)
    denom = np.abs(a) + np.abs(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(denom == 0, 0.0, 200.0 * np.abs(a - b) / denom)
    return float(np.mean(terms))


def mase_scale(y_train, season_length: int = 1) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (the MASE denominator)."""
    y = np.asarray(y_train, dtype=float)
    m = int(season_length)
    if y.size <= m:
        m = 1
    if y.size <= m:
        return float("nan")
    return float(np.mean(np.abs(y[m:] - y[:-m])))


def mase(y_true, y_pred, y_train, season_length: int = 1) -> float:
    """Mean absolute scaled error; NaN when the training series is constant."""
    scale = mase_scale(y_train, season_length)
    if not np.isfinite(scale) or scale == 0:
        return float("nan")
    return mae(y_true, y_pred) / scale


def coverage(y_true, lo, hi) -> float:
    """Share of ``y_true`` inside ``[lo, hi]``."""
    a = np.asarray(y_true, dtype=float)
    return float(np.mean((a >= np.asarray(lo, dtype=float)) & (a <= np.asarray(hi, dtype=float))))
