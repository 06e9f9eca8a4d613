"""The default detector's calibration: a decaying high quantile in bounded state."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from workbench.detect._calibrate import DecayingQuantile


def _weighted_quantile(x: np.ndarray, q: float, halflife: float) -> float:
    w = 2.0 ** ((np.arange(x.size) - x.size + 1) / halflife)  # newest weighs 1, older less
    order = np.argsort(x)
    cum = np.cumsum(w[order]) / w.sum()
    return float(x[order][np.searchsorted(cum, q)])


def test_matches_the_exact_quantile_within_a_bin():
    x = np.random.default_rng(0).lognormal(0, 1, 20000)
    d = DecayingQuantile(0.99, halflife=1e12)  # no forgetting to speak of
    for v in x:
        d.add(v)
    assert d.quantile() == pytest.approx(np.quantile(x, 0.99), rel=0.01)


@pytest.mark.parametrize("halflife", [1.0, 50.0, 500.0])
def test_recent_points_weigh_more(halflife):
    """Against a brute-force recency-weighted quantile; halflife=1 renormalises every 500 points."""
    rng = np.random.default_rng(1)
    x = rng.exponential(1.0, 4000) * np.linspace(1, 8, 4000)
    d = DecayingQuantile(0.95, halflife=halflife)
    for v in x:
        d.add(v)
    assert d.quantile() == pytest.approx(_weighted_quantile(x, 0.95, halflife), rel=0.05)


def test_follows_a_change_of_regime():
    rng = np.random.default_rng(2)
    first, second = rng.lognormal(0, 1, 10000), 10 * rng.lognormal(0, 1, 10000)
    d = DecayingQuantile(0.99, halflife=1000)
    for v in first:
        d.add(v)
    before = d.quantile()
    for v in second:
        d.add(v)
    assert before == pytest.approx(_weighted_quantile(first, 0.99, 1000), rel=0.05)
    # ten half-lives later the first regime weighs 0.1 %: the quantile is the new regime's
    assert d.quantile() == pytest.approx(_weighted_quantile(second, 0.99, 1000), rel=0.05)
    assert 7 < d.quantile() / before < 14


def test_zeros_and_bounded_state():
    d = DecayingQuantile(0.99, halflife=1e9, bins_per_octave=16, span=8)
    assert np.isnan(d.quantile())
    for _ in range(995):
        d.add(0.0)
    for _ in range(5):
        d.add(1.0)
    assert d.quantile() == 0.0  # 99.5 % of the weight is at zero
    for v in np.geomspace(1e-30, 1e30, 5000):
        d.add(float(v))
    assert len(d.counts) <= 8 * 16  # 200 octaves seen, 8 kept
    assert d.quantile() == pytest.approx(np.quantile(np.geomspace(1e-30, 1e30, 5000), 0.99 - 0.01 / 6), rel=0.2)


def test_copies_and_pickles_carry_on_identically():
    x = np.random.default_rng(3).lognormal(0, 1, 3000)
    d = DecayingQuantile(0.99, halflife=100)
    for v in x[:1500]:
        d.add(v)
    clones = [copy.deepcopy(d), pickle.loads(pickle.dumps(d))]
    for v in x[1500:]:
        d.add(v)
        for c in clones:
            c.add(v)
    assert [c.quantile() for c in clones] == [d.quantile()] * 2
