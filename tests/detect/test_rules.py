"""Rule parsing and the alert lifecycle, driven by a controllable clock."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from workbench.detect import (
    RECORD_COLUMNS,
    AlertManager,
    MADDetector,
    RuleError,
    backtest_detector,
    backtest_rule,
    rule_from_dict,
    rules_from_config,
    silence_from_dict,
    suggest_threshold,
)

T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC).timestamp()  # a Monday, noon UTC


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def cpu_rule(**kw):
    spec = {"name": "cpu_high", "kind": "threshold", "metric": "cpu", "fire": 90, "resolve": 80}
    spec.update(kw)
    return rule_from_dict(spec)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"kind": "threshold", "metric": "cpu", "fire": 1}, "needs a non-empty 'name'"),
        ({"name": "x", "kind": "thresh", "metric": "cpu"}, "'kind' must be one of threshold"),
        ({"name": "x", "kind": "threshold", "fire": 1}, "'metric' is required"),
        ({"name": "x", "kind": "threshold", "metric": "cpu"}, "'fire' .* is required"),
        ({"name": "x", "kind": "threshold", "metric": "cpu", "fire": 90, "resolve": 95}, "'resolve' \\(95.0\\) must be at or below 'fire'"),
        ({"name": "x", "kind": "threshold", "metric": "cpu", "fire": "90"}, "'fire' must be a number; got '90'"),
        ({"name": "x", "kind": "threshold", "metric": "cpu", "fire": 9, "for": "soon"}, "'for' must be a duration"),
        ({"name": "x", "kind": "threshold", "metric": "cpu", "fire": 9, "colour": "red"}, "unknown key\\(s\\) \\['colour'\\]"),
        ({"name": "x", "kind": "threshold", "metric": "cpu", "fire": 9, "severity": "urgent"}, "'severity' must be one of"),
        ({"name": "x", "kind": "anomaly", "metric": "cpu", "fire": 2}, "must be too; got 2.0"),
        ({"name": "x", "kind": "anomaly", "metric": "cpu", "fire": 0.9, "detector": "magic"}, "unknown detector 'magic'"),
        ({"name": "x", "kind": "absent", "metric": "cpu"}, "'after' is required"),
        ({"name": "x", "kind": "predicted", "metric": "cpu", "level": 95}, "'horizon' is required"),
        ({"name": "x", "kind": "threshold", "metric": "cpu", "fire": 9, "labels": {"cpu": "~[0-"}}, "not a valid regular expression"),
    ],
)
def test_bad_rules_have_clear_messages(spec, message):
    with pytest.raises(RuleError, match=message):
        rule_from_dict(spec)


def test_rules_from_config_forms_and_unique_names():
    rules = rules_from_config({"alerts": {"rules": {"a": {"kind": "absent", "metric": "m", "after": "2min"}}}})
    assert rules[0].name == "a" and rules[0].after_seconds == 120
    with pytest.raises(RuleError, match="named 'a'"):
        rules_from_config({"rules": [{"name": "a", "kind": "absent", "metric": "m", "after": 5}] * 2})
    with pytest.raises(RuleError, match="needs a forecaster"):
        AlertManager(rules_from_config({"rules": [{"name": "p", "kind": "predicted", "metric": "m", "level": 95, "horizon": "30min"}]}))


def test_no_for_duration_fires_on_the_sample_and_records_evidence():
    clock = Clock()
    mgr = AlertManager([cpu_rule()], clock=clock)
    assert mgr.observe(T0, "h1", "cpu", 50.0) == []
    recs = mgr.observe(T0 + 1, "h1", "cpu", 95.0)
    assert [r["event"] for r in recs] == ["firing"] and recs[0]["value"] == 95.0
    assert len(mgr.outbox) == 1 and mgr.outbox[0].event == "firing"
    frame = mgr.drain_records()
    assert list(frame.columns) == RECORD_COLUMNS and str(frame["ts"].dt.tz) == "UTC"


def test_for_duration_and_hysteresis():
    clock = Clock()
    mgr = AlertManager([cpu_rule(**{"for": "60s"})], clock=clock)
    assert [r["state"] for r in mgr.observe(T0, "h", "cpu", 95)] == ["pending"]
    assert mgr.observe(T0 + 30, "h", "cpu", 96) == []
    # dips below fire but the pending alert is cancelled only when the condition fails
    assert [r["event"] for r in mgr.observe(T0 + 40, "h", "cpu", 85)] == ["cancelled"]
    mgr.observe(T0 + 50, "h", "cpu", 95)
    clock.t = T0 + 111
    assert [r["state"] for r in mgr.tick()] == ["firing"]  # time alone completes the for-duration
    # hysteresis: 85 is below fire (90) but above resolve (80): still firing
    assert mgr.observe(T0 + 120, "h", "cpu", 85) == []
    assert [r["state"] for r in mgr.observe(T0 + 130, "h", "cpu", 79)] == ["resolved"]
    assert [n.event for n in mgr.outbox] == ["firing", "resolved"]


def test_label_matchers_and_grouping_one_message_per_rule():
    rule = cpu_rule(labels={"cpu": "~[0-3]"})
    mgr = AlertManager([rule], clock=Clock())
    mgr.observe(T0, "h", "cpu", 99, "cpu=7")
    assert mgr.outbox == []
    mgr.observe(T0, "h", "cpu", 99, {"cpu": "1"})
    mgr.observe(T0, "h", "cpu", 99, {"cpu": "2"})
    assert len(mgr.firing()) == 2
    # the de-duplicated, grouped form: many alerts of a rule in one evaluation -> one message
    mgr2 = AlertManager([cpu_rule(**{"for": "10s"})], clock=Clock())
    for cpu in range(4):
        mgr2.observe(T0, "h", "cpu", 99, {"cpu": str(cpu)})
    mgr2.tick(T0 + 10)
    assert len(mgr2.outbox) == 1 and len(mgr2.outbox[0].alerts) == 4


def test_flapping_metric_does_not_flood():
    mgr = AlertManager([cpu_rule()], clock=Clock(), flap_window=600, flap_limit=3)
    for i in range(20):
        mgr.observe(T0 + 10 * i, "h", "cpu", 99 if i % 2 == 0 else 10)
    events = [n.event for n in mgr.outbox]
    assert events.count("flapping") == 1
    assert len(events) <= 6  # 2 firings + 2 resolves + flapping, not 20 messages
    recs = mgr.drain_records()
    assert (recs["event"] == "firing").sum() == 10  # every change is still recorded
    assert [r["event"] for r in mgr.tick(T0 + 2000)] == ["flap_ended"]


def test_silences_one_off_and_recurring():
    clock = Clock()
    mgr = AlertManager([cpu_rule()], clock=clock)
    nightly = silence_from_dict({"rule": "cpu_high", "daily": "23:30-01:00", "days": ["mon"]})
    mgr.add_silence(nightly)
    monday_night = dt.datetime(2026, 1, 5, 23, 45, tzinfo=dt.UTC).timestamp()
    after_midnight = dt.datetime(2026, 1, 6, 0, 30, tzinfo=dt.UTC).timestamp()
    tuesday_night = dt.datetime(2026, 1, 6, 23, 45, tzinfo=dt.UTC).timestamp()
    assert nightly.active(monday_night) and nightly.active(after_midnight)
    assert not nightly.active(tuesday_night) and not nightly.active(T0)
    clock.t = monday_night
    recs = mgr.observe(monday_night, "h", "cpu", 99)
    assert recs[0]["silenced"] and mgr.outbox == []  # recorded, not notified
    once = silence_from_dict({"host": "h2", "start": "2026-01-05T11:00Z", "end": "2026-01-05T13:00Z"})
    assert once.matches("cpu_high", "h2", {}, T0) and not once.matches("cpu_high", "h1", {}, T0)
    with pytest.raises(RuleError, match="mute forever"):
        silence_from_dict({"rule": "x"})
    with pytest.raises(RuleError, match="must be after 'start'"):
        silence_from_dict({"start": "2026-01-02", "end": "2026-01-01"})


def test_escalation_and_acknowledge():
    clock = Clock()
    mgr = AlertManager([cpu_rule(escalate_after="10min", severity="warning")], clock=clock)
    mgr.observe(T0, "h", "cpu", 99)
    mgr.observe(T0, "h2", "cpu", 99)
    aid = mgr.firing()["alert_id"].iloc[0]
    rec = mgr.acknowledge(aid, by="ana", note="looking")
    assert (rec["event"], rec["by"], rec["note"]) == ("acknowledged", "ana", "looking")
    clock.t = T0 + 601
    recs = mgr.tick()
    assert [(r["event"], r["severity"]) for r in recs] == [("escalated", "critical")]
    assert recs[0]["alert_id"] != aid  # the acknowledged one does not escalate
    assert mgr.outbox[-1].event == "escalated" and mgr.outbox[-1].severity == "critical"
    with pytest.raises(RuleError, match="No pending or firing alert"):
        mgr.acknowledge("nope", by="ana")


def test_absence_rate_anomaly_and_predicted_rules():
    clock = Clock()
    rules = rules_from_config({"rules": [
        {"name": "gone", "kind": "absent", "metric": "cpu", "after": "30s"},
        {"name": "fast", "kind": "rate", "metric": "disk", "window": "60s", "fire": 1.0},
        {"name": "odd", "kind": "anomaly", "metric": "lat", "detector": "mad", "params": {"window": 30, "grace_period": 10}, "fire": 0.9},
        {"name": "soon", "kind": "predicted", "metric": "mem", "level": 95, "horizon": "30min", "probability": 0.7},
    ]})
    calls = []

    def forecaster(history, horizon, level, op):
        calls.append((len(history), horizon, level, op))
        return 0.9 if history.iloc[-1] > 80 else 0.1

    mgr = AlertManager(rules, clock=clock, forecaster=forecaster)
    mgr.observe(T0, "h", "cpu", 1)
    assert mgr.tick(T0 + 20) == []
    assert [r["rule"] for r in mgr.tick(T0 + 31)] == ["gone"]
    assert [r["state"] for r in mgr.observe(T0 + 40, "h", "cpu", 1)] == ["resolved"]
    mgr.observe(T0, "h", "disk", 0)
    assert [r["rule"] for r in mgr.observe(T0 + 30, "h", "disk", 60)] == ["fast"]  # 2 units/s
    for i in range(40):
        mgr.observe(T0 + i, "h", "lat", 10 + (i % 3))
    assert [r["rule"] for r in mgr.observe(T0 + 41, "h", "lat", 500)] == ["odd"]
    mgr.observe(T0, "h", "mem", 50)
    recs = mgr.observe(T0 + 1, "h", "mem", 85)
    assert recs[0]["rule"] == "soon" and recs[0]["probability"] == 0.9
    assert calls[-1] == (2, 1800.0, 95.0, ">")


def test_backtest_rule_and_threshold_suggestion():
    idx = pd.date_range("2026-01-01", periods=600, freq="1min", tz="UTC")
    values = pd.Series(50.0, index=idx)
    values.iloc[100:110] = 99
    values.iloc[300:305] = 99
    values.iloc[306:308] = 99  # a flap right after
    hist = pd.DataFrame({"ts": idx, "host": "h", "metric": "cpu", "labels": "", "value": values.to_numpy()})
    res = backtest_rule(cpu_rule(), hist, incidents=[(idx[95], idx[110]), (idx[500], idx[510])])
    assert list(res.episodes["fired"]) == [idx[100], idx[300], idx[306]]
    assert res.flaps == 1
    assert res.precision == pytest.approx(1 / 3) and res.recall == 0.5
    assert res.mean_lead_seconds == -300.0  # fired 5 min after the incident began
    mad = backtest_detector(MADDetector(window=30, grace_period=10), values, 0.9)
    assert len(mad.episodes) >= 2
    # 3 up-crossings of 50 in 10 hours = 7.2 a day: allowed at 10/day, not at 2/day
    sug = suggest_threshold(values, alerts_per_day=10)
    assert sug["fire"] == 50 and sug["alerts_per_day"] == pytest.approx(3 / (599 / 1440))
    assert sug["resolve"] <= sug["fire"]
    assert suggest_threshold(values, alerts_per_day=2)["fire"] == 99
    assert suggest_threshold(values, quantile=0.5)["fire"] == 50
    with pytest.raises(RuleError, match="exactly one"):
        suggest_threshold(values)
