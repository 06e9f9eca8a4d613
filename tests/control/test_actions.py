"""Action records and their validation, in one process (the owners' side runs in the other tests)."""

from __future__ import annotations

import pickle
import time

import pytest

from workbench import alerts, control
from workbench.errors import ActionError, ActionTimeoutError, UnknownAlertError
from workbench.store import Store


def test_act_appends_an_audit_record_queryable_in_sql(tmp_path):
    store = Store(tmp_path, host="h1")
    aid = control.act(store, "executor:nightly", "set_limit", {"max_workers": 3}, reason="night", by="ann@desk")
    df = store.sql("SELECT * FROM actions")
    assert list(df.columns) == ["action_id", "ts", "by", "host", "target", "action", "args", "reason"]
    row = df.iloc[0]
    assert (row.action_id, row.by, row.host, row.target, row.action, row.args, row.reason) == (
        aid, "ann@desk", "h1", "executor:nightly", "set_limit", '{"max_workers": 3}', "night")
    assert abs(row.ts.timestamp() - time.time()) < 5
    assert "@" in control.default_by()
    assert control.outcome(store, aid) is None
    # the views exist (empty) before any owner answered
    assert store.sql("SELECT count(*) AS n FROM action_results").n[0] == 0


@pytest.mark.parametrize(("target", "action", "args", "message"), [
    ("alerts:h1", "pause", None, "valid actions: ack, silence, unsilence"),
    ("executor:x", "ack", None, "valid actions: pause, resume, drain, cancel, set_limit, reprioritise"),
    ("printer:x", "pause", None, "unknown kind 'printer'"),
    ("nightly", "pause", None, "write 'alerts:<host>'"),
    ("executor:x", "pause", {"now": True}, "it takes none"),
    ("executor:x", "set_limit", {"max_workers": 0}, "must be an integer >= 1"),
    ("executor:x", "set_limit", {"max_workers": True}, "must be an integer >= 1"),
    ("executor:x", "reprioritise", {"priority": "high"}, "'priority' must be a number"),
    ("executor:x", "cancel", {"tag": ""}, "'tag' must be a non-empty string"),
    ("alerts:h1", "ack", {}, "needs 'alert_id'"),
    ("alerts:h1", "silence", {"matchers": {}, "until": 60}, "give at least one matcher"),
    ("alerts:h1", "silence", {"matchers": {"rule": "r"}, "until": -5}, "not after its start"),
    ("alerts:h1", "silence", {"matchers": {"rule": "r"}, "until": "yesterday"}, "not an ISO time"),
    ("alerts:h1", "silence", {"matchers": {"labels": {"cpu": "~[0-"}}, "until": 60}, "not a valid regular expression"),
    ("alerts:h1", "unsilence", {}, "needs 'silence_id'"),
])
def test_bad_actions_are_refused_before_anything_is_written(tmp_path, target, action, args, message):
    store = Store(tmp_path)
    with pytest.raises(ActionError, match=message.replace("[", r"\[").replace("(", r"\(")) as info:
        control.act(store, target, action, args)
    assert isinstance(info.value, ValueError)
    assert pickle.loads(pickle.dumps(info.value)).message == info.value.message
    assert not (tmp_path / "tables" / "actions").exists()


def test_silence_until_is_stored_as_epoch_seconds():
    now = 1_800_000_000.0
    assert control.check_action("alerts:*", "silence", {"matchers": {"rule": "r"}, "until": 7200}, now=now)[
        "until"] == now + 7200
    assert control.check_action("alerts:*", "silence", {"matchers": {"rule": "r"}, "until": "2030-01-01T00:00Z"},
                                now=now)["until"] == 1893456000.0


def test_matchers_and_durations_from_people(tmp_path):
    assert alerts.parse_matcher("rule=cpu_high,host=web1,cpu=3") == {
        "rule": "cpu_high", "host": "web1", "labels": {"cpu": "3"}}
    assert alerts.parse_matcher({"rule": "r", "labels": {"device": "~sd.*"}}) == {
        "rule": "r", "labels": {"device": "~sd.*"}}
    for bad in ("rule", "", "rule=", "=x", "rule=a,,host=b"):
        with pytest.raises(ActionError, match="(?i)matcher"):
            alerts.parse_matcher(bad)  # every message names the matcher
    store = Store(tmp_path)
    with pytest.raises(ActionError, match="duration must be positive|must be positive"):
        alerts.silence(store, "rule=r", duration=0)
    with pytest.raises(ActionError, match="e.g. --for 2h"):
        alerts.silence(store, "rule=r", duration="soon")
    with pytest.raises(ActionError, match="in the past"):
        alerts.silence(store, "rule=r", until="2001-01-01T00:00")
    sid = alerts.silence(store, "rule=r,host=h9", duration="2h", reason="deploy")
    rec = control.find_action(store, sid)
    assert rec["target"] == "alerts:h9"  # a host matcher goes to that host's agent; without, to every agent
    assert alerts.silence(store, "rule=r") and control.find_action(store, alerts.silence(store, "cpu=1"))[
        "target"] == "alerts:*"
    assert list(alerts.silences(store).state) == ["pending"] * 3
    with pytest.raises(ActionError, match="No silence 'nope'"):
        alerts.unsilence(store, "nope")


def test_unknown_alert_ids_and_unanswered_actions_say_what_to_do(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(UnknownAlertError, match="`workbench alerts` lists the ids"):
        alerts.ack(store, "cpu_high|h1|system.cpu.utilization|")
    assert alerts.active(store).empty and alerts.recent(store).empty and alerts.history(store).empty
    aid = control.act(store, "executor:nobody", "pause")
    with pytest.raises(ActionTimeoutError, match="Executor 'nobody' is not running: action .* applies when it starts"):
        control.wait(store, aid, timeout=0.2)
    with pytest.raises(ActionTimeoutError, match="No action 'feed' is recorded"):
        control.wait(store, "feed", timeout=0.1)


def test_a_poller_sees_files_written_in_quick_succession(tmp_path):
    """Directory mtimes are coarse: two files within one tick must not hide the second."""
    store = Store(tmp_path, host="h1")
    poller = control.ActionPoller(store, "executor:x@h1", ["executor:x"], "executor")
    seen: list[str] = []
    for _ in range(20):
        ids = [control.act(store, "executor:x", "pause") for _ in range(2)]
        poller.poll(lambda a: seen.append(a.action_id) or "")
        ids.append(control.act(store, "executor:x", "resume"))
        poller.poll(lambda a: seen.append(a.action_id) or "")
        poller.poll(lambda a: seen.append(a.action_id) or "")
        assert seen[-3:] == ids
    assert len(seen) == len(set(seen)) == 60
    # a fresh poller (the owner restarted) redoes nothing
    again = control.ActionPoller(store, "executor:x@h1", ["executor:x"], "executor")
    assert again.poll(lambda a: pytest.fail(f"redid {a}")) == 0
