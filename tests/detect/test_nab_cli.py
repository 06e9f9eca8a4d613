"""benchmarks/nab.py detect + score on a tiny NAB-layout folder (real subprocesses)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_detect_then_score_on_a_nab_layout_folder(tmp_path):
    data = tmp_path / "data" / "synthetic"
    data.mkdir(parents=True)
    idx = pd.date_range("2026-01-01", periods=600, freq="5min")
    rng = np.random.default_rng(3)
    values = 10 + rng.normal(0, 1, 600)
    values[450:460] += 30
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(data / "one.csv", index=False)
    windows = tmp_path / "windows.json"
    windows.write_text(json.dumps({"synthetic/one.csv": [[str(idx[430]), str(idx[470])]]}))
    out = tmp_path / "out"
    run = lambda *a: subprocess.run([sys.executable, str(REPO / "benchmarks" / "nab.py"), *a], check=True, capture_output=True, text=True, cwd=REPO)  # noqa: E731
    run("detect", "--data", str(tmp_path / "data"), "--detector", "default", "--out", str(out))
    result = pd.read_csv(out / "synthetic" / "one.csv")
    assert list(result.columns) == ["timestamp", "value", "anomaly_score"] and len(result) == 600
    assert result["anomaly_score"].between(0, 1).all()
    last = run("score", "--data", str(tmp_path / "data"), "--windows", str(windows), "--results", str(out)).stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"standard=(\S+) reward_low_FP_rate=(\S+) reward_low_FN_rate=(\S+)", last)
    assert m, last
    assert float(m.group(1)) > 50  # the jump is found early in its window
