"""A short forecast of recent samples, refitted every so often: the one path behind the
governor's :class:`~workbench.execute.ForecastPredictor` and ``predicted`` alert rules'
:class:`~workbench.detect._predicted.BreachForecaster`.

1. :func:`buckets`: irregular ``(time, value)`` samples averaged into buckets of
   ``step`` seconds that end at the last sample (so the newest bucket is
   complete), oldest first, empty buckets interpolated from their neighbours.
2. :func:`forecast_recent`: a forecaster fitted on those buckets predicts ``h``
   steps with intervals. The default, :class:`~workbench.forecast.Drift`, runs
   on the bucket values alone (numpy only: no pandas, statsmodels or scipy in
   the agent, docs/benchmarks/agent.md); any other model is cloned and goes
   through its public ``fit``/``predict`` on a regular, time-indexed series.
3. :class:`RefitCache`: a fit's result reused for ``every`` seconds per key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["buckets", "forecast_recent", "RefitCache"]


def buckets(times: np.ndarray, values: np.ndarray, step: float, min_points: int) -> np.ndarray | None:
    """Bucket means of ``step`` seconds, oldest first, ending at the last sample; NaN values are
    ignored; ``None`` when fewer than ``min_points`` buckets hold a sample."""
    times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
    ok = ~np.isnan(values)
    times, values = times[ok], values[ok]
    if len(values) < 2:
        return None
    bucket = np.floor((times[-1] - times) / step).astype(np.int64)
    sums = np.bincount(bucket, weights=values)
    counts = np.bincount(bucket)
    keep = counts > 0
    if keep.sum() < min_points:
        return None
    vals = sums[::-1] / np.maximum(counts[::-1], 1)
    mask = keep[::-1]
    return np.interp(np.arange(len(vals)), np.flatnonzero(mask), vals[mask])


def forecast_recent(model: Any, times: np.ndarray, values: np.ndarray, *, step: float, h: int,
                    min_points: int, levels: Sequence[float] = (95,)) -> dict[str, np.ndarray] | None:
    """``h`` steps of ``step`` seconds ahead of the samples: ``{"mean", "lo_<L>", "hi_<L>"}`` arrays,
    or ``None`` with too little history. ``model``: an unfitted forecaster (cloned), or ``None`` for Drift."""
    from workbench.forecast import Drift, clone

    vals = buckets(times, values, step, min_points)
    if vals is None:
        return None
    if model is None:
        # Drift's own numbers on the regular, gap-free buckets (what fit() would hand it after
        # prepare_series), without the pandas index fit/predict build around them.
        drift = Drift()
        drift._fit(vals)
        mean, intervals = drift._predict(h, tuple(float(level) for level in levels))
        out = {"mean": np.asarray(mean, dtype=float)}
        for level in levels:
            lo, hi = intervals[float(level)]
            out[f"lo_{level:g}"], out[f"hi_{level:g}"] = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        return out
    import pandas as pd

    end = pd.Timestamp(float(np.asarray(times, dtype=float)[-1]), unit="s", tz="UTC")
    grid = pd.date_range(end=end, periods=len(vals), freq=pd.Timedelta(seconds=step))
    pred = clone(model).fit(pd.Series(vals, index=grid)).predict(h, level=tuple(levels))
    return {str(c): pred[c].to_numpy(dtype=float) for c in pred.columns}


class RefitCache:
    """A fit's result per key, reused while ``now`` is less than ``every`` seconds after the fit."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._items: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any, now: float, default: Any = None) -> Any:
        item = self._items.get(key)
        return item[1] if item is not None and now - item[0] < self.every else default

    def put(self, key: Any, now: float, value: Any) -> None:
        self._items[key] = (now, value)
