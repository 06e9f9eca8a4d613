"""An AlertManager's learned state survives a restart (and a bad state file never stops one)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd

from workbench.detect import AlertManager, rules_from_config
from workbench.detect._state import restore_state, save_state

T0 = pd.Timestamp("2026-01-01", tz="UTC").timestamp()
RULES = {"rules": [
    {"name": "odd", "kind": "anomaly", "metric": "lat", "detector": "default", "fire": 0.5},
    {"name": "hot", "kind": "threshold", "metric": "temp", "fire": 90, "resolve": 80},
]}


def build(clock, config=RULES) -> AlertManager:
    return AlertManager(rules_from_config(config), clock=lambda: clock["t"])


def detector_of(mgr):
    series = mgr.series[("h", "lat", "")]
    return next(iter(series.detectors.values()))


def test_restart_resumes_detectors_histories_and_firing_alerts(tmp_path):
    clock, rng = {"t": T0}, np.random.default_rng(1)
    first = build(clock)
    for i in range(1500):
        clock["t"] = T0 + i
        first.observe(clock["t"], "h", "lat", 10 + np.sin(i / 20) + rng.normal(0, 0.1))
    first.observe(clock["t"], "h", "temp", 95)                 # fires
    assert first.firing()["rule"].tolist() == ["hot"]
    path = save_state(first, tmp_path / "alerts-state.pkl")

    second = build(clock)
    counts = restore_state(second, path)
    assert counts == {"series": 2, "detectors": 1, "alerts": len(first.alerts), "dropped": 0}
    # the detector continues exactly where the first left off
    a, b = detector_of(first), detector_of(second)
    future = 10 + np.sin(np.arange(1500, 1600) / 20)
    assert [a.update(T0 + 1500 + i, v) for i, v in enumerate(future)] == \
           [b.update(T0 + 1500 + i, v) for i, v in enumerate(future)]
    # the firing alert is still firing: no second "firing" record, and it resolves normally
    assert second.firing()["rule"].tolist() == ["hot"]
    assert [r["state"] for r in second.observe(clock["t"] + 1, "h", "temp", 96)] == []
    assert [r["state"] for r in second.observe(clock["t"] + 2, "h", "temp", 70)] == ["resolved"]
    assert len(second.series[("h", "lat", "")].history) == len(first.series[("h", "lat", "")].history)


def test_changed_rules_drop_what_no_longer_fits(tmp_path):
    clock = {"t": T0}
    first = build(clock)
    for i in range(300):
        clock["t"] = T0 + i
        first.observe(clock["t"], "h", "lat", float(i % 7))
    first.observe(clock["t"], "h", "temp", 95)
    path = save_state(first, tmp_path / "s.pkl")
    changed = {"rules": [
        {"name": "odd", "kind": "anomaly", "metric": "lat", "detector": "mad", "fire": 0.5},
        {"name": "hot", "kind": "threshold", "metric": "temp", "fire": 99, "resolve": 80},
    ]}
    second = build(clock, changed)
    counts = restore_state(second, path)
    assert counts["detectors"] == 0 and counts["alerts"] == 0 and counts["dropped"] == 1 + len(first.alerts)
    assert second.firing().empty


def test_a_corrupt_or_hostile_state_file_is_ignored(tmp_path, caplog):
    clock = {"t": T0}
    path = tmp_path / "s.pkl"
    path.write_bytes(b"not a pickle at all")
    assert restore_state(build(clock), path)["dropped"] == 1

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path.write_bytes(pickle.dumps({"version": 1, "series": {}, "alerts": {"x": Evil()}}))
    assert restore_state(build(clock), path)["dropped"] == 1
    assert not (tmp_path / "pwned").exists()
    assert "unreadable" in caplog.text
    assert restore_state(build(clock), tmp_path / "missing.pkl") == {"series": 0, "detectors": 0, "alerts": 0, "dropped": 0}
