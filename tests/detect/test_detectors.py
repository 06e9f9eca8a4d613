"""Contract suite every streaming detector must pass (STYLE.md point 17)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from workbench.detect import (
    DETECTORS,
    EnsembleDetector,
    ForecastResidualDetector,
    IsolationForestDetector,
    MADDetector,
    SurpriseDetector,
    make_detector,
    score_series,
)
from workbench.errors import ConfigError, DataError

# small windows so the suite stays fast; the contract does not depend on size
UNIVARIATE = {
    "mad": lambda: MADDetector(window=50, grace_period=10),
    "surprise": lambda: SurpriseDetector(window=60, calibration_window=200, suppress=20, grace_period=40),
    "residual": lambda: ForecastResidualDetector(season="1h", long=200, grace_period=40),
    "ensemble": lambda: EnsembleDetector(
        window=60, memory=200, slow_stride=4, calibration_halflife=200, suppress=20, rest_period=20, grace_period=40
    ),
}


def _series(n: int = 600, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2026-01-01", periods=n, freq="5min")
    daily = 10 * np.sin(2 * np.pi * np.arange(n) / 12)
    values = 50 + daily + rng.normal(0, 1, n)
    values[450] += 40  # one spike
    return pd.Series(values, index=idx)


@pytest.fixture(params=sorted(UNIVARIATE))
def build(request):
    return UNIVARIATE[request.param]


def test_scores_in_unit_interval_and_grace_period(build):
    det = build()
    scores = score_series(det, _series())
    assert scores.between(0, 1).all()
    assert (scores.iloc[: det.grace_period] == 0).all()


def test_no_look_ahead(build):
    """Perturbing points after k must not change any score up to k."""
    s = _series()
    base = score_series(build(), s).to_numpy()
    k = 300
    changed = s.copy()
    changed.iloc[k + 1 :] = np.random.default_rng(9).normal(0, 100, len(s) - k - 1)
    other = score_series(build(), changed).to_numpy()
    np.testing.assert_array_equal(base[: k + 1], other[: k + 1])
    assert not np.array_equal(base[k + 1 :], other[k + 1 :])


def test_save_restore_gives_identical_scores(build):
    s = _series()
    full = score_series(build(), s).to_numpy()
    first = build()
    score_series(first, s.iloc[:300])
    state = pickle.loads(pickle.dumps(first.get_state()))
    resumed = build().set_state(state)
    np.testing.assert_array_equal(score_series(resumed, s.iloc[300:]).to_numpy(), full[300:])
    # plain pickling of the detector works as well
    clone = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(score_series(clone, s.iloc[300:]).to_numpy(), full[300:])


def test_nan_input_scores_zero_and_is_not_learned(build):
    s = _series()
    det = build()
    score_series(det, s.iloc[:200])
    seen = det.n_seen_
    assert det.update(s.index[200], float("nan")) == 0.0
    assert det.update(s.index[200], None) == 0.0
    assert det.n_seen_ == seen


def test_spike_scores_higher_than_typical(build):
    scores = score_series(build(), _series())
    assert scores.iloc[450] > scores.iloc[100:440].quantile(0.95)


def test_restore_into_other_params_is_refused():
    det = MADDetector(window=50)
    det.update(0, 1.0)
    with pytest.raises(DataError, match="same class and parameters"):
        MADDetector(window=60).set_state(det.get_state())


def test_registry():
    assert isinstance(make_detector("default"), EnsembleDetector)
    assert isinstance(make_detector("surprise"), SurpriseDetector)
    assert set(DETECTORS) >= {"default", "ensemble", "surprise", "mad", "residual", "iforest"}
    with pytest.raises(ConfigError, match="Unknown detector 'nope'"):
        make_detector("nope")
    with pytest.raises(ConfigError, match="Bad parameters"):
        make_detector("mad", windw=3)


@pytest.mark.slow
def test_isolation_forest_multivariate_contract():
    rng = np.random.default_rng(1)
    n = 400
    busy = rng.random(n) < 0.5  # two regimes: idle (cpu 20, mem 30) and busy (cpu 60, mem 70)
    cpu = np.where(busy, 60, 20) + rng.normal(0, 2, n)
    mem = np.where(busy, 70, 30) + rng.normal(0, 2, n)
    cpu[350], mem[350] = 40, 50  # each value is inside its range; the pair fits neither regime
    rows = [{"cpu": c, "mem": m} for c, m in zip(cpu, mem, strict=True)]

    def run(det, items, start=0):
        return np.array([det.update(start + i, r) for i, r in enumerate(items)])

    base = run(IsolationForestDetector(window=200, refit_every=50, grace_period=60), rows)
    assert ((0 <= base) & (base <= 1)).all() and (base[:60] == 0).all()
    assert base[350] > np.quantile(base[100:340], 0.99)
    # no look-ahead
    changed = rows[:300] + [{"cpu": 99.0, "mem": -5.0}] * 100
    other = run(IsolationForestDetector(window=200, refit_every=50, grace_period=60), changed)
    np.testing.assert_array_equal(base[:300], other[:300])
    # save / restore
    det = IsolationForestDetector(window=200, refit_every=50, grace_period=60)
    run(det, rows[:200])
    resumed = IsolationForestDetector(window=200, refit_every=50, grace_period=60).set_state(
        pickle.loads(pickle.dumps(det.get_state()))
    )
    np.testing.assert_array_equal(run(resumed, rows[200:], 200), base[200:])
    # a missing metric is carried forward, a wrong-length vector is refused
    assert 0 <= det.update(1000, {"cpu": 30.0, "mem": float("nan")}) <= 1
    with pytest.raises(DataError, match="started with 2 metrics"):
        det.update(1001, [1.0, 2.0, 3.0])
