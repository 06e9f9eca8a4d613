"""Multivariate detector: several metrics of one host judged together."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._params import Integral, Interval
from workbench.detect._base import Detector
from workbench.errors import DataError

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

__all__ = ["IsolationForestDetector"]


class IsolationForestDetector(Detector):
    """scikit-learn's isolation forest, refit every ``refit_every`` points on a trailing window.

    ``update(timestamp, values)`` takes a mapping ``{metric: value}`` (or a
    sequence in a fixed order). The first call fixes the metric names; a
    missing or NaN metric is carried forward from its last value, so one
    silent collector does not blind the detector. A point is scored by the
    forest fitted on *earlier* points only, then added to the window. The
    isolation score ``s`` in (0, 1] (0.5 is ordinary) is reported as
    ``max(0, 2 s - 1)``.

    Why an isolation forest: it needs no scaling (splits are uniform between
    each feature's min and max), copes with a handful of correlated metrics
    and fits 256-sample trees in milliseconds, so refitting on a trailing
    window keeps up with drift.
    """

    _parameter_constraints = {
        **Detector._parameter_constraints,
        **{key: [Interval(Integral, 1, None, closed="left", text="a positive integer")] for key in ("window", "refit_every", "n_estimators")},
    }

    def __init__(
        self,
        window: int = 1000,
        refit_every: int = 100,
        n_estimators: int = 50,
        random_state: int = 0,
        suppress: int = 0,
        grace_period: int = 100,
    ) -> None:
        self.window = window
        self.refit_every = refit_every
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.suppress = suppress
        self.grace_period = grace_period

    def _init_state(self) -> None:
        super()._init_state()
        self.names_: list[str] | None = None
        self.last_: np.ndarray | None = None
        self.buffer_: deque[np.ndarray] = deque(maxlen=self.window)
        self.forest_: IsolationForest | None = None
        self.since_fit_ = 0

    def update(self, timestamp: Any, values: Mapping[str, float] | Sequence[float]) -> float:
        """Score the vector ``values`` at ``timestamp`` from earlier points, then learn it."""
        if not hasattr(self, "n_seen_"):
            self._init_state()
        x = self._vector(values)
        if x is None:
            return 0.0
        score = 0.0
        if self.forest_ is not None:
            s = -float(self.forest_.score_samples(x[None, :])[0])
            score = max(0.0, 2.0 * s - 1.0)
        self.buffer_.append(x)
        self.since_fit_ += 1
        if len(self.buffer_) >= min(self.grace_period, self.window) and (
            self.forest_ is None or self.since_fit_ >= self.refit_every
        ):
            # scikit-learn (~90 MiB resident) is imported on the first fit, not with the module.
            from sklearn.ensemble import IsolationForest

            self.forest_ = IsolationForest(
                n_estimators=self.n_estimators,
                max_samples=min(256, len(self.buffer_)),
                random_state=self.random_state,
            ).fit(np.asarray(self.buffer_))
            self.since_fit_ = 0
        return self._finish(score)

    def _finish(self, score: float) -> float:
        self.n_seen_ += 1
        if self.suppress:
            beaten = not self.recent_ or score > max(self.recent_)
            self.recent_.append(score)
            score = score if beaten else 0.0
        return 0.0 if self.n_seen_ <= self.grace_period else min(1.0, score)

    def _vector(self, values: Mapping[str, float] | Sequence[float]) -> np.ndarray | None:
        if isinstance(values, Mapping):
            if self.names_ is None:
                self.names_ = sorted(values)
            raw = [values.get(name) for name in self.names_]
        else:
            raw = list(values)
            if self.names_ is None:
                self.names_ = [str(i) for i in range(len(raw))]
            if len(raw) != len(self.names_):
                raise DataError(
                    f"IsolationForestDetector was started with {len(self.names_)} metrics "
                    f"but got {len(raw)} values; pass the same metrics every time "
                    "(a mapping {metric: value} is safest).",
                    expected=len(self.names_),
                    got=len(raw),
                )
        x = np.array([np.nan if v is None else float(v) for v in raw])
        bad = ~np.isfinite(x)
        if bad.all():
            return None
        if bad.any():
            if self.last_ is None:
                return None
            x[bad] = self.last_[bad]
        self.last_ = x
        return x

    def _score_learn(self, timestamp: Any, value: float) -> float:  # pragma: no cover
        raise NotImplementedError("use update(timestamp, {metric: value})")


