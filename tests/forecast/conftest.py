"""Series with known structure for the forecasting tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def hourly(values, start="2024-01-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.date_range(start, periods=len(values), freq="h"))


@pytest.fixture
def seasonal_noisy() -> pd.Series:
    """Ten days of hourly data: a daily cycle, a gentle trend and noise."""
    rng = np.random.default_rng(42)
    t = np.arange(240)
    return hourly(50 + 10 * np.sin(2 * np.pi * t / 24) + 0.05 * t + rng.normal(0, 1.0, t.size))


@pytest.fixture
def pure_seasonal() -> pd.Series:
    t = np.arange(24 * 12)
    pattern = 20 + 5 * np.sin(2 * np.pi * t / 24) + 2 * np.cos(4 * np.pi * t / 24)
    return hourly(pattern)


@pytest.fixture
def linear_trend() -> pd.Series:
    t = np.arange(200)
    rng = np.random.default_rng(3)
    return hourly(5 + 0.5 * t + rng.normal(0, 0.05, t.size))
