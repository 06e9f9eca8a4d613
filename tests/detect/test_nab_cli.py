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


def _load_benchmark():
    import importlib.util

    spec = importlib.util.spec_from_file_location("nab_benchmark", REPO / "benchmarks" / "nab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_folds_choose_without_the_held_out_category(tmp_path, capsys):
    """Leave one category out on a tiny corpus: each fold's choice is the best on the other categories."""
    from workbench.detect import score_nab

    nab = _load_benchmark()
    idx = pd.date_range("2026-01-01", periods=400, freq="5min")
    windows = {}
    rng = np.random.default_rng(8)
    for c, cat in enumerate(["alpha", "beta", "gamma"]):
        for f in range(2):
            values = 10 + rng.normal(0, 1 + c, 400)
            at = 250 + 40 * f
            values[at:at + 5] += 8 * (1 + f)  # jumps of two sizes
            values[150 + 30 * c] += 6  # an unlabelled blip: a false alarm at a low threshold
            path = tmp_path / "data" / cat / f"f{f}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(path, index=False)
            windows[f"{cat}/f{f}.csv"] = [[str(idx[at - 15]), str(idx[at + 15])]]
    wfile = tmp_path / "windows.json"
    wfile.write_text(json.dumps(windows))
    out = nab.run_folds("mad", {"window": [20, 80]}, data=tmp_path / "data", windows_file=wfile)
    assert [row[0] for row in out["rows"]] == ["alpha", "beta", "gamma"]
    for cat, n, _inside, held, chosen in out["rows"]:
        _params, res, s = chosen["standard"]
        train = [k for k in res if not k.startswith(cat + "/")]
        test = [k for k in res if k.startswith(cat + "/")]
        assert n == 2 and len(train) == 4
        # the threshold is the sweep's on the other two categories, for the parameters chosen there
        assert s.threshold == score_nab({k: res[k] for k in train}, windows)["standard"].threshold
        # and no better on the held-out category than that category's own best threshold
        own = score_nab({k: res[k] for k in test}, windows)["standard"]
        assert held["standard"].normalized <= own.normalized + 1e-9
    assert "held-out" in capsys.readouterr().out
