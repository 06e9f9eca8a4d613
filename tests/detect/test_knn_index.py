"""The nearest-shape search through the sorted index gives the brute force's answer, bit for bit."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from workbench.detect._knn import NearestShapeDistance

N = 3000


def _series(kind: str) -> list[float]:
    rng = np.random.default_rng(KINDS.index(kind))
    t = np.arange(N)
    if kind == "walk":
        x = np.cumsum(rng.normal(0, 1, N))
    elif kind == "daily":
        x = 50 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.5, N)
    elif kind == "quantised":  # few distinct values: exact duplicates, many ties
        x = np.round(rng.normal(0, 1, N) * 2) / 2
    elif kind == "spikes":  # flat with rare spikes (NAB's art_increase_spike_density)
        x = np.zeros(N)
        x[rng.choice(N, 60, replace=False)] = 20.0
    elif kind == "offset":  # tiny moves on a huge level: rounding of the sums matters
        x = 1e12 + rng.normal(0, 1e-3, N)
    elif kind == "mixed-sign":  # sums cancel: the slack must follow |coordinates|, not |sums|
        x = rng.choice([-1e6, 1e6], N) + rng.normal(0, 1, N)
    elif kind == "shift":  # a regime change: the first guess is far off for a while
        x = np.where(t < N // 2, rng.normal(0, 1, N), 1000 + rng.normal(0, 5, N))
    else:
        raise AssertionError(kind)
    return x.tolist()


KINDS = ["walk", "daily", "quantised", "spikes", "offset", "mixed-sign", "shift"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "params",
    [
        dict(dim=3, stride=1, memory=1000),  # the ring wraps twice: overwritten shapes leave the index
        dict(dim=3, stride=1, memory=5000),  # never full: the index grows
        dict(dim=3, stride=12, memory=400, keep_every=4, query_every=4),  # the slow view's settings
        dict(dim=5, stride=2, memory=700),
    ],
)
def test_index_gives_the_brute_force_answer(kind, params):
    xs = _series(kind)
    brute = NearestShapeDistance(**params, index_from=10**9)
    indexed = NearestShapeDistance(**params, index_from=60)
    a = [brute.update(x) for x in xs]
    b = [indexed.update(x) for x in xs]
    assert a == b  # identical floats, None in the same places
    assert indexed._keys is not None  # the index was used


def test_index_survives_pickle_and_deepcopy_mid_stream():
    xs = _series("daily")
    ref = NearestShapeDistance(memory=800, index_from=10**9)
    det = NearestShapeDistance(memory=800, index_from=60)
    out_ref = [ref.update(x) for x in xs]
    out = [det.update(x) for x in xs[:1500]]
    assert det._keys is not None
    state = pickle.dumps(det)
    assert b"_keys" not in state and b"_order" not in state  # derived: not saved
    for clone in (pickle.loads(state), copy.deepcopy(det)):
        assert clone._keys is None  # rebuilt on first use
        assert out + [clone.update(x) for x in xs[1500:]] == out_ref


def test_state_pickled_before_the_index_restores():
    """A state saved by the version without the index (no ``index_from``, ``finite``) still loads."""
    det = NearestShapeDistance(memory=800)
    xs = _series("walk")
    for x in xs[:1000]:
        det.update(x)
    state = det.__getstate__()
    for key in ("index_from", "finite"):
        state.pop(key)
    old = NearestShapeDistance.__new__(NearestShapeDistance)
    old.__setstate__(state)
    ref = NearestShapeDistance(memory=800, index_from=10**9)
    out_ref = [ref.update(x) for x in xs]
    assert out_ref[1000:] == [old.update(x) for x in xs[1000:]]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_non_finite_shapes_fall_back_to_the_brute_force():
    xs = _series("walk")
    xs[700] = 1e308
    xs[701] = 1e308  # their trailing sums overflow to inf in the slow view
    params = dict(dim=3, stride=2, memory=900)
    brute = NearestShapeDistance(**params, index_from=10**9)
    indexed = NearestShapeDistance(**params, index_from=60)
    a = [brute.update(x) for x in xs]
    b = [indexed.update(x) for x in xs]
    np.testing.assert_array_equal(np.array(a[10:], float), np.array(b[10:], float))
    assert not indexed.finite
