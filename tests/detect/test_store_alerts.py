"""Alert records land in the real store's ``alerts`` view."""

from __future__ import annotations

import pytest

from workbench.detect import AlertManager, rule_from_dict, save_alert_records

store_mod = pytest.importorskip("workbench.store")


def test_records_are_appended_to_alerts_view(tmp_path):
    store = store_mod.Store(tmp_path / "home")
    mgr = AlertManager([rule_from_dict({"name": "cpu_high", "kind": "threshold", "metric": "cpu", "fire": 90})], clock=lambda: 0.0)
    mgr.observe(0.0, "h1", "cpu", 99.0)
    mgr.observe(60.0, "h1", "cpu", 10.0)
    assert save_alert_records(store, mgr) == 2
    rows = store.sql("SELECT rule, event, value FROM alerts ORDER BY ts")
    assert list(rows["event"]) == ["firing", "resolved"] and list(rows["value"]) == [99.0, 10.0]
    assert save_alert_records(store, mgr) == 0  # records are drained, never written twice
