"""benchmarks/forecast_m4.py scores by the published M4 rules, whatever season the models get.

Hand-checkable series only (no shared data, no peers): the m and horizon table,
sMAPE / MASE / OWA worked out on paper, Naive2's seasonal adjustment, and a run
of the script on a tiny weekly set whose summary must use m = 1 and print only
weekly targets and no table for a peer that did not run.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def m4():
    spec = importlib.util.spec_from_file_location("forecast_m4_benchmark", REPO / "benchmarks" / "forecast_m4.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_published_horizon_and_m_per_frequency(m4):
    table = {name: (f.horizon, f.m) for name, f in m4.FREQUENCIES.items()}
    # M4 Competitor's Guide: m = 24 hourly, 12 monthly, 4 quarterly, 1 yearly/weekly/daily
    assert table == {
        "hourly": (48, 24),
        "daily": (14, 1),
        "weekly": (13, 1),
        "monthly": (18, 12),
        "quarterly": (8, 4),
        "yearly": (6, 1),
    }
    assert m4.FREQUENCIES["weekly"].season == 52  # the models' season is a separate thing
    assert m4.frequency_from_path("/x/Weekly-train.csv") == "weekly"
    assert m4.frequency_from_path("/x/series.csv") is None


def test_naive2_adjusts_only_at_the_published_m(m4):
    pattern = np.array([0.8, 1.2, 1.1, 0.9])
    y = 10 * np.tile(pattern, 6)  # six years of a multiplicative quarterly season
    np.testing.assert_allclose(m4.naive2(y, 8, 4), 10 * np.tile(pattern, 2))
    np.testing.assert_allclose(m4.naive2(y, 8, 1), np.full(8, y[-1]))  # m = 1: the naive forecast


def test_smape_mase_owa_by_hand(m4):
    data = {"W1": (pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8]), np.array([9.0, 10.0]))}
    fc = pd.DataFrame({
        "unique_id": "W1",
        "step": [1, 2, 1, 2],
        "model": ["Naive2", "Naive2", "Close", "Close"],
        "mean": [8.0, 8.0, 9.0, 9.0],
        "lo_80": np.nan, "hi_80": np.nan, "lo_95": np.nan, "hi_95": np.nan,
    })
    scores = m4.score_all(fc, data, h=2, m=1).set_index("model")
    # Naive2 = 8, 8: sMAPE = (200/17 + 400/18) / 2; MASE = mean(1, 2) / mean|diff| = 1.5
    assert scores.loc["Naive2", "smape"] == pytest.approx((200 / 17 + 400 / 18) / 2)
    assert scores.loc["Naive2", "mase"] == pytest.approx(1.5)
    assert np.isnan(scores.loc["Naive2", "cov_80"])  # no intervals: undefined, not 0
    # 9, 9: sMAPE = (0 + 200/19) / 2, MASE = 0.5
    assert scores.loc["Close", "smape"] == pytest.approx(100 / 19)
    assert scores.loc["Close", "mase"] == pytest.approx(0.5)
    summary = m4.summarise(scores.reset_index(), {}).set_index("model")
    expected = 0.5 * ((100 / 19) / ((200 / 17 + 400 / 18) / 2) + 0.5 / 1.5)
    assert summary.loc["Close", "OWA"] == pytest.approx(expected)
    assert summary.loc["Naive2", "OWA"] == pytest.approx(1.0)
    # The same series scored at m = 4 (a seasonal rule) has another scale: 4 per step of 4
    assert m4.score_all(fc, data, h=2, m=4).set_index("model").loc["Naive2", "mase"] == pytest.approx(1.5 / 4)


def test_weekly_run_scores_at_m1_and_prints_only_weekly_targets(m4, tmp_path):
    rng = np.random.default_rng(4)
    n, h = 120, 13
    ids = [f"W{i}" for i in range(1, 4)]
    series = {uid: 100 + np.cumsum(rng.normal(0, 1, n + h)) for uid in ids}
    pd.DataFrame([[uid, *series[uid][:n]] for uid in ids], columns=["V1", *range(2, n + 2)]).to_csv(
        tmp_path / "Weekly-train.csv", index=False)
    pd.DataFrame([[uid, *series[uid][n:]] for uid in ids], columns=["V1", *range(2, h + 2)]).to_csv(
        tmp_path / "Weekly-test.csv", index=False)
    out = tmp_path / "out"
    m4.main(["--train", str(tmp_path / "Weekly-train.csv"), "--test", str(tmp_path / "Weekly-test.csv"),
             "--out", str(out), "--models", "Naive2,Naive,ETS", "--season-length", "52",
             "--n-jobs", "1"])
    scores = pd.read_csv(out / "scores.csv")
    naive = scores[scores.model == "Naive"].set_index("unique_id")
    for uid in ids:
        y = series[uid]
        mase_m1 = np.mean(np.abs(y[n:] - y[n - 1])) / np.mean(np.abs(np.diff(y[:n])))
        assert naive.loc[uid, "mase"] == pytest.approx(mase_m1)  # m = 1, not the models' 52
    n2 = scores[scores.model == "Naive2"].set_index("unique_id")
    np.testing.assert_allclose(n2.mase.to_numpy(), naive.mase.to_numpy())  # Naive2 = Naive at m = 1
    summary = (out / "summary.md").read_text()
    assert "--frequency weekly" in summary and "lag m = 1" in summary
    assert "Targets (weekly)" in summary and "ETS OWA" in summary and "vs Naive" in summary
    assert "AutoARIMA subset" not in summary and "0.42" not in summary and "0.45" not in summary
    assert "published weekly" not in summary  # 3 series are not the full set: no reproduction claim
