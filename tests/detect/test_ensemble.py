"""The default detector's parts: nearest-shape distance, rest after an alert, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.detect import EnsembleDetector, make_detector, score_series
from workbench.detect._knn import NearestShapeDistance
from workbench.errors import ConfigError


def test_nearest_shape_distance_is_exact():
    knn = NearestShapeDistance(dim=3, stride=1, memory=100, min_memory=3)
    out = [knn.update(x) for x in [0.0, 1.0, 2.0] * 10]
    assert out[:2] == [None, None]
    # once enough shapes are stored, a repeating pattern is never surprising
    assert all(d == 0.0 for d in out[-10:])
    # (1, 2, 5) against the stored (0, 1, 2), (1, 2, 0), (2, 0, 1): squared distances 11, 25, 21
    assert knn.update(5.0) == np.sqrt(11)


def test_nearest_shape_does_not_match_itself():
    """Overlapping recent embeddings are held back, so a first-seen shape is far from everything."""
    knn = NearestShapeDistance(dim=3, stride=1, memory=100, min_memory=1)
    dists = [knn.update(float(x)) for x in range(10)]  # a ramp: every shape is new
    # (7, 8, 9) is compared with the stored (0, 1, 2) .. (3, 4, 5) only: the last dim = 3
    # shapes, (4, 5, 6) .. (6, 7, 8), are held back; nearest (3, 4, 5) is sqrt(3 * 16) away
    assert dists[-1] == np.sqrt(48)


def test_slow_shape_smooths_before_embedding():
    knn = NearestShapeDistance(dim=2, stride=2, memory=100, min_memory=1)
    dists = [knn.update(x) for x in [0.0, 2.0] * 20]
    # the 2-point trailing mean of 0,2,0,2,... is flat 1: no shape is ever surprising
    assert [d for d in dists if d is not None][-5:] == [0.0] * 5


def _spiky(n: int, spikes: list[int], seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    values = 10 + rng.normal(0, 1, n)
    values[spikes] += 25
    return pd.Series(values, index=pd.date_range("2026-01-01", periods=n, freq="5min"))


def _small(**kw) -> EnsembleDetector:
    params = dict(window=100, memory=500, slow_stride=4, calibration_halflife=500, suppress=20, grace_period=60)
    return EnsembleDetector(**(params | kw))


def test_rest_period_keeps_one_alert_per_incident():
    s = _spiky(600, [400, 430])
    quiet = score_series(_small(rest_period=50, rest_level=0.3), s)
    loud = score_series(_small(rest_period=0), s)
    assert quiet.iloc[400] >= 0.3 and loud.iloc[400] >= 0.3
    assert loud.iloc[430] >= 0.3  # without rest, the second spike alerts again
    assert (quiet.iloc[401:451] == 0).all()  # with rest, 50 points of silence after the alert
    assert quiet.iloc[451:].max() < quiet.iloc[400]


def test_scores_are_comparable_across_scales():
    """Per-series calibration: the same shape of anomaly scores the same at any scale."""
    s = _spiky(600, [450])
    small = score_series(_small(), s)
    assert small.iloc[450] > 0.5
    # the calibration's bins are logarithmic (16 per doubling): a power-of-two scale moves
    # every surprise by a whole number of bins and changes nothing
    big = score_series(_small(), s * 2.0**20 + 5e7)
    np.testing.assert_allclose(big.to_numpy(), small.to_numpy(), rtol=1e-6, atol=1e-9)
    # any other scale moves the quantile by less than a bin's width (4.4 %), interpolated
    other = score_series(_small(), s * 1e6 + 5e7)
    np.testing.assert_allclose(other.to_numpy(), small.to_numpy(), atol=0.01)


def test_flat_series_then_a_move_is_surprising_not_a_crash():
    s = pd.Series([3.0] * 400 + [4.0] + [3.0] * 50, index=pd.date_range("2026-01-01", periods=451, freq="1s"))
    scores = score_series(_small(), s)
    assert scores.iloc[:400].max() == 0.0
    assert scores.iloc[400] > 0.9


def test_default_is_the_ensemble_with_benchmarked_parameters():
    det = make_detector("default")
    assert isinstance(det, EnsembleDetector)
    assert det.get_params() == EnsembleDetector().get_params()


def test_bad_parameters_are_refused_at_first_use():
    det = EnsembleDetector(memory=0)  # no work in __init__ (scikit-learn convention)
    with pytest.raises(ConfigError, match="'memory' must be a positive integer; got 0"):
        det.update(0, 1.0)
    with pytest.raises(ConfigError, match="'quantile' must be in \\(0, 1\\)"):
        EnsembleDetector(quantile=99).update(0, 1.0)


def test_slow_view_keeps_every_kth_shape():
    knn = NearestShapeDistance(dim=3, stride=4, memory=100, min_memory=1, keep_every=4)
    for x in range(200):
        knn.update(float(x))
    # 200 - 8 = 192 embeddings made, the last 12 held back, every 4th of the other 180 stored
    assert knn.stored == 45
    # the stored ones are 4 points apart: the ramp's smoothed value moves by 4 from one to the next
    # (the first is smoothed over fewer points, while the trailing mean fills)
    assert np.all(np.diff(knn.ring[0, 1:45]) == 4.0)


def test_default_state_is_bounded():
    """Memory per watched series at the defaults: ~0.6 MB, flat once the windows are full (2 MB before)."""
    import pickle
    import tracemalloc

    rng = np.random.default_rng(4)
    n = 12000
    values = (50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1, n)).tolist()
    tracemalloc.start()
    det = EnsembleDetector()
    sizes = []
    for i, v in enumerate(values):
        det.update(i, v)
        if i in (8000, n - 1):
            sizes.append(len(pickle.dumps(det)))
    retained = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert retained < 0.7e6
    assert sizes[1] <= 1.02 * sizes[0]  # nothing grows with the length of the history


def test_slow_view_searches_every_kth_point_and_repeats_in_between():
    xs = np.random.default_rng(6).normal(0, 1, 300).tolist()
    every = NearestShapeDistance(dim=3, stride=2, memory=100, min_memory=5, query_every=1)
    third = NearestShapeDistance(dim=3, stride=2, memory=100, min_memory=5, query_every=3)
    a = [every.update(x) for x in xs]
    b = [third.update(x) for x in xs]
    first = next(i for i, d in enumerate(b) if d is not None)
    assert a[:first] == b[:first]  # the same None while filling
    for i in range(first, len(xs)):
        k = i - 4  # this point's embedding number
        if k % 3 == 0 or i == first:
            assert b[i] == a[i]  # searched: the exact distance
        else:
            assert b[i] == b[i - 1]  # repeated
    assert any(b[i] != a[i] for i in range(first, len(xs)))  # so the repeat is not a no-op
