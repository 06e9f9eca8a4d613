"""The streaming detector protocol shared by every detector.

Follows river's anomaly detectors (``river/anomaly/base.py``): one object sees
``(timestamp, value)`` in order, scores the point *before* learning it (so a
score never uses the point it scores, let alone later ones), and says nothing
(score 0) during a grace period while it has too little history to mean
anything. The same object runs live in the agent and in batch over history
(:func:`score_series`), and its state can be saved and restored so an agent
restart resumes without relearning.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from workbench._params import Integral, Interval, Real, check_params
from workbench.errors import DataError

__all__ = ["Detector", "score_series"]

_DAY = 86400.0
#: "about the same time of day": within this many seconds of a whole number of days earlier
_RECUR_TOLERANCE = 3600.0
#: scores below this are never remembered for recurrence suppression (below any useful threshold)
_RECUR_FLOOR = 0.2
#: at most this many remembered scores (bounded state; the oldest go first)
_RECUR_MEMORY = 2048


def _seconds(timestamp: Any) -> float | None:
    """Seconds since the epoch of a timestamp as the agent (float) or ``score_series`` (pandas) gives it."""
    if isinstance(timestamp, int | float):
        return float(timestamp)
    if hasattr(timestamp, "timestamp"):
        return float(timestamp.timestamp())
    if isinstance(timestamp, np.datetime64):
        return float(timestamp.astype("datetime64[ns]").astype(np.int64)) / 1e9
    return None


class Detector:
    """Base class: subclasses implement :meth:`_score_learn` for finite values.

    Hyperparameters are stored untouched in ``__init__`` (scikit-learn style);
    learned state lives in trailing-underscore attributes created lazily by
    :meth:`_init_state`, which is what :meth:`get_state`/:meth:`set_state` and
    pickling carry.
    """

    #: points seen before scores mean anything; subclasses set their own
    grace_period: int = 0
    #: burst suppression: report a score only if it beats every raw score of
    #: the previous ``suppress`` points (0 = off), so one burst is one alert
    suppress: int = 0
    #: rest after an alert: once a reported score reaches ``rest_level``, the
    #: next ``rest_period`` points report 0 (0 = off). One incident then raises
    #: one alert, as NAB and a person reading alerts both want; the idea is
    #: CAD OSE's "rest period" (Smirnov, NAB 2016).
    rest_period: int = 0
    rest_level: float = 1.0
    #: recurrence suppression: a score is only reported if no score (of at least
    #: ``_RECUR_FLOOR``) at about the same time of day on one of the previous
    #: ``recurrence_days`` days (0 = off) was as surprising, or at least
    #: ``1 / recurrence_ratio`` as surprising (surprise: ``-log(1 - score)``, the
    #: calibrated ratio of :class:`EnsembleDetector`). A job that runs every night at
    #: 03:30 is a recurring event, not an incident; a person reading alerts would
    #: otherwise get it every night.
    recurrence_days: int = 0
    recurrence_ratio: float = 1.0
    #: What each hyperparameter may be (:mod:`workbench._params`): checked at first use
    #: (``_init_state``, scikit-learn style: ``__init__`` does no work); a bad value raises
    #: :class:`~workbench.errors.ParameterError`. These rows are shared; a subclass extends
    #: them with ``{**Detector._parameter_constraints, "window": [...]}``. A row applies only
    #: where the parameter is one of ``__init__``'s.
    _parameter_constraints: dict = {
        "grace_period": [Interval(Integral, 0, None, closed="left")],
        "suppress": [Interval(Integral, 0, None, closed="left", doc="0: off")],
        "rest_period": [Interval(Integral, 0, None, closed="left", doc="0: off")],
        "rest_level": [Interval(Real, 0, 1, closed="both")],
        "recurrence_days": [Interval(Integral, 0, None, closed="left", text="a whole number of days >= 0 (0: off)")],
        "recurrence_ratio": [Interval(Real, 1, None, closed="left",
                                      text="a number >= 1 (1: suppress only what is no more surprising than before)")],
    }
    _parameter_where = "{cls}'s {name!r}"

    def update(self, timestamp: Any, value: float) -> float:
        """Score ``value`` at ``timestamp`` using only earlier points, then learn it.

        Returns an anomaly score in [0, 1]. A missing value (``None``/NaN)
        scores 0 and is not learned: absence of data is the job of the
        ``absent`` alert rule, not of a detector.
        """
        try:
            n_seen = self.n_seen_
        except AttributeError:
            self._init_state()
            n_seen = self.n_seen_
        if value is None or not math.isfinite(value := float(value)):
            return 0.0
        score = float(self._score_learn(timestamp, value))
        # min(1.0, max(0.0, score)), as they pick (NaN -> 0.0), without two calls per point
        if not score > 0.0:
            score = 0.0
        elif not score < 1.0:
            score = 1.0
        self.n_seen_ = n_seen = n_seen + 1
        if self.suppress:
            recent = self.recent_
            beaten = not recent or score > max(recent)
            recent.append(score)
            if not beaten:
                score = 0.0
        if self.recurrence_days and score >= _RECUR_FLOOR:
            score = self._unless_recurring(timestamp, score)
        if n_seen <= self.grace_period:
            return 0.0
        if self.rest_period:
            if self.resting_ > 0:
                self.resting_ -= 1
                return 0.0
            if score >= self.rest_level:
                self.resting_ = self.rest_period
        return score

    def _unless_recurring(self, timestamp: Any, score: float) -> float:
        """``score``, or 0 if a score as high came at about this time of day on one of the last days."""
        t = _seconds(timestamp)
        if t is None or not math.isfinite(t):
            return score
        past = self.recurring_
        horizon = self.recurrence_days * _DAY + _RECUR_TOLERANCE
        while past and past[0][0] < t - horizon:
            past.popleft()
        recurring = False
        # as surprising as the earlier one, divided by recurrence_ratio: scores are
        # 1 - exp(-ratio / 3), so ratio / k is 1 - (1 - score) ** (1 / k)
        bar = 1.0 - (1.0 - score) ** (1.0 / self.recurrence_ratio)
        for seen, level in past:
            if level >= bar:
                lag = (t - seen) / _DAY
                days = round(lag)
                if days >= 1 and abs(lag - days) * _DAY <= _RECUR_TOLERANCE:
                    recurring = True
                    break
        past.append((t, score))
        return 0.0 if recurring else score

    def reset(self) -> Detector:
        """Forget everything learned (hyperparameters stay)."""
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, key)
        return self

    def get_state(self) -> dict[str, Any]:
        """A deep copy of the learned state, picklable, for :meth:`set_state`."""
        return {
            "class": type(self).__name__,
            "params": self.get_params(),
            "state": copy.deepcopy(
                {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}
            ),
        }

    def set_state(self, state: dict[str, Any]) -> Detector:
        """Restore what :meth:`get_state` returned (for the same class and parameters)."""
        if state.get("class") != type(self).__name__ or state.get("params") != self.get_params():
            raise DataError(
                f"Cannot restore state saved by {state.get('class')}({state.get('params')}) "
                f"into {type(self).__name__}({self.get_params()}); build the detector with the "
                "same class and parameters it was saved from, or start it fresh.",
                saved_class=state.get("class"),
            )
        self.reset()
        for key, value in copy.deepcopy(state["state"]).items():
            setattr(self, key, value)
        return self

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as given to ``__init__`` (scikit-learn convention)."""
        import inspect

        names = [
            p.name
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self" and p.kind is not p.VAR_KEYWORD
        ]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- for subclasses -------------------------------------------------
    def _init_state(self) -> None:
        check_params(self)
        self.n_seen_ = 0
        self.recent_: deque[float] = deque(maxlen=max(1, self.suppress))
        self.resting_ = 0
        self.recurring_: deque[tuple[float, float]] = deque(maxlen=_RECUR_MEMORY)

    def _score_learn(self, timestamp: Any, value: float) -> float:  # pragma: no cover
        raise NotImplementedError


def score_series(
    detector: Detector,
    series: pd.Series | Iterable[tuple[Any, float]],
) -> pd.Series:
    """Run ``detector`` over a whole series in order: the batch twin of live use.

    ``series`` is a time-indexed :class:`pandas.Series` (or pairs of
    ``(timestamp, value)``). The detector keeps its state afterwards, so
    scoring history and then continuing live is one continuous pass.
    """
    if isinstance(series, pd.Series):
        index = series.index
        values = series.to_numpy(dtype=float, na_value=np.nan)
        pairs: Iterable[tuple[Any, float]] = zip(index, values, strict=True)
    else:
        pairs = list(series)
        index = pd.Index([p[0] for p in pairs])
    update = detector.update
    out = np.fromiter((update(t, v) for t, v in pairs), dtype=float)
    return pd.Series(out, index=index, name="anomaly_score")
