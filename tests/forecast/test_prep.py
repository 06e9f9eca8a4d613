"""The data-preparation policy and its messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataError
from workbench.forecast import ETS, SeasonalNaive, prepare_series, season_length_for

from .conftest import hourly


def test_regular_series_passes_unchanged():
    y = hourly(np.arange(10.0))
    out = prepare_series(y)
    np.testing.assert_array_equal(out.to_numpy(), y.to_numpy())
    assert out.index.freqstr == "h"
    assert out is not y


def test_short_nan_runs_are_interpolated():
    y = hourly([1.0, 2.0, np.nan, np.nan, 5.0, 6.0])
    out = prepare_series(y)
    np.testing.assert_allclose(out.to_numpy(), [1, 2, 3, 4, 5, 6])
    assert y.isna().sum() == 2  # the input is left alone


def test_short_gaps_in_the_index_are_filled():
    y = hourly(np.arange(10.0)).drop(pd.Timestamp("2024-01-01 04:00"))
    out = prepare_series(y, freq="h")
    assert len(out) == 10
    assert out.iloc[4] == pytest.approx(4.0)


def test_long_gap_is_a_clear_error():
    y = hourly(np.arange(100.0))
    y.iloc[20:50] = np.nan
    with pytest.raises(DataError) as err:
        prepare_series(y)
    msg = str(err.value)
    assert "missing 30 of 100 points" in msg
    assert "30 points from 2024-01-01 20:00:00 to 2024-01-03 01:00:00" in msg
    assert "max_gap=30" in msg
    assert err.value.missing == 30
    out = prepare_series(y, max_gap=30)
    assert out.isna().sum() == 0


def test_long_gap_error_reaches_the_model():
    y = hourly(np.arange(100.0))
    y.iloc[20:50] = np.nan
    with pytest.raises(DataError, match="missing 30 of 100 points"):
        SeasonalNaive().fit(y)


def test_leading_nans_dropped_trailing_carried():
    y = hourly([np.nan, np.nan, 1.0, 2.0, 3.0, np.nan])
    out = prepare_series(y)
    assert out.index[0] == y.index[2]
    np.testing.assert_allclose(out.to_numpy(), [1, 2, 3, 3])


def test_unsorted_timestamps_are_sorted():
    y = hourly(np.arange(6.0)).iloc[[3, 0, 5, 1, 4, 2]]
    out = prepare_series(y)
    np.testing.assert_array_equal(out.to_numpy(), np.arange(6.0))
    assert out.index.is_monotonic_increasing


def test_duplicate_timestamps_are_refused_then_aggregated():
    y = hourly(np.arange(6.0))
    dup = pd.concat([y, pd.Series([10.0], index=[y.index[2]])])
    with pytest.raises(DataError) as err:
        prepare_series(dup)
    assert "1 duplicated timestamp(s) (2 rows; first: 2024-01-01 02:00:00)" in str(err.value)
    assert "duplicates='mean'" in str(err.value)
    out = prepare_series(dup, duplicates="mean")
    assert out.iloc[2] == pytest.approx(6.0)


def test_non_numeric_values_are_named():
    y = pd.Series(["1", "2", "oops", "4"], index=pd.date_range("2024-01-01", periods=4, freq="h"))
    with pytest.raises(DataError) as err:
        prepare_series(y)
    assert "1 non-numeric value(s)" in str(err.value)
    assert "'oops' at 2024-01-01 02:00:00" in str(err.value)
    ok = pd.Series(["1", "2", "3.5"], index=pd.date_range("2024-01-01", periods=3, freq="h"))
    np.testing.assert_allclose(prepare_series(ok).to_numpy(), [1, 2, 3.5])


def test_booleans_are_refused():
    y = pd.Series([True, False, True], index=pd.date_range("2024-01-01", periods=3, freq="h"))
    with pytest.raises(DataError, match="booleans"):
        prepare_series(y)


def test_infinite_values_are_refused():
    y = hourly([1.0, np.inf, 3.0])
    with pytest.raises(DataError, match=r"1 infinite value\(s\) \(at 2024-01-01 01:00:00\)"):
        prepare_series(y)


def test_index_must_be_timestamps():
    with pytest.raises(DataError, match="must be indexed by timestamps \\(a DatetimeIndex\\); got RangeIndex"):
        prepare_series(pd.Series([1.0, 2.0, 3.0]))
    with pytest.raises(DataError, match="must be a pandas Series"):
        prepare_series([1.0, 2.0])
    with pytest.raises(DataError, match="got a DataFrame with 2 columns"):
        prepare_series(pd.DataFrame({"a": [1.0], "b": [2.0]}, index=pd.DatetimeIndex(["2024-01-01"])))


def test_irregular_timestamps_are_averaged_into_the_grid():
    idx = pd.DatetimeIndex(
        ["2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:02", "2024-01-01 00:03",
         "2024-01-01 00:04:30", "2024-01-01 00:05", "2024-01-01 00:06"]
    )
    y = pd.Series([0.0, 1, 2, 3, 4, 5, 6], index=idx)
    out = prepare_series(y, freq="1min")
    assert out.index.freqstr == "min"
    assert out.loc["2024-01-01 00:04"] == pytest.approx(4.0)
    with pytest.raises(DataError, match="1 timestamp\\(s\\) off the min grid"):
        prepare_series(y, freq="1min", irregular="error")


def test_all_nan_is_refused():
    with pytest.raises(DataError, match="no numeric values"):
        prepare_series(hourly([np.nan, np.nan]))


def test_bad_policy_arguments():
    y = hourly([1.0, 2.0])
    with pytest.raises(DataError, match="duplicates='drop' is not one of"):
        prepare_series(y, duplicates="drop")
    with pytest.raises(DataError, match="freq='fortnightly' is not a pandas frequency"):
        prepare_series(y, freq="fortnightly")
    with pytest.raises(DataError, match="max_gap must be an integer"):
        prepare_series(y, max_gap=-1)


def test_frequency_is_inferred_from_the_most_common_spacing():
    idx = pd.date_range("2024-01-01", periods=10, freq="5min").delete(4)
    out = prepare_series(pd.Series(np.arange(9.0), index=idx))
    assert out.index.freqstr == "5min"
    assert len(out) == 10


@pytest.mark.parametrize(
    ("freq", "cycle", "expected"),
    [("h", "day", 24), ("h", "week", 168), ("5min", "day", 288), ("1min", "day", 1440),
     ("D", "day", 7), ("MS", "day", 12), ("7h", "day", 1), ("QS", "day", 4)],
)
def test_season_length_for(freq, cycle, expected):
    assert season_length_for(freq, cycle=cycle) == expected


def test_multiplicative_forms_need_positive_data():
    y = hourly(np.sin(np.arange(100) / 3.0))
    with pytest.raises(DataError, match="multiplicative forms need every value > 0"):
        ETS(error="mul", trend=None, seasonal=None).fit(y)
