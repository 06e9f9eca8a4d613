"""Predictive mode: the forecasters' short-horizon prediction as the governor's predictor.

The :class:`Governor` takes any ``predictor(now) -> (cpu_fraction, mem_bytes)`` and uses
the larger of the present and the predicted value, so the limit falls *before* a peak.
:class:`ForecastPredictor` is that callable built on :mod:`workbench.forecast`: the
executor's sampler hands it each sample (:meth:`ForecastPredictor.observe`), and when
the governor asks, it fits a forecaster (scikit-learn style ``fit(y)`` /
``predict(h)``) on the last ``window`` seconds, resampled to a regular ``step``, and
returns the highest predicted ``mean`` (or an upper interval bound, ``column``) over the
next ``horizon`` seconds.

The fit runs on the executor's sampler thread, so the default model is :class:`Drift`
(a straight line through the window: it sees a ramp coming and costs milliseconds).
Refits are ``refit_every`` seconds apart and the prediction is reused in between; a
model that takes seconds to fit (ETS, ARIMA) delays sampling by that much.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

__all__ = ["ForecastPredictor"]


class ForecastPredictor:
    """Forecast CPU and memory a few seconds ahead from the executor's own samples.

    Pass it as ``Governor(predictor=ForecastPredictor())``; the executor feeds it from
    its sampler thread (not thread-safe: one executor, one predictor).

    Parameters
    ----------
    model:
        A :mod:`workbench.forecast` forecaster (cloned for each fit); default ``Drift()``.
    horizon:
        Seconds ahead to look; the prediction is the maximum over that span.
    step:
        Seconds per point of the regular series the model is fitted on.
    window:
        Seconds of recent samples fitted on.
    min_points:
        Regular points needed before predicting (until then: ``None``, present only).
    refit_every:
        Seconds between fits.
    column:
        ``"mean"`` or an interval bound such as ``"hi_80"`` (more cautious).
    """

    def __init__(self, model: Any = None, horizon: float = 5.0, step: float = 1.0, window: float = 120.0,
                 min_points: int = 10, refit_every: float = 2.0, column: str = "mean") -> None:
        from workbench.errors import ConfigError

        if not (horizon > 0 and step > 0 and window >= min_points * step):
            raise ConfigError(
                f"ForecastPredictor needs horizon > 0, step > 0 and window >= min_points * step; got "
                f"horizon={horizon!r}, step={step!r}, window={window!r}, min_points={min_points!r}.",
                horizon=horizon, step=step, window=window, min_points=min_points,
            )
        self.model = model
        self.horizon = horizon
        self.step = step
        self.window = window
        self.min_points = min_points
        self.refit_every = refit_every
        self.column = column
        self._samples: deque[tuple[float, float, float]] = deque()
        self._fitted_at = -math.inf
        self._last: tuple[float | None, float | None] | None = None
        self._error: Exception | None = None

    def observe(self, now: float, cpu: float, mem_bytes: float) -> None:
        """Record one sample (the executor's sampler calls this before each update)."""
        if math.isnan(cpu) or math.isnan(mem_bytes):
            return
        self._samples.append((now, cpu, mem_bytes))
        while self._samples and self._samples[0][0] < now - self.window:
            self._samples.popleft()

    def __call__(self, now: float) -> tuple[float | None, float | None] | None:
        if now - self._fitted_at < self.refit_every:
            if self._error is not None:  # a failed fit keeps being reported until the next one
                raise self._error
            return self._last
        self._fitted_at = now
        self._last, self._error = None, None
        try:
            self._last = self._predict()
        except Exception as exc:  # the governor logs it and uses the present
            self._error = exc
            raise
        return self._last

    def _predict(self) -> tuple[float | None, float | None] | None:
        import pandas as pd

        from workbench.forecast import Drift, clone

        if not self._samples:
            return None
        frame = pd.DataFrame(list(self._samples), columns=["t", "cpu", "mem"])
        t0 = frame["t"].iloc[0]
        # A regular, time-indexed series, as the forecasting protocol expects.
        frame.index = pd.Timestamp("2000-01-01") + pd.to_timedelta(frame["t"] - t0, unit="s")
        regular = frame[["cpu", "mem"]].resample(pd.Timedelta(seconds=self.step)).mean().interpolate()
        if len(regular) < self.min_points:
            return None
        h = max(1, math.ceil(self.horizon / self.step))
        out: list[float | None] = []
        for col in ("cpu", "mem"):
            model = clone(self.model) if self.model is not None else Drift()
            fc = model.fit(regular[col]).predict(h)
            out.append(float(fc[self.column].max()))
        return out[0], out[1]
