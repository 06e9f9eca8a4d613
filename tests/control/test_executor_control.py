"""Named executors steered from another process and seen across hosts (issue 10), with real processes.

Process B (``_executor_proc.py``) runs a named executor whose tasks append
their start and end times to a file; the test, process A, acts on it through
``workbench.control`` and reads what B did from that file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench import control
from workbench.errors import ActionError, ExecutorRunningError
from workbench.execute import ThrottledExecutor
from workbench.store import Store

HERE = Path(__file__).parent


def _start_b(home, name, n, log, *, host=None, seconds=60, task_seconds=0.05):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env["TASK_SECONDS"] = str(task_seconds)
    if host:
        env["WORKBENCH_HOST"] = host
    proc = subprocess.Popen([sys.executable, str(HERE / "_executor_proc.py"), str(home), name, str(n), str(log),
                             str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _events(log: Path, kind: str) -> list[float]:
    if not log.exists():
        return []
    return [float(line.split()[2]) for line in log.read_text().splitlines() if line.startswith(kind + " ")]


def _finish(proc, log):
    log.with_suffix(".stop").touch()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _until(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    return pred()


def test_pause_from_another_process_stops_task_starts_within_2_s_and_resume_restarts(tmp_path):
    home, log = tmp_path / "home", tmp_path / "starts.log"
    store = Store(home)
    b = _start_b(home, "nightly", 2000, log)
    try:
        assert _until(lambda: len(_events(log, "start")) >= 5)
        aid = control.act(store, "executor:nightly", "pause", reason="test")
        res = control.wait(store, aid, timeout=3)
        action = control.find_action(store, aid)
        assert res["outcome"] == "applied" and res["owner"].startswith("executor:nightly@"), res
        assert res["ts"] - action["ts"] <= 2.0
        time.sleep(1.0)
        late = [t for t in _events(log, "start") if t > res["ts"]]
        assert late == [], f"{len(late)} tasks started after the pause was applied"
        row = control.executors(store).set_index("name").loc["nightly"]
        assert row.alive and row.paused and row.state == "paused"
        n_paused = len(_events(log, "start"))

        aid = control.act(store, "executor:nightly", "resume")
        res = control.wait(store, aid, timeout=3)
        assert res["outcome"] == "applied"
        assert _until(lambda: len(_events(log, "start")) > n_paused + 5, timeout=2)
    finally:
        aid = control.act(store, "executor:nightly", "cancel")
        assert "cancelled" in control.wait(store, aid, timeout=3)["detail"]
        stats = _finish(b, log)
    assert stats["cancelled"] > 0
    row = control.executors(store).set_index("name").loc["nightly"]
    assert not row.alive and row.state == "stopped"


def test_drain_lets_running_tasks_finish_and_starts_no_more(tmp_path):
    home, log = tmp_path / "home", tmp_path / "starts.log"
    store = Store(home)
    b = _start_b(home, "batch", 500, log, task_seconds=0.4)
    try:
        assert _until(lambda: len(_events(log, "start")) >= 3)
        aid = control.act(store, "executor:batch", "drain")
        res = control.wait(store, aid, timeout=3)
        assert res["outcome"] == "applied" and "draining" in res["detail"]
        def drained():
            r = control.executors(store).set_index("name").loc["batch"]
            return [r] if r.state == "drained" else None

        found = _until(drained, timeout=3)
        assert found, "the executor did not report itself drained"
        row = found[0]
        assert row.running == 0 and row.draining
        starts, ends = _events(log, "start"), _events(log, "end")
        assert [t for t in starts if t > res["ts"]] == []
        assert len(starts) == len(ends), "a running task did not finish"
        assert row.queued > 0
    finally:
        stats = _finish(b, log)
    # the executor shut down drained: what waited was cancelled, not started
    assert len(_events(log, "start")) == len(starts)
    assert stats["cancelled"] == 500 - len(starts)


def test_two_hosts_sharing_a_home_see_each_others_executors(tmp_path):
    home = tmp_path / "home"
    logs = {h: tmp_path / f"{h}.log" for h in ("a", "b")}
    procs = {h: _start_b(home, "nightly", 3000, logs[h], host=h) for h in ("a", "b")}
    try:
        script = "import sys; from workbench import control; print(control.executors(sys.argv[1]).to_json(orient='records'))"
        for h in ("a", "b"):  # each host's view, from a process of that host
            env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
            env["WORKBENCH_HOST"] = h
            out = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True,
                                 env=env, check=True).stdout
            rows = json.loads(out)
            assert sorted((r["name"], r["host"], r["alive"]) for r in rows) == [("nightly", "a", True),
                                                                                ("nightly", "b", True)]
        # an action for one host's executor reaches only that one
        store = Store(home, host="a")
        aid = control.act(store, "executor:nightly@b", "set_limit", {"max_workers": 1})
        res = control.wait(store, aid, timeout=3)
        assert res["owner"] == "executor:nightly@b" and res["outcome"] == "applied"
        time.sleep(1.5)
        df = control.executors(store).set_index("host")
        assert (df.loc["a", "limit"], df.loc["b", "limit"]) == (2, 1)
        # the CLI lists both and marks a gone one
        procs["a"].kill()
        procs["a"].wait()
        out = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(home), "executors",
                              "--format", "json"], capture_output=True, text=True, check=True).stdout
        alive = {r["host"]: r["alive"] for r in json.loads(out)}
        assert alive == {"a": False, "b": True}
    finally:
        for h, p in procs.items():
            logs[h].with_suffix(".stop").touch()
            p.communicate(timeout=30)


def test_malformed_executor_actions_are_refused_and_the_executor_keeps_working(tmp_path):
    store = Store(tmp_path / "home")
    started = threading.Event()
    with ThrottledExecutor(max_workers=1, name="solo", store=store, control_interval=0.2) as ex:
        raw = [
            {"target": "executor:solo", "action": "explode", "args": "{}"},
            {"target": "executor:solo", "action": "set_limit", "args": "{not json"},
            {"target": "executor:solo", "action": "set_limit", "args": '{"max_workers": "many"}'},
            {"target": "executor:solo", "action": "pause", "args": "[1, 2]"},
            {"target": "executor:solo", "action": "cancel", "args": '{"colour": "red"}'},
            {"target": "executor:solo", "action": "ack", "args": '{"alert_id": "x"}'},
        ]
        ids = [f"raw{i}" for i in range(len(raw))]
        rows = [{"action_id": i, "ts": time.time(), "by": "test", "host": store.host, "reason": "", **r}
                for i, r in zip(ids, raw, strict=True)]
        from workbench._arrow import table_from_rows

        store.append_records("actions", table_from_rows(rows, control.ACTIONS_SCHEMA))
        results = {i: control.wait(store, i, timeout=3) for i in ids}
        assert all(r["outcome"] == "refused" for r in results.values()), results
        assert "Unknown action 'explode'" in results["raw0"]["detail"]
        assert "not valid JSON" in results["raw1"]["detail"]
        assert "'max_workers' must be an integer" in results["raw2"]["detail"]
        assert "must be a mapping" in results["raw3"]["detail"]
        assert "unknown argument(s) ['colour']" in results["raw4"]["detail"]
        assert "Unknown action 'ack'" in results["raw5"]["detail"]
        # still obeys and runs
        aid = control.act(store, "executor:solo", "set_limit", {"max_workers": 3})
        assert control.wait(store, aid, timeout=3)["outcome"] == "applied"
        assert ex.submit(lambda: started.set() or 7).result(timeout=5) == 7
        assert ex.stats()["limit"] == 3
    # refusals are an audit log in SQL
    df = store.sql("SELECT a.action, r.outcome, r.detail FROM actions a JOIN action_results r USING (action_id)")
    assert (df.outcome == "refused").sum() == 6


def test_same_name_on_one_host_is_refused_and_unnamed_executors_write_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path / "home")
    with ThrottledExecutor(max_workers=1, name="build", store=store):
        with pytest.raises(ExecutorRunningError, match="An executor named 'build' already runs on host"):
            ThrottledExecutor(max_workers=1, name="build", store=store)
        with ThrottledExecutor(max_workers=1, name="build", store=Store(tmp_path / "home", host="other")):
            pass  # the same name on another host is another executor
    with ThrottledExecutor(max_workers=1, name="build", store=store):
        pass  # the name is free again after shutdown
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "env-home"))
    monkeypatch.chdir(tmp_path)
    before = {t.name for t in threading.enumerate()}
    with ThrottledExecutor(max_workers=1) as ex:
        ex.submit(int).result()
        assert not [t for t in threading.enumerate() if t.name.startswith("throttled-control")
                    and t.name not in before]
    assert not (tmp_path / "env-home").exists() and not (tmp_path / "data").exists()
    with pytest.raises(ActionError, match="valid actions: pause, resume, drain"):
        control.act(store, "executor:build", "stop")
    with pytest.raises(ActionError, match="an executor name uses letters"):
        control.act(store, "executor:bad name", "pause")


def test_garbage_fields_in_executor_records_are_refused_or_skipped_and_counted(tmp_path):
    """Records any process may append: wrong types, NaN, nulls, no id. None stops the executor."""
    import pyarrow as pa

    store = Store(tmp_path / "home")
    with ThrottledExecutor(max_workers=1, name="solo", store=store, control_interval=0.2) as ex:
        rows = [
            {"action_id": "g0", "target": "executor:solo", "action": None, "args": "{}"},
            {"action_id": "g1", "target": "executor:solo", "action": "set_limit", "args": "null"},
            {"action_id": "g2", "target": "executor:solo", "action": "set_limit", "args": '{"max_workers": true}'},
            {"action_id": "g3", "target": "executor:solo", "action": "reprioritise", "args": '{"priority": NaN}'},
            {"action_id": "g4", "target": "executor:solo", "action": "cancel", "args": '{"tag": 5}'},
            {"action_id": "g5", "target": "executor:solo", "action": "resume", "args": '"resume"'},
            {"action_id": None, "target": "executor:solo", "action": "pause", "args": "{}"},  # no id: skipped
        ]
        table = pa.table({
            "action_id": [r["action_id"] for r in rows],
            "ts": pa.array([None] * len(rows), control.ACTIONS_SCHEMA.field("ts").type),  # no time either
            "by": [None] * len(rows), "host": [store.host] * len(rows),
            "target": [r["target"] for r in rows], "action": [r["action"] for r in rows],
            "args": [r["args"] for r in rows], "reason": [None] * len(rows),
        }, schema=control.ACTIONS_SCHEMA)
        store.append_records("actions", table)
        results = {i: control.wait(store, i, timeout=3) for i in ("g0", "g1", "g2", "g3", "g4", "g5")}
        assert {r["outcome"] for r in results.values()} == {"refused"}, results
        assert "Unknown action None" in results["g0"]["detail"]
        assert "'max_workers' must be an integer" in results["g1"]["detail"]  # null args: none given
        assert "'max_workers' must be an integer >= 1; got True" in results["g2"]["detail"]
        assert "'priority' must be a number; got nan" in results["g3"]["detail"]
        assert "'tag' must be a non-empty string; got 5" in results["g4"]["detail"]
        assert "must be a mapping" in results["g5"]["detail"]
        # the record without an id paused nothing, and the executor still obeys and runs
        assert not ex.stats()["paused"]
        aid = control.act(store, "executor:solo", "pause")
        assert control.wait(store, aid, timeout=3)["outcome"] == "applied" and ex.stats()["paused"]
        control.wait(store, control.act(store, "executor:solo", "resume"), timeout=3)
        assert ex.submit(abs, -3).result(timeout=5) == 3
        status = control.executor_status_path(store.home, store.host, "solo")
        assert _until(lambda: json.loads(status.read_text())["control"]["applied"] == 2, timeout=3)
        published = json.loads(status.read_text())
        assert published["control"]["refused"] == 6 and published["control"]["applied"] == 2
        assert published["control"]["errors"] >= 1 and "without an action_id" in published["control"]["last_error"]
