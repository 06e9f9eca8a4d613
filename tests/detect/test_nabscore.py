"""The NAB scorer on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.detect import score_nab
from workbench.detect._nabscore import scaled_sigmoid

N = 100  # rows 0..14 are probationary (floor(0.15 * 100))
TS = pd.date_range("2026-01-01", periods=N, freq="5min")
WIN = [[str(TS[40]), str(TS[49])]]  # rows 40..49, width 10


def _score(scores, windows=WIN, profile="standard"):
    return score_nab({"a/f.csv": (TS, np.asarray(scores, float))}, {"a/f.csv": windows})[profile]


def test_sigmoid_reference_points():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.5) == -1.0


def test_perfect_is_100_and_null_is_0():
    perfect = np.zeros(N)
    perfect[40] = 1.0
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert _score(perfect, profile=profile).normalized == pytest.approx(100.0)
        assert _score(np.zeros(N), profile=profile).normalized == pytest.approx(0.0)
        assert _score(np.full(N, 0.5), profile=profile).normalized == pytest.approx(0.0)


def test_one_detection_halfway_into_window():
    scores = np.zeros(N)
    scores[45] = 1.0  # position -(49 - 45 + 1)/10 = -0.5
    s = _score(scores)
    tp = scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0)
    assert s.raw == pytest.approx(tp)
    assert s.normalized == pytest.approx(100 * (tp + 1) / 2)
    assert (s.tp, s.fp, s.fn) == (1, 0, 0)


def test_false_positive_right_after_window():
    scores = np.zeros(N)
    scores[40] = 1.0
    scores[51] = 1.0  # 2 rows past the window end: position 2/(10-1)
    s = _score(scores)
    fp = 0.11 * scaled_sigmoid(2 / 9)
    # the optimiser keeps the FP since the TP is worth more than its cost
    assert s.raw == pytest.approx(1.0 + fp)
    assert fp == pytest.approx(0.11 * (2 / (1 + math.exp(5 * 2 / 9)) - 1))
    assert s.fp == 1


def test_fp_far_from_windows_and_probation_ignored():
    scores = np.zeros(N)
    scores[5] = 1.0  # probationary: not scored
    scores[20] = 0.9  # before any window: -fp
    scores[40] = 0.8
    s = _score(scores)
    assert s.threshold == pytest.approx(0.8)
    assert s.raw == pytest.approx(1.0 - 0.11)


def test_missing_windows_file_is_a_clear_error():
    with pytest.raises(KeyError, match="No anomaly windows"):
        score_nab({"a/f.csv": (TS, np.zeros(N))}, {})


def test_fixed_threshold_scores_like_the_sweep_at_its_own_threshold():
    """Held-out scoring uses a threshold chosen elsewhere; at the sweep's own choice it agrees with the sweep."""
    rng = np.random.default_rng(3)
    files = {f"a/f{i}.csv": (TS, rng.random(N)) for i in range(3)}
    wins = {key: WIN for key in files}
    swept = score_nab(files, wins)
    fixed = score_nab(files, wins, thresholds={p: s.threshold for p, s in swept.items()})
    for profile, s in swept.items():
        f = fixed[profile]
        assert (f.threshold, f.tp, f.fp, f.fn) == (s.threshold, s.tp, s.fp, s.fn)
        assert f.raw == pytest.approx(s.raw) and f.normalized == pytest.approx(s.normalized)
    # a threshold above every score detects nothing: every window missed, score 0 (the null detector)
    none = score_nab(files, wins, thresholds={"standard": 2.0})["standard"]
    assert (none.tp, none.fp, none.fn) == (0, 0, 3) and none.normalized == pytest.approx(0.0)
    # one detection halfway into the window, nothing else: as test_one_detection_halfway_into_window
    scores = np.zeros(N)
    scores[45] = 0.9
    one = score_nab({"a/f.csv": (TS, scores)}, {"a/f.csv": WIN}, thresholds={"standard": 0.5})["standard"]
    assert (one.tp, one.fp, one.fn) == (1, 0, 0)
    assert one.raw == pytest.approx(scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0))
