"""The recommended default detector: several views, each calibrated on its own series.

What it is, and why each part is there (each was measured on NAB, see
``docs/benchmarks/detect.md``):

1. *Three views* of the same stream, because no single one sees every kind of
   anomaly:

   * **level** — a robust z-score of the value against a rolling median/MAD
     (spikes, level shifts);
   * **shape** — the distance of the last 3 values to the nearest 3-point
     shape seen before (ordinary values in an unusual order);
   * **slow shape** — the same on a 12-point trailing mean, 3 points 12 steps
     apart (a pattern change over hours: a daily rise that does not come,
     a load that stops cycling).

2. *Per-series calibration.* Each view's raw surprise is divided by the
   ``quantile`` (99th percentile) of that view's own past values, so 1.0
   means "as surprising as the 1 % most surprising moments of *this* series".
   The past is weighted by recency (half-life ``calibration_halflife``
   points, :class:`~workbench.detect._calibrate.DecayingQuantile`): the
   calibration follows a series that changes, in a few kB of state.
   Without it one threshold cannot serve a quiet and a noisy series at once;
   NAB picks one threshold for the whole corpus, and so does a person
   configuring alerts.

3. *Agreement.* The calibrated views are combined by their quadratic mean
   (not the max): one view crying wolf on its own counts for less than two
   views that agree (on NAB, with everything else equal: 67.5 standard and
   109 false alarms, against 63.3 and 139 for the max).

4. *One alert per incident.* After a score reaches ``rest_level`` the next
   ``rest_period`` points stay silent. NAB credits only the first detection
   in a window and charges for each false one; a person reading alerts wants
   the same. (``suppress`` > 0 also reports a score only if it beats the raw
   scores of the previous ``suppress`` points; off since the leave-one-
   category-out folds chose 0 over 150 on every fold.)

5. *A recurring event is not news.* A score is not reported if a score at
   least half as surprising (``recurrence_ratio`` 2: in the calibrated ratio
   behind the score) came at about the same time of day (within an hour) on
   the previous day (``recurrence_days``): the nightly job that spikes the
   CPU at 03:30 alerts the first night, not every night. Bounded: at most
   2,048 remembered scores of 0.2 or more from the last day.
"""

from __future__ import annotations

import math
from typing import Any

from workbench._params import Integral, Interval, Real
from workbench.detect._base import Detector
from workbench.detect._calibrate import DecayingQuantile
from workbench.detect._knn import NearestShapeDistance
from workbench.detect._robust import _RobustZ

__all__ = ["EnsembleDetector"]

# a view whose calibration quantile is 0 (a series that never moved) and that
# now moves is as surprising as we can say; 10 x its quantile is "very"
_UNCALIBRATED_SURPRISE = 10.0
# the slow view stores, and searches for, this many shapes per ``slow_stride``
# points (every 4th at stride 12): neighbours of a smoothed series are near
# copies, so its ring covers the same history as the shape view's in a quarter
# of the memory, searched a quarter as often
_SLOW_SHAPES_PER_STRIDE = 3


class EnsembleDetector(Detector):
    """Level z-score + two nearest-shape distances, calibrated per series, one alert per incident.

    Parameters (one set for every series; the defaults are the ones benchmarked):

    ``window``: points in the rolling median/MAD of the level view.
    ``memory``: past shapes kept for the shape view (cost per point and
    memory grow linearly with it: 10,000 x 3 floats = 240 kB); the slow view
    keeps every 4th of its shapes, a quarter as many over the same history.
    ``slow_stride``: smoothing and spacing of the slow-shape view, in points.
    ``quantile``/``calibration_halflife``: the per-view calibration (the
    quantile of past surprises, weighted by recency with this half-life in points).
    ``suppress``, ``rest_period``, ``rest_level``: one alert per incident.
    ``recurrence_days``, ``recurrence_ratio``: no alert for what came at the same
    time of day on one of the last ``recurrence_days`` days, unless it is
    ``recurrence_ratio`` times as surprising (0 days: off).
    ``grace_period``: points before scores mean anything (also the least
    history a calibration needs).
    """

    _parameter_constraints = {
        **Detector._parameter_constraints,
        **{key: [Interval(Integral, 1, None, closed="left", text="a positive integer")] for key in ("window", "memory", "slow_stride", "calibration_halflife")},
        "quantile": [Interval(Real, 0, 1, closed="neither", text="in (0, 1), e.g. 0.99")],
    }

    def __init__(
        self,
        window: int = 3000,
        memory: int = 10000,
        slow_stride: int = 12,
        quantile: float = 0.99,
        calibration_halflife: int = 2500,
        suppress: int = 0,
        rest_period: int = 200,
        rest_level: float = 0.3,
        grace_period: int = 200,
        recurrence_days: int = 1,
        recurrence_ratio: float = 2.0,
    ) -> None:
        self.window = window
        self.memory = memory
        self.slow_stride = slow_stride
        self.quantile = quantile
        self.calibration_halflife = calibration_halflife
        self.suppress = suppress
        self.rest_period = rest_period
        self.rest_level = rest_level
        self.grace_period = grace_period
        self.recurrence_days = recurrence_days
        self.recurrence_ratio = recurrence_ratio

    def _init_state(self) -> None:
        super()._init_state()
        self.level_ = _RobustZ(self.window, 30)
        self.shape_ = NearestShapeDistance(dim=3, stride=1, memory=self.memory)
        keep = max(1, self.slow_stride // _SLOW_SHAPES_PER_STRIDE)
        self.slow_ = NearestShapeDistance(
            dim=3, stride=self.slow_stride, memory=max(1, self.memory // keep), keep_every=keep, query_every=keep
        )
        self.history_ = [DecayingQuantile(self.quantile, self.calibration_halflife) for _ in range(3)]

    def _score_learn(self, timestamp: Any, value: float) -> float:
        # the three views, each divided by its own past's quantile, unrolled and inlined (this runs
        # on every point); a view still filling its first embedding says nothing (None)
        grace = self.grace_period
        h_level, h_shape, h_slow = self.history_
        total = 0.0
        raw = self.level_.update(value)
        if h_level.n >= grace:
            q = h_level.quantile()
            if q > 0:
                total += (raw / q) ** 2
            elif raw > 0:
                total += _UNCALIBRATED_SURPRISE**2
        h_level.add(raw)
        raw = self.shape_.update(value)
        if raw is not None:
            if h_shape.n >= grace:
                q = h_shape.quantile()
                if q > 0:
                    total += (raw / q) ** 2
                elif raw > 0:
                    total += _UNCALIBRATED_SURPRISE**2
            h_shape.add(raw)
        raw = self.slow_.update(value)
        if raw is not None:
            if h_slow.n >= grace:
                q = h_slow.quantile()
                if q > 0:
                    total += (raw / q) ** 2
                elif raw > 0:
                    total += _UNCALIBRATED_SURPRISE**2
            h_slow.add(raw)
        ratio = math.sqrt(total / 3.0)
        return 1.0 - math.exp(-ratio / 3.0)
