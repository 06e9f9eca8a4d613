"""The calibrated overload classifier and its backtested Brier score."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataError, NotFittedError
from workbench.forecast import OverloadClassifier


def _cpu(days=10, seed=0):
    rng = np.random.default_rng(seed)
    n = 288 * days
    t = np.arange(n)
    daily = 50 + 30 * np.sin(2 * np.pi * (t - 72) / 288)  # peaks in the afternoon
    y = daily + rng.normal(0, 6, n)
    return pd.Series(np.clip(y, 0, 100), index=pd.date_range("2024-01-01", periods=n, freq="5min"))


def test_probabilities_are_calibrated_and_beat_climatology():
    y = _cpu()
    clf = OverloadClassifier(threshold=85, window=12)
    report = clf.backtest(y, n_splits=3)
    assert 0 < report.base_rate < 1
    assert report.brier < report.brier_climatology
    assert report.skill > 0.3
    rel = report.reliability
    ece = np.sum(rel["count"] * np.abs(rel.predicted - rel.observed)) / rel["count"].sum()
    assert ece < 0.08  # expected calibration error


def test_predict_proba_shapes_and_pickle():
    y = _cpu(days=6)
    clf = OverloadClassifier(threshold=85).fit(y)
    p = clf.predict_proba()
    assert 0.0 <= p <= 1.0
    series = clf.predict_proba(y.iloc[-100:])
    assert len(series) == 100 and series.between(0, 1).all()
    again = pickle.loads(pickle.dumps(clf))
    assert again.predict_proba() == pytest.approx(p)


def test_clear_errors():
    with pytest.raises(NotFittedError):
        OverloadClassifier(threshold=1).predict_proba()
    with pytest.raises(DataError, match="needs both outcomes"):
        OverloadClassifier(threshold=1000).fit(_cpu(days=3))
