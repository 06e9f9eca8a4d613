"""time_to_threshold: capacity questions with an honest range."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import DataError
from workbench.forecast import Drift, Naive, time_to_threshold

from .conftest import hourly


def _disk():
    rng = np.random.default_rng(11)
    t = np.arange(200)
    return hourly(40 + 0.1 * t + rng.normal(0, 0.2, t.size))  # 40 % -> 60 %, +2.4 % a day


def test_expected_crossing_with_a_range():
    y = _disk()
    res = time_to_threshold(y, 70.0, horizon=400, model=Drift())
    assert res.status == "expected"
    # 60 -> 70 at 0.1 per hour: about 100 hours after the last point
    hours = (res.eta - y.index[-1]) / np.timedelta64(1, "h")
    assert 85 <= hours <= 115
    assert res.earliest <= res.eta
    assert res.latest is None or res.latest >= res.eta
    assert "Expected to cross 70" in res.message


def test_not_within_the_horizon_is_an_answer():
    res = time_to_threshold(_disk(), 500.0, horizon=24, model=Drift())
    assert res.status == "not_within_horizon"
    assert res.eta is None and res.earliest is None and res.latest is None
    assert "Not within the horizon" in res.message


def test_already_and_below_and_fitted_model():
    y = _disk()
    assert time_to_threshold(y, 50.0, horizon=10).status == "already"
    fitted = Naive().fit(y)
    res = time_to_threshold(y, 20.0, horizon=48, model=fitted, direction="below")
    assert res.status in {"possible", "not_within_horizon"}
    with pytest.raises(DataError, match="direction must be 'above' or 'below'"):
        time_to_threshold(y, 1.0, direction="up")
