"""Acks and silences from other processes reach a real agent subprocess (issue 10).

The agent runs ``workbench agent`` with a threshold rule that fires on its
first self-metrics sample and a webhook channel pointing at a real HTTP
server on 127.0.0.1, so every notification it sends is counted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench import alerts, control
from workbench._arrow import table_from_rows
from workbench.agent import read_status
from workbench.errors import ActionTimeoutError
from workbench.store import Store

HOST = "ctl1"
RULE = """
[[alerts.rules]]
name = "rss_always"
kind = "threshold"
metric = "workbench.agent.memory.rss"
fire = 0
severity = "critical"
summary = "fires on the first sample"
"""


class _Hook:
    def __init__(self) -> None:
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                outer.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def firing(self) -> list[dict]:
        return [b for b in self.received if b.get("event") == "firing"]


@pytest.fixture
def hook():
    h = _Hook()
    yield h
    h.close()


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}


def _config(tmp_path, text):
    path = tmp_path / "workbench.toml"
    path.write_text(text)
    return path


def _start_agent(home, config):
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", "--config", str(config), "--home", str(home),
                             "agent", "--host", HOST], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def _until(pred, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


def _firing(home):
    st = read_status(home, HOST)[0]
    return (st.get("alerts") or {}).get("firing") or [] if st.get("alive") else []


def _alert_id(home):
    found = _until(lambda: _firing(home))
    assert found, "the rule did not fire"
    return found[0]["alert_id"]


def test_ack_from_another_process_reaches_the_agent_within_2_s_and_survives_a_restart(tmp_path, hook):
    home = tmp_path / "home"
    config = _config(tmp_path, RULE + f'\n[notify.channels.hook]\nkind = "webhook"\nurl = "{hook.url}"\n')
    agent = _start_agent(home, config)
    try:
        alert_id = _alert_id(home)
        assert _until(lambda: hook.firing(), timeout=5), "no firing notification reached the webhook"
        # a second process acknowledges, through the command line
        ack = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(home), "alerts", "ack", alert_id,
                              "--note", "on it", "--by", "ops@desk"], capture_output=True, text=True, env=_env())
        assert ack.returncode == 0, ack.stderr
        assert "applied by alerts:ctl1: acknowledged" in ack.stdout
        action_id = ack.stdout.split("action ")[1].split()[0]
        made = control.find_action(Store(home), action_id)["ts"]
        shown = _until(lambda: any(a["acked_by"] == "ops@desk" for a in _firing(home)) and time.time())
        assert shown and shown - made <= 2.0, f"the ack showed in the agent's status {shown - made:.2f} s after it was made"
        status = json.loads(subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(home), "status",
                                            "--json"], capture_output=True, text=True, env=_env(), check=True).stdout)
        firing = status["agents"][0]["alerts"]["firing"]
        assert [(a["alert_id"], a["acked_by"]) for a in firing] == [(alert_id, "ops@desk")]
        # the helpers for notebooks see it too, with the note in the records
        row = alerts.active(home).set_index("alert_id").loc[alert_id]
        assert row.acked_by == "ops@desk" and row.state == "firing"
        hist = alerts.history(home)
        assert list(hist.event) == ["firing", "acknowledged"] and hist.note.iloc[-1] == "on it"
    finally:
        _stop(agent)

    agent = _start_agent(home, config)
    try:
        assert _until(lambda: _firing(home))
        time.sleep(3.0)  # a few seconds of samples that keep breaching
        firing = _firing(home)
        assert [(a["alert_id"], a["acked_by"]) for a in firing] == [(alert_id, "ops@desk")]
    finally:
        _stop(agent)
    assert len(hook.firing()) == 1, f"notified again after the restart: {hook.received}"
    # the ack was not applied twice
    assert list(alerts.history(home).event) == ["firing", "acknowledged"]


def test_actions_made_while_no_agent_runs_apply_when_it_starts(tmp_path):
    home = tmp_path / "home"
    config = _config(tmp_path, RULE)
    agent = _start_agent(home, config)
    try:
        alert_id = _alert_id(home)
    finally:
        _stop(agent)
    store = Store(home)
    aid = alerts.ack(store, alert_id, note="while down")
    sid = alerts.silence(store, "rule=rss_always", duration="1h", reason="maintenance")
    with pytest.raises(ActionTimeoutError, match="is not running: action .* is recorded and applies when it starts"):
        control.wait(store, aid, timeout=0.5)
    assert alerts.silences(store).set_index("silence_id").loc[sid, "state"] == "pending"

    agent = _start_agent(home, config)
    try:
        assert control.wait(store, aid, timeout=10)["outcome"] == "applied"
        assert control.wait(store, sid, timeout=10)["outcome"] == "applied"
        assert _until(lambda: any(a["acked_by"] for a in _firing(home)))
        assert _until(lambda: alerts.active(store).silenced.all())
    finally:
        _stop(agent)
    # a restart keeps the silence (replayed from the log) and redoes nothing
    agent = _start_agent(home, config)
    try:
        st = _until(lambda: (s := read_status(home, HOST)[0]).get("alive") and s.get("alerts") and s)
        assert [s["silence_id"] for s in st["alerts"]["silences"]] == [sid]
        uid = alerts.unsilence(store, sid, reason="done")
        assert control.wait(store, uid, timeout=5)["outcome"] == "applied"
        assert _until(lambda: read_status(home, HOST)[0]["alerts"]["silences"] == [])
    finally:
        _stop(agent)
    results = store.sql("SELECT action_id, count(*) AS n FROM action_results GROUP BY ALL")
    assert set(results.n) == {1}, "an action was processed more than once"
    assert alerts.silences(store).empty


def test_malformed_records_are_refused_with_a_reason_and_the_agent_keeps_working(tmp_path):
    home = tmp_path / "home"
    agent = _start_agent(home, _config(tmp_path, RULE))
    try:
        alert_id = _alert_id(home)
        store = Store(home, host=HOST)
        target = f"alerts:{HOST}"
        raw = {
            "unknown": {"target": target, "action": "explode", "args": "{}"},
            "wrong_target": {"target": target, "action": "pause", "args": "{}"},
            "garbage_json": {"target": target, "action": "ack", "args": "{alert_id: oops"},
            "not_a_mapping": {"target": target, "action": "ack", "args": "42"},
            "missing_id": {"target": target, "action": "ack", "args": '{"note": "x"}'},
            "no_such_alert": {"target": target, "action": "ack", "args": '{"alert_id": "nope"}'},
            "past_silence": {"target": target, "action": "silence",
                             "args": '{"matchers": {"rule": "rss_always"}, "until": 1000000000}'},
            "bad_kind": {"target": "frobnicate:x", "action": "ack", "args": "{}"},
        }
        rows = [{"action_id": k, "ts": time.time(), "by": "fuzzer", "host": HOST, "reason": "", **v}
                for k, v in raw.items()]
        store.append_records("actions", table_from_rows(rows, control.ACTIONS_SCHEMA))
        got = {k: control.wait(store, k, timeout=5) for k in raw}
        assert {k: r["outcome"] for k, r in got.items()} == dict.fromkeys(raw, "refused")
        assert "Unknown action 'explode'" in got["unknown"]["detail"]
        assert "valid actions: ack, silence, unsilence" in got["wrong_target"]["detail"]
        assert "not valid JSON" in got["garbage_json"]["detail"]
        assert "must be a mapping" in got["not_a_mapping"]["detail"]
        assert "needs 'alert_id'" in got["missing_id"]["detail"]
        assert "No pending or firing alert 'nope'" in got["no_such_alert"]["detail"]
        assert "not after its start" in got["past_silence"]["detail"]
        assert "unknown kind 'frobnicate'" in got["bad_kind"]["detail"]
        # and it still works: collects, and applies a good action
        aid = control.act(store, target, "ack", {"alert_id": alert_id})
        assert control.wait(store, aid, timeout=3)["outcome"] == "applied"
        st = read_status(home, HOST)[0]
        assert st["alive"] and time.time() - st["updated"] < 3 and st["control"]["refused"] == len(raw)
    finally:
        err = _stop(agent)
    assert "Traceback" not in err


_FOOTPRINT = """
import json, sys
from workbench.agent import Agent
from workbench.config import load_config
cfg = load_config(sys.argv[1] or None, home=sys.argv[2], host="ctl1")
agent = Agent(cfg)
agent.run(duration=3, install_signals=False)
heavy = ("pandas", "duckdb", "pyarrow.compute", "pyarrow.dataset")
print(json.dumps({"loaded": [m for m in heavy if m in sys.modules], "control": agent._control.status()}))
"""


@pytest.mark.parametrize("rules", [RULE, ""], ids=["rules", "no-rules"])
def test_the_agent_applies_actions_without_loading_pandas_and_refuses_acks_without_rules(tmp_path, rules):
    home = tmp_path / "home"
    store = Store(home, host=HOST)
    alert_id = f"rss_always|{HOST}|workbench.agent.memory.rss|"
    aid = control.act(store, f"alerts:{HOST}", "ack", {"alert_id": alert_id})
    sid = control.act(store, "alerts:*", "silence", {"matchers": {"host": HOST}, "until": 3600})
    bad = control.act(store, f"alerts:{HOST}", "unsilence", {"silence_id": "nope"})
    config = str(_config(tmp_path, rules)) if rules else ""
    proc = subprocess.run([sys.executable, "-c", _FOOTPRINT, config, str(home)], capture_output=True, text=True,
                          timeout=60, env=_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] == [], f"processing control actions imported {out['loaded']} into the agent"
    got = {k: control.outcome(store, k) for k in (aid, sid, bad)}
    if rules:
        assert (got[aid]["outcome"], got[sid]["outcome"], got[bad]["outcome"]) == ("applied", "applied", "refused")
    else:
        assert {r["outcome"] for r in got.values()} == {"refused"}
        assert "no alert rules configured on the agent of host 'ctl1'" in got[aid]["detail"]
