"""The detector lab against direct queries on the demo data: operator labels in the home, rule
back-tests, NAB scoring of one's own labelled history, and rules written to workbench.toml."""

from __future__ import annotations

import shutil
import tomllib

import numpy as np
import pandas as pd
import pytest

from workbench import labels as oplabels
from workbench.detect import (
    DetectorLab,
    RuleError,
    backtest_rule,
    backtest_stored,
    make_detector,
    rule_from_dict,
    rule_toml,
    score_detector,
    score_nab,
    score_series,
    write_rule,
)
from workbench.errors import ConfigError, DataError, UnknownMetricError
from workbench.store import Store

HOST, METRIC, SERIES = "ec2-24ae8d", "system.cpu.utilization", "cpu=total,state=user"
LABELS = {"cpu": "total", "state": "user"}


@pytest.fixture(scope="module")
def store(demo_home, tmp_path_factory) -> Store:
    home = tmp_path_factory.mktemp("lab") / "home"
    shutil.copytree(demo_home, home)
    return Store(home)


@pytest.fixture(scope="module")
def start(store) -> pd.Timestamp:
    return store.sql("SELECT min(ts) AS t FROM samples_1m WHERE host = ?", [HOST])["t"].iloc[0]


def _direct_series(store, start) -> pd.Series:
    """The 5-minute means straight from the 1-minute rollup view."""
    f = store.sql("""SELECT time_bucket(INTERVAL '5 minutes', ts) AS ts, sum(sum) / sum(count) AS value FROM samples_1m
                     WHERE host = ? AND metric = ? AND labels = ? AND ts >= ? GROUP BY 1 ORDER BY 1""",
                  [HOST, METRIC, SERIES, start.to_pydatetime()])
    return f.set_index("ts")["value"]


def _direct_windows(store) -> list:
    w = store.sql('SELECT start, "end" FROM demo_anomalies WHERE host = ? AND metric = ? AND labels = ? ORDER BY start',
                  [HOST, METRIC, SERIES])
    return list(zip(w["start"], w["end"], strict=True))


def test_demo_anomalies_are_the_starting_labels(store):
    found = oplabels.list_labels(store)
    direct = store.sql('SELECT host, start, "end" FROM demo_anomalies ORDER BY start, host')
    assert len(found) == len(direct) == 27 and set(found["source"]) == {"demo"}
    assert set(found["verdict"]) == {"incident"}
    assert sorted(found["start"]) == sorted(direct["start"])
    assert oplabels.incident_windows(store, host=HOST, metric=METRIC, labels=LABELS) == _direct_windows(store)


def test_operator_labels_round_trip_through_the_home(store):
    rec = oplabels.add_label(store, "false_alarm", host="workstation", start="10min", end="5min",
                             metric="system.cpu.utilization", labels={"state": "user", "cpu": "total"}, note="deploy", by="ann")
    other = Store(store.home)  # another process sharing the home sees it
    row = other.sql("SELECT * FROM operator_labels WHERE label_id = ?", [rec["label_id"]]).iloc[0]
    assert row["verdict"] == "false_alarm" and row["labels"] == SERIES and row["by"] == "ann" and row["note"] == "deploy"
    listed = oplabels.list_labels(other, host="workstation")
    assert listed["label_id"].tolist() == [rec["label_id"]] and listed["source"].iloc[0] == "operator"
    assert oplabels.list_labels(other, host="workstation", verdict="incident").empty
    oplabels.withdraw_label(other, rec["label_id"], by="ann")
    assert oplabels.list_labels(store, host="workstation").empty
    assert other.sql("SELECT count(*) AS n FROM operator_labels WHERE label_id = ?", [rec["label_id"]])["n"].iloc[0] == 2


def test_bad_labels_are_refused(store):
    with pytest.raises(DataError, match="verdict must be one of incident, false_alarm; got 'real'"):
        oplabels.add_label(store, "real", host=HOST, start="1h")
    with pytest.raises(UnknownMetricError):
        oplabels.add_label(store, "incident", host=HOST, start="1h", metric="system.cpu.utilisation")
    with pytest.raises(DataError, match="end must not be before its start"):
        oplabels.add_label(store, "incident", host=HOST, start="1h", end="2h")
    with pytest.raises(DataError, match="No operator label"):
        oplabels.withdraw_label(store, "nope")


def test_nab_score_of_own_labels_equals_the_scorer_on_direct_queries(store, start):
    got = score_detector(store, "mad", metric=METRIC, host=HOST, labels=LABELS, start=start)
    y = _direct_series(store, start)
    assert got.series.to_numpy().tolist() == pytest.approx(y.to_numpy().tolist(), rel=1e-12)
    scores = score_series(make_detector("mad"), y)
    naive = scores.index.tz_convert("UTC").tz_localize(None).to_numpy()
    windows = [[a.tz_convert("UTC").tz_localize(None), b.tz_convert("UTC").tz_localize(None)] for a, b in _direct_windows(store)]
    direct = score_nab({"s": (naive, scores.to_numpy())}, {"s": windows})
    for profile, s in direct.items():
        assert got.nab[profile].normalized == pytest.approx(s.normalized, rel=1e-9)
        assert got.nab[profile].threshold == pytest.approx(s.threshold)
    # scoring at NAB's own best threshold gives NAB's score; a threshold above every score gives the null (0)
    at = got.at(got.nab["standard"].threshold)
    assert at.loc["standard", "score"] == pytest.approx(direct["standard"].normalized, rel=1e-9)
    assert (at.loc["standard", "tp"], at.loc["standard", "fp"]) == (direct["standard"].tp, direct["standard"].fp)
    assert got.at(1.0).loc["standard", "score"] == pytest.approx(0.0, abs=1e-9) or got.scores.max() >= 1.0
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        got.at(1.5)


def test_an_operator_incident_label_changes_what_is_scored(store, start):
    before = score_detector(store, "mad", metric=METRIC, host=HOST, labels=LABELS, start=start)
    t = before.series.index[int(len(before.series) * 0.5)]
    rec = oplabels.add_label(store, "incident", host=HOST, metric=METRIC, labels=LABELS, start=t, end=t + pd.Timedelta("2h"))
    try:
        after = score_detector(store, "mad", metric=METRIC, host=HOST, labels=LABELS, start=start)
        assert len(after.windows) == len(before.windows) + 1
        assert after.nab["standard"].perfect == before.nab["standard"].perfect + 1
    finally:
        oplabels.withdraw_label(store, rec["label_id"])
    with pytest.raises(DataError, match="No labelled incident"):
        score_detector(store, "mad", metric=METRIC, host="workstation", labels=LABELS, start="1d", step="10s")


def test_rule_backtest_is_backtest_rule_on_the_stored_history(store, start):
    y = _direct_series(store, start)
    level = float(np.quantile(y, 0.99))
    spec = {"name": "cpu-high", "kind": "threshold", "metric": METRIC, "host": HOST, "labels": LABELS,
            "fire": level, "resolve": level * 0.9, "for": "10min"}
    got = backtest_stored(store, spec, start=start)
    history = pd.DataFrame({"ts": y.index, "host": HOST, "metric": METRIC, "labels": SERIES, "value": y.to_numpy()})
    direct = backtest_rule(rule_from_dict(spec), history, _direct_windows(store))
    assert len(got.result.episodes) == len(direct.episodes) > 0
    assert got.result.episodes["fired"].tolist() == direct.episodes["fired"].tolist()
    assert got.summary()["recall"] == direct.recall and got.summary()["labelled_incidents"] == 2
    assert got.summary()["alerts_per_day"] == pytest.approx(len(direct.episodes) / ((y.index[-1] - y.index[0]) / pd.Timedelta(days=1)), abs=1e-3)
    assert {s["fillcolor"] for s in got.figure()["layout"]["shapes"]} == {"#86efac", "#fca5a5"}
    ep = got.episodes()
    rec = oplabels.label_alert(store, {"host": HOST, "metric": METRIC, "labels": SERIES, **got.result.episodes.iloc[0]},
                               "false_alarm", note="batch job")
    assert rec["alert_id"] == got.result.episodes["alert_id"].iloc[0] and rec["start"] == pd.Timestamp(ep["fired"].iloc[0]).floor("us")
    again = backtest_stored(store, spec, start=start)  # the label counts in the next back-test
    assert again.episodes()["labelled false alarm"].tolist() == [True] + [False] * (len(ep) - 1)
    assert again.summary()["labelled_false_alarms_hit"] == 1 and not ep["labelled false alarm"].any()
    oplabels.withdraw_label(store, rec["label_id"])


def test_rule_toml_round_trips_and_write_rule_validates_first(store, tmp_path):
    spec = {"name": "cpu anomaly", "kind": "anomaly", "metric": METRIC, "host": HOST, "labels": LABELS,
            "detector": "mad", "params": {"window": 100}, "fire": 0.6, "resolve": 0.5, "for": "5min",
            "summary": 'CPU "odd" on {host}'}
    text = rule_toml(spec)
    assert tomllib.loads(text)["alerts"]["rules"] == [spec]
    path = tmp_path / "workbench.toml"
    path.write_text('# mine\n[agent]\ninterval = "2s"\n')
    write_rule(spec, path, store=store)
    written = path.read_text()
    assert written.startswith('# mine\n[agent]\ninterval = "2s"\n') and tomllib.loads(written)["alerts"]["rules"] == [spec]
    # refused, and the file untouched: a duplicate name, a rule that does not validate, a metric not in the store
    for bad, err, match in [
        (spec, RuleError, "Two rules are named 'cpu anomaly'"),
        ({**spec, "name": "b", "resolve": 0.7}, RuleError, "'resolve' \\(0.7\\) must be at or below 'fire'"),
        ({**spec, "name": "c", "detector": "nope"}, RuleError, "unknown detector"),
        ({**spec, "name": "d", "metric": "system.cpu.utilisation"}, UnknownMetricError, "utilisation"),
    ]:
        with pytest.raises(err, match=match):
            write_rule(bad, path, store=store)
        assert path.read_text() == written
    broken = tmp_path / "broken.toml"
    broken.write_text("[agent]\nintervall = 1\n")  # the config's own validation refuses the file
    with pytest.raises(ConfigError, match="Unknown key 'intervall'"):
        write_rule({**spec, "name": "e"}, broken)
    assert broken.read_text() == "[agent]\nintervall = 1\n"
    tables = tmp_path / "tables.toml"
    tables.write_text('[alerts.rules.x]\nkind = "absent"\nmetric = "m"\nafter = "1m"\n')
    with pytest.raises(RuleError, match="Add the rule by hand"):
        write_rule({**spec, "name": "f"}, tables)


def test_detector_lab_widgets_score_propose_and_write(store, start, tmp_path):
    path = tmp_path / "workbench.toml"
    lab = DetectorLab(store, metric=METRIC, host=HOST, labels=LABELS, start=start, detector="mad", path=path)
    assert lab.threshold.value == pytest.approx(lab.result.proposed_threshold, abs=1e-3)
    assert "NAB scores at" in lab.scores.value and "[[alerts.rules]]" in lab.toml.value
    assert lab.chart.figure["data"][1]["name"] == "mad score"
    assert lab.name.value == f"mad-{HOST}"
    lab.detector.value = "surprise"
    assert lab.name.value == f"surprise-{HOST}"  # the generated name follows the detector; a typed one would stay
    assert lab.result.detector == "surprise" and lab.threshold.value == pytest.approx(lab.result.proposed_threshold, abs=1e-3)
    # the slider's value (rounded down) keeps NAB's best score: rounding up would drop the point it was chosen for
    assert lab.result.at(lab.threshold.value).loc["standard", "score"] == pytest.approx(lab.result.nab["standard"].normalized)
    lab.threshold.value = 0.9
    assert f"{0.9:.3f}" in lab.scores.value and "fire = 0.9" in lab.toml.value
    assert not path.exists()  # nothing written until asked
    lab.write_button.click()
    assert tomllib.loads(path.read_text())["alerts"]["rules"][0]["fire"] == 0.9 and "Written to" in lab.message.value
    lab.write_button.click()  # the same name again: refused, the reason on the page
    assert "Two rules are named" in lab.message.value
    lab.name.value = "my rule"
    lab.detector.value = "mad"
    assert lab.spec()["name"] == "my rule" and "my rule" in lab.toml.value


def test_label_panel_saves_the_chosen_verdict(store, start):
    from workbench.detect import LabelPanel

    y = _direct_series(store, start)
    level = float(np.quantile(y, 0.995))
    bt = backtest_stored(store, {"name": "p", "kind": "threshold", "metric": METRIC, "host": HOST, "labels": LABELS,
                                 "fire": level, "resolve": level}, start=start)
    panel = LabelPanel(store, bt, by="bob")
    assert len(panel.pick.options) == len(bt.result.episodes) > 1
    panel.pick.value = 1
    panel.verdict.value = "false_alarm"
    panel.note.value = "backup job"
    panel.save_button.click()
    ep = bt.result.episodes.iloc[1]
    got = store.sql("SELECT * FROM operator_labels WHERE \"by\" = 'bob'")
    assert len(got) == 1 and got["verdict"].iloc[0] == "false_alarm" and got["note"].iloc[0] == "backup job"
    assert got["alert_id"].iloc[0] == ep["alert_id"] and got["start"].iloc[0] == pd.Timestamp(ep["fired"]).floor("us")
    assert "Saved: false_alarm" in panel.message.value and "backup job" in panel.labels.value
    oplabels.withdraw_label(store, got["label_id"].iloc[0])
    empty = LabelPanel(store, bt.result.episodes.iloc[0:0])
    assert empty.save_button.disabled
