"""benchmarks/forecast_nab.py --holdout: the configuration is chosen on the choice origins only."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def nab(monkeypatch):
    spec = importlib.util.spec_from_file_location("forecast_nab_benchmark", REPO / "benchmarks" / "forecast_nab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from workbench.forecast import Naive, SeasonalNaive

    # Two cheap configurations that disagree: a daily repeat and a flat line.
    monkeypatch.setattr(module, "AF_GRID", {
        "defaults": {"models": [Naive()], "n_windows": 2},
        "seasonal": {"models": [SeasonalNaive(season_length=288)], "n_windows": 2},
    })
    return module


def _cpu_file(folder: Path, days: int, seed: int, switch_day: int):
    """A daily cycle until ``switch_day``, then a flat level: later origins favour the flat line."""
    rng = np.random.default_rng(seed)
    n = days * 288
    t = np.arange(n)
    y = 50 + 20 * np.sin(2 * np.pi * t / 288) * (t < switch_day * 288) + rng.normal(0, 0.5, n)
    ts = pd.date_range("2026-01-01", periods=n, freq="5min")
    pd.DataFrame({"timestamp": ts, "value": y}).to_csv(folder / f"ec2_cpu_utilization_{seed}.csv", index=False)


def test_holdout_chooses_on_the_later_origins_and_scores_the_earlier(nab, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _cpu_file(data, days=8, seed=1, switch_day=5)
    out = tmp_path / "out"
    nab.main(["--data", str(data), "--out", str(out), "--origins", "2", "--train-days", "3",
              "--models", "Naive,AutoForecaster", "--holdout", "--n-jobs", "1"])
    scores = pd.read_csv(out / "scores.csv")
    origin = scores.unique_id.str.rsplit("@", n=1).str[1].astype(int)
    grid_rows = scores[scores.model.str.startswith("AutoForecaster[")]
    # Every configuration ran on the choice origin (k = 0); on the held-out one (k = 1) only the choice
    # and the defaults.
    assert set(grid_rows[origin[grid_rows.index] == 0].model) == {"AutoForecaster[defaults]", "AutoForecaster[seasonal]"}
    chosen, _ = nab.choose_config(scores[(origin == 0)])
    assert chosen == "AutoForecaster[defaults]"  # the flat line wins where the cycle has stopped
    held = scores[origin == 1]
    assert set(held.model) == {"Naive", "AutoForecaster[defaults]"}
    summary = (out / "summary.md").read_text()
    assert "chosen: **defaults**" in summary and "Held-out origins: 1 h" in summary
    assert "## Held-out targets" in summary
