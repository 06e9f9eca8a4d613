"""Predictive mode: the forecasters' short-horizon prediction as the governor's predictor.

The :class:`Governor` takes any ``predictor(now) -> (cpu_fraction, mem_bytes)`` and uses
the larger of the present and the predicted value, so the limit falls *before* a peak.
:class:`ForecastPredictor` is that callable built on :mod:`workbench.forecast`: the
executor's sampler hands it each sample (:meth:`ForecastPredictor.observe`), and when
the governor asks, it fits a forecaster (scikit-learn style ``fit(y)`` /
``predict(h)``) on the last ``window`` seconds, averaged into a regular ``step``, and
returns the highest predicted ``mean`` (or an interval bound, ``column``) over the
next ``horizon`` seconds. Bucketing, fitting and reuse are :mod:`workbench._recent`,
shared with ``predicted`` alert rules.

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
        from workbench._recent import RefitCache

        self._fits = RefitCache(refit_every)  # (prediction, error) of the last fit

    def observe(self, now: float, cpu: float, mem_bytes: float) -> None:
        """Record one sample (the executor's sampler calls this before each update)."""
        if math.isnan(cpu) or math.isnan(mem_bytes):
            return
        self._samples.append((now, cpu, mem_bytes))
        while self._samples and self._samples[0][0] < now - self.window:
            self._samples.popleft()

    def __call__(self, now: float) -> tuple[float | None, float | None] | None:
        fit = self._fits.get(None, now)
        if fit is None:
            try:
                fit = (self._predict(), None)
            except Exception as exc:  # the governor logs it and uses the present
                fit = (None, exc)
            self._fits.put(None, now, fit)
        prediction, error = fit
        if error is not None:  # a failed fit keeps being reported until the next one
            raise error
        return prediction

    def _predict(self) -> tuple[float | None, float | None] | None:
        import numpy as np

        from workbench._recent import forecast_recent

        if not self._samples:
            return None
        data = np.asarray(self._samples, dtype=float)
        h = max(1, math.ceil(self.horizon / self.step))
        out: list[float] = []
        for col in (1, 2):  # cpu, mem
            fc = forecast_recent(self.model, data[:, 0], data[:, col], step=self.step, h=h,
                                 min_points=self.min_points, levels=(80, 95))
            if fc is None:
                return None
            out.append(float(fc[self.column].max()))
        return out[0], out[1]
