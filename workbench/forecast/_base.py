"""The forecaster protocol, scikit-learn style.

A forecaster keeps its keyword hyperparameters untouched in ``__init__`` and does
no work there; ``fit(y)`` learns from a timestamp-indexed Series (prepared by
:func:`~workbench.forecast.prepare_series`) and returns ``self``; learned state
lives in attributes with a trailing underscore; ``predict(h, level=(80, 95))``
returns a DataFrame indexed by the ``h`` future timestamps with the columns
``mean, lo_80, hi_80, lo_95, hi_95`` (one ``lo_L``/``hi_L`` pair per level).

A subclass writes ``_fit(values)`` (a float64 ndarray on a regular grid) and
``_predict(h, levels) -> (mean, {level: (lo, hi)})``. The base class does the
validation, the timestamps, and guarantees that intervals are nested.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from workbench._params import Integral, Interval, check_params
from workbench.errors import DataError, NotFittedError, ParameterError

# pandas (and _prep, which needs it) is imported where a Series or frame is made, so that a model's
# numpy core (``_fit``/``_predict``, what an agent's `predicted` rule runs) loads numpy alone.
if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BaseForecaster", "clone", "check_levels", "normal_intervals", "interval_columns", "SEASON_LENGTH"]

#: the constraint-table row of every ``season_length`` hyperparameter (None: from the frequency)
SEASON_LENGTH = [None, Interval(Integral, 1, None, closed="left")]


def check_levels(level) -> tuple[float, ...]:
    """Validate and sort interval levels given in percent, e.g. ``(80, 95)``."""
    if level is None:
        return ()
    if isinstance(level, int | float | np.integer | np.floating):
        level = (level,)
    try:
        levels = tuple(sorted({float(v) for v in level}))
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"level must be numbers in percent between 0 and 100, e.g. (80, 95); got {level!r}.",
            level=repr(level),
        ) from exc
    for v in levels:
        if not 0 < v < 100:
            raise DataError(
                f"level must be percentages strictly between 0 and 100, e.g. (80, 95); got {v:g}.",
                level=v,
            )
    return levels


def _level_name(level: float) -> str:
    return f"{level:g}"


def interval_columns(levels: Iterable[float]) -> list[str]:
    cols = ["mean"]
    for lv in levels:
        cols += [f"lo_{_level_name(lv)}", f"hi_{_level_name(lv)}"]
    return cols


def normal_intervals(mean: np.ndarray, sd: np.ndarray, levels) -> dict[float, tuple]:
    """Symmetric Gaussian intervals ``mean +/- z * sd`` for each level."""
    out = {}
    for lv in levels:
        z = NormalDist().inv_cdf(0.5 + lv / 200.0)
        out[lv] = (mean - z * sd, mean + z * sd)
    return out


def _check_h(h) -> int:
    if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
        raise DataError(f"h must be a positive integer number of steps; got {h!r}.", h=repr(h))
    return int(h)


def clone(estimator):
    """A new unfitted estimator with the same hyperparameters (deep-copied)."""
    params = {k: copy.deepcopy(v) for k, v in estimator.get_params().items()}
    return type(estimator)(**params)


class BaseForecaster:
    """Base class of every forecaster; see the module docstring for the protocol."""

    #: Fewest observations ``_fit`` can work with; fewer is a clear DataError.
    min_obs: int = 2
    #: What each hyperparameter may be (:mod:`workbench._params`), checked at the start of
    #: :meth:`fit`; a bad value raises :class:`~workbench.errors.ParameterError`. A subclass
    #: declares its own table (``{**Parent._parameter_constraints, ...}`` to extend one).
    _parameter_constraints: dict = {}

    # -- scikit-learn parameter protocol -------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = False) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> BaseForecaster:
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ParameterError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {', '.join(valid)}.",
                    param=key,
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        shown = []
        for key, value in self.get_params().items():
            default = defaults.get(key, inspect.Parameter.empty)
            try:
                same = value is default or value == default
                same = bool(same)
            except Exception:  # arrays, estimators: compare by identity only
                same = value is default
            if not same:
                shown.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @property
    def name(self) -> str:
        """Short label used in tables and long-format output."""
        return type(self).__name__

    # -- fitting ------------------------------------------------------------------------
    def fit(self, y: pd.Series) -> BaseForecaster:
        """Learn from ``y`` (a timestamp-indexed Series; see :func:`prepare_series`)."""
        from workbench.forecast._prep import prepare_series

        check_params(self)
        series = prepare_series(y)
        values = series.to_numpy(dtype="float64", copy=True)
        if len(values) < self.min_obs:
            raise DataError(
                f"{type(self).__name__} needs at least {self.min_obs} observations to fit; "
                f"got {len(values)}.",
                n=len(values),
                min_obs=self.min_obs,
            )
        self.freq_ = series.index.freq
        self.last_timestamp_ = series.index[-1]
        self.n_obs_ = len(values)
        self.y_name_ = series.name
        self._fit(values)
        self._fitted = True
        return self

    def _fit(self, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _season(self, season_length) -> int:
        """Resolve a ``season_length`` hyperparameter (None -> from the frequency)."""
        if season_length is None:
            from workbench.forecast._prep import season_length_for

            return season_length_for(self.freq_)
        check_params(self, {"season_length": season_length}, constraints={"season_length": SEASON_LENGTH})
        return int(season_length)

    def check_is_fitted(self) -> None:
        if not getattr(self, "_fitted", False):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(y) before predict().",
                estimator=type(self).__name__,
            )

    # -- predicting ---------------------------------------------------------------------
    def future_index(self, h: int) -> pd.DatetimeIndex:
        self.check_is_fitted()
        import pandas as pd

        return pd.date_range(self.last_timestamp_ + self.freq_, periods=h, freq=self.freq_)

    def predict(self, h: int, level: Sequence[float] | None = (80, 95)) -> pd.DataFrame:
        """Forecast ``h`` steps ahead with prediction intervals at each ``level`` (percent)."""
        self.check_is_fitted()
        h = _check_h(h)
        levels = check_levels(level)
        mean, intervals = self._predict(h, levels)
        return self._frame(h, np.asarray(mean, dtype=float), intervals, levels)

    def _predict(self, h: int, levels: tuple[float, ...]):  # pragma: no cover - abstract
        raise NotImplementedError

    def _frame(self, h, mean, intervals, levels) -> pd.DataFrame:
        data = {"mean": mean}
        lo_prev, hi_prev = mean, mean
        for lv in levels:  # ascending: each wider level must contain the narrower ones
            lo, hi = (np.asarray(a, dtype=float) for a in intervals[lv])
            lo = np.minimum(np.minimum(lo, hi), lo_prev)
            hi = np.maximum(np.maximum(hi, lo), hi_prev)
            data[f"lo_{_level_name(lv)}"] = lo
            data[f"hi_{_level_name(lv)}"] = hi
            lo_prev, hi_prev = lo, hi
        import pandas as pd

        frame = pd.DataFrame(data, index=self.future_index(h), columns=interval_columns(levels))
        frame.index.name = "ds"
        return frame
