"""Data preparation: turn what a user hands us into a regular, numeric, gap-free series.

The policy, stated once (every forecaster's ``fit`` applies it through
:func:`prepare_series`):

- ``y`` must be a :class:`pandas.Series` indexed by timestamps (a ``DatetimeIndex``).
- Values must be numeric. Strings that parse as numbers (``"1.5"``) are converted;
  anything else is a :class:`~workbench.errors.DataError` that says how many values
  are bad and where. Infinite values are refused the same way.
- Unsorted timestamps are sorted; the input object is never modified.
- Duplicated timestamps are refused (``duplicates="error"``, the default) with a
  message that names them; ``duplicates="mean"``/``"last"``/``"first"`` aggregates them.
- The frequency is ``freq`` if given, else the index's own ``freq``, else
  :func:`pandas.infer_freq`, else the most common spacing between timestamps.
- Timestamps that are not on that grid (irregular sampling) are averaged into the
  grid's bins (``irregular="resample"``, the default) or refused (``"error"``).
- Missing points -- NaNs and timestamps absent from the grid -- are filled by
  linear interpolation when a run of them is at most ``max_gap`` points long
  (trailing ones are carried forward). Longer runs are a ``DataError`` that says
  how many points are missing and where, and what to do about it. Leading NaNs
  are dropped: the series starts at its first value.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from workbench.errors import DataError

__all__ = ["prepare_series", "season_length_for", "DEFAULT_MAX_GAP"]

DEFAULT_MAX_GAP = 5
_DUPLICATES = ("error", "mean", "last", "first")
_IRREGULAR = ("resample", "error")


def _fmt_ts(ts) -> str:
    return pd.Timestamp(ts).isoformat(sep=" ")


def _examples(index, limit: int = 3) -> str:
    items = [_fmt_ts(t) for t in list(index[:limit])]
    more = "" if len(index) <= limit else f" and {len(index) - limit} more"
    return ", ".join(items) + more


def _to_numeric(y: pd.Series, name: str) -> pd.Series:
    if is_bool_dtype(y.dtype):
        raise DataError(
            f"{name} holds booleans; a forecaster needs numbers. Convert with {name}.astype(float) "
            "if 0/1 is what you mean.",
            dtype=str(y.dtype),
        )
    if is_numeric_dtype(y.dtype):
        return y.astype("float64")
    converted = pd.to_numeric(y, errors="coerce")
    bad = converted.isna() & y.notna()
    if bad.any():
        where = y.index[bad.to_numpy()]
        samples = ", ".join(f"{v!r} at {_fmt_ts(t)}" for t, v in y[bad].head(3).items())
        raise DataError(
            f"{name} has {int(bad.sum())} non-numeric value(s) (e.g. {samples}); "
            "a forecaster needs numbers. Clean or drop them first.",
            count=int(bad.sum()),
            first=_fmt_ts(where[0]),
        )
    return converted.astype("float64")


def _resolve_freq(index: pd.DatetimeIndex, freq) -> pd.DateOffset:
    if freq is not None:
        try:
            return pd.tseries.frequencies.to_offset(freq)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"freq={freq!r} is not a pandas frequency; use e.g. '5min', 'h' or 'D'.",
                freq=str(freq),
            ) from exc
    if index.freq is not None:
        return index.freq
    if len(index) >= 3:
        with warnings.catch_warnings():
            # pandas 3 warns that infer_freq will return an offset; to_offset takes either.
            warnings.filterwarnings("ignore", message="A future version of pandas will return a BaseOffset")
            inferred = pd.infer_freq(index)
        if inferred is not None:
            return pd.tseries.frequencies.to_offset(inferred)
    diffs = np.diff(index.as_unit("ns").asi8)  # pandas 3 indexes may be in us or s
    diffs = diffs[diffs > 0]
    if diffs.size == 0:
        raise DataError(
            "Cannot tell the sampling frequency of a series with fewer than two distinct "
            "timestamps; pass freq= explicitly (e.g. '1min').",
            n=len(index),
        )
    values, counts = np.unique(diffs, return_counts=True)
    step = pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")
    return pd.tseries.frequencies.to_offset(step)


def _missing_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in ``mask``."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(s), int(e - s)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def prepare_series(
    y,
    *,
    freq=None,
    max_gap: int = DEFAULT_MAX_GAP,
    duplicates: str = "error",
    irregular: str = "resample",
    name: str = "y",
) -> pd.Series:
    """Return a copy of ``y`` on a regular grid with no missing values (see the module docstring).

    The result is a float64 Series whose index carries its ``freq``.
    """
    if duplicates not in _DUPLICATES:
        raise DataError(
            f"duplicates={duplicates!r} is not one of {', '.join(_DUPLICATES)}.",
            duplicates=duplicates,
        )
    if irregular not in _IRREGULAR:
        raise DataError(
            f"irregular={irregular!r} is not one of {', '.join(_IRREGULAR)}.",
            irregular=irregular,
        )
    if not isinstance(max_gap, int | np.integer) or max_gap < 0:
        raise DataError(f"max_gap must be an integer >= 0; got {max_gap!r}.", max_gap=max_gap)
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DataError(
                f"{name} must be a Series (one column of values); got a DataFrame with "
                f"{y.shape[1]} columns. Select one, e.g. df['value'].",
                columns=list(map(str, y.columns)),
            )
        y = y.iloc[:, 0]
    if not isinstance(y, pd.Series):
        raise DataError(
            f"{name} must be a pandas Series indexed by timestamps; got {type(y).__name__}.",
            type=type(y).__name__,
        )
    if not isinstance(y.index, pd.DatetimeIndex):
        raise DataError(
            f"{name} must be indexed by timestamps (a DatetimeIndex); got {type(y.index).__name__}. "
            f"Set one, e.g. {name}.index = pd.to_datetime({name}.index) or "
            "pd.date_range(start, periods=len(y), freq='h').",
            index_type=type(y.index).__name__,
        )
    if y.index.hasnans:
        raise DataError(
            f"{name} has {int(y.index.isna().sum())} missing timestamp(s) (NaT) in its index; "
            "drop those rows first.",
            count=int(y.index.isna().sum()),
        )
    values = _to_numeric(y, name)
    finite = np.isfinite(values.to_numpy()) | values.isna().to_numpy()
    if not finite.all():
        bad = values.index[~finite]
        raise DataError(
            f"{name} has {len(bad)} infinite value(s) (at {_examples(bad)}); replace them with "
            "NaN or a real number first.",
            count=len(bad),
            first=_fmt_ts(bad[0]),
        )
    if not values.index.is_monotonic_increasing:
        values = values.sort_index(kind="stable")
    dup = values.index.duplicated(keep=False)
    if dup.any():
        if duplicates == "error":
            stamps = values.index[dup].unique()
            raise DataError(
                f"{name} has {len(stamps)} duplicated timestamp(s) ({int(dup.sum())} rows; "
                f"first: {_examples(stamps)}). Aggregate them first, e.g. "
                f"{name}.groupby(level=0).mean(), or call prepare_series({name}, duplicates='mean').",
                count=len(stamps),
                first=_fmt_ts(stamps[0]),
            )
        values = getattr(values.groupby(level=0), duplicates)()
    values = values.loc[values.first_valid_index():] if values.notna().any() else values.iloc[:0]
    if len(values) == 0:
        raise DataError(f"{name} has no numeric values to learn from.", n=0)

    offset = _resolve_freq(values.index, freq)
    start = values.index[0]
    grid = pd.date_range(start, values.index[-1], freq=offset)
    on_grid = values.index.isin(grid)
    if not on_grid.all():
        if irregular == "error":
            off = values.index[~on_grid]
            raise DataError(
                f"{name} has {len(off)} timestamp(s) off the {offset.freqstr} grid starting at "
                f"{_fmt_ts(start)} (e.g. {_examples(off)}). Resample it, or call "
                f"prepare_series({name}, irregular='resample').",
                count=len(off),
                freq=offset.freqstr,
            )
        # Average irregular samples into the bins of the grid (bins labelled by their start).
        values = values.resample(offset, origin=start, label="left", closed="left").mean()
        grid = values.index
    values = values.reindex(grid)
    values.index.freq = offset

    missing = values.isna().to_numpy()
    if missing.any():
        runs = _missing_runs(missing)
        long_runs = [(s, n) for s, n in runs if n > max_gap]
        if long_runs:
            total = int(missing.sum())
            s, n = max(long_runs, key=lambda r: r[1])
            raise DataError(
                f"{name} is missing {total} of {len(values)} points at {offset.freqstr} spacing, "
                f"in {len(runs)} run(s); {len(long_runs)} run(s) exceed max_gap={max_gap} points "
                f"(the longest: {n} points from {_fmt_ts(grid[s])} to {_fmt_ts(grid[s + n - 1])}). "
                f"Fill or cut those stretches yourself, or allow longer gaps with "
                f"prepare_series({name}, max_gap={n}).",
                missing=total,
                runs=len(runs),
                longest=n,
                longest_start=_fmt_ts(grid[s]),
            )
        values = values.interpolate(method="linear", limit_area="inside").ffill()
    values.name = y.name
    return values


_FIXED_SEASONS = {
    "D": 7,
    "B": 5,
    "W": 52,
    "MS": 12,
    "ME": 12,
    "M": 12,
    "QS": 4,
    "QE": 4,
    "Q": 4,
    "YS": 1,
    "YE": 1,
    "Y": 1,
}


def season_length_for(freq, cycle: str = "day") -> int:
    """The number of steps in the natural cycle of data sampled at ``freq``.

    Sub-daily data cycle once a day (``cycle="day"``) or once a week (``"week"``);
    daily data once a week; monthly once a year. Returns 1 when there is none.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    base = offset.rule_code.split("-")[0]
    if isinstance(offset, pd.offsets.Tick):
        step = pd.Timedelta(offset)
        if step < pd.Timedelta("1D"):
            span = pd.Timedelta("7D") if cycle == "week" else pd.Timedelta("1D")
            m = span // step
            return int(m) if span % step == pd.Timedelta(0) and m >= 2 else 1
        if step == pd.Timedelta("1D") and offset.n == 1:
            return 7
        return 1
    if offset.n == 1 and base in _FIXED_SEASONS:
        return _FIXED_SEASONS[base]
    return 1
