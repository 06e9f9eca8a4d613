"""The schedule policy on a controllable clock, and the agent's service starting real child runs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from tests.report.conftest import tiny_notebook
from workbench.report._schedule import SchedulePolicy


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_fires_at_the_cron_times_and_not_between():
    p = SchedulePolicy({"daily": "0 7 * * *", "quarter": "*/15 * * * *"})
    assert p.due(t("2026-03-01T06:50:00")) == []  # first sight: starts with the next slot
    fired = []
    now = t("2026-03-01T06:50:00")
    while now < t("2026-03-02T08:00:00"):
        for name, slot in p.due(now):
            fired.append((name, datetime.fromtimestamp(slot, UTC).strftime("%d %H:%M")))
            p.started(name, slot)
            p.finished(name)
        now += 30
    daily = [s for n, s in fired if n == "daily"]
    quarter = [s for n, s in fired if n == "quarter"]
    assert daily == ["01 07:00", "02 07:00"]
    assert quarter[:3] == ["01 07:00", "01 07:15", "01 07:30"] and quarter[-1] == "02 07:45"
    assert len(quarter) == 25 * 4  # every quarter hour from 07:00 to 07:45 the next day, each once
    assert p.next_run("daily", t("2026-03-02T08:00:00")) == t("2026-03-03T07:00:00")


def test_downtime_is_caught_up_once_not_once_per_missed_slot():
    p = SchedulePolicy({"daily": "0 7 * * *"}, {"daily": t("2026-03-01T07:00:00")})
    back = t("2026-03-05T09:30:00")  # the agent was down for four slots
    due = p.due(back)
    assert due == [("daily", t("2026-03-05T07:00:00"))]
    p.started("daily", due[0][1])
    p.finished("daily")
    assert p.due(back + 60) == [] and p.due(t("2026-03-06T06:59:59")) == []
    assert p.due(t("2026-03-06T07:00:00")) == [("daily", t("2026-03-06T07:00:00"))]


def test_never_runs_one_report_twice_at_once():
    p = SchedulePolicy({"often": "* * * * *"}, {"often": t("2026-03-01T00:00:00")})
    (name, slot), = p.due(t("2026-03-01T00:01:00"))
    p.started(name, slot)
    for minute in range(2, 10):  # a run that takes ten minutes: no second start meanwhile
        assert p.due(t(f"2026-03-01T00:{minute:02d}:00")) == []
    p.finished(name)
    assert p.due(t("2026-03-01T00:10:05")) == [("often", t("2026-03-01T00:10:00"))]  # caught up once


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.slow
def test_service_runs_reports_in_a_child_and_a_failure_raises_an_alert(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from workbench.report._config import ReportSpec
    from workbench.report._service import ReportService, read_schedule_state
    from workbench.store import Store

    posted: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    notify = {"channels": {"hook": {"kind": "webhook", "url": f"http://127.0.0.1:{srv.server_port}/r"}}}
    home = tmp_path / "home"
    home.mkdir()
    nb = tiny_notebook(tmp_path / "r.ipynb", ["print('fine')", "if fail:\n    raise RuntimeError('disk gone')"])
    clock = FakeClock(t("2026-03-01T06:59:00"))
    spec = ReportSpec("daily", cron="0 7 * * *", notebook=str(nb), params={"fail": False}, deliver=("hook",))
    svc = ReportService({"daily": spec}, home, notify, host="reporter", clock=clock)
    svc.poll()
    assert svc.running() == []
    clock.now = t("2026-03-01T07:00:10")
    t0 = time.perf_counter()
    svc.poll()
    assert time.perf_counter() - t0 < 0.5, "starting a child must not wait for it"
    assert svc.running() == ["daily"]
    svc.poll()
    assert svc.started_count == 1  # polled again while it runs: not started twice

    def wait_done():
        deadline = time.monotonic() + 90
        while svc.running() and time.monotonic() < deadline:
            t1 = time.perf_counter()
            svc.poll()
            assert time.perf_counter() - t1 < 0.5
            time.sleep(0.2)
        assert not svc.running()

    wait_done()
    state = read_schedule_state(home)
    assert state["runs"]["daily"]["status"] == "ok", state
    assert state["last_slots"]["daily"] == t("2026-03-01T07:00:00")
    ok_dir = state["runs"]["daily"]["dir"]
    # the child delivered it: the webhook got the report's path (the failure below sends no report)
    assert [p["alerts"][0]["path"] for p in posted] == [f"daily/{ok_dir.rsplit('/', 1)[1]}/report.html"], posted

    # the next day's run fails: the previous report stays, the cell and error are recorded, an alert fires
    svc.specs["daily"] = ReportSpec("daily", cron="0 7 * * *", notebook=str(nb), params={"fail": True})
    clock.now = t("2026-03-02T07:00:05")
    svc.poll()
    wait_done()
    run = read_schedule_state(home)["runs"]["daily"]
    assert run["status"] == "failed" and run["cell"] == 3 and "RuntimeError: disk gone" in run["error"], run
    assert (tmp_path / "home" / "reports" / "daily").exists()
    assert json.loads((home / "reports" / "daily" / ok_dir.rsplit("/", 1)[1] / "run.json").read_text())["status"] == "ok"
    alerts = Store(home).sql("SELECT rule, state, host, labels, summary FROM alerts WHERE rule = 'report_failed' "
                             "ORDER BY ts")
    assert list(alerts["state"]) == ["firing"], alerts
    assert alerts["labels"].iloc[0] == "report=daily" and alerts["host"].iloc[0] == "reporter"
    assert "cell 3" in alerts["summary"].iloc[0] and "disk gone" in alerts["summary"].iloc[0]
    assert len(posted) == 2 and posted[1]["rule"] == "report_failed" and posted[1]["event"] == "firing"
    srv.shutdown()


@pytest.mark.slow
def test_a_run_killed_before_it_recorded_still_raises_the_alert(tmp_path):
    """A run whose process dies hard (killed, out of memory) cannot raise its own alert; the
    service sees the exit and a short child raises report_failed, naming the signal."""
    import signal

    from workbench.report._config import ReportSpec
    from workbench.report._service import ReportService, read_schedule_state
    from workbench.store import Store

    home = tmp_path / "home"
    home.mkdir()
    nb = tiny_notebook(tmp_path / "r.ipynb", ["import time\ntime.sleep(60)"])
    clock = FakeClock(t("2026-03-01T06:59:00"))
    svc = ReportService({"daily": ReportSpec("daily", cron="0 7 * * *", notebook=str(nb))}, home, host="reporter",
                        clock=clock)
    svc.poll()
    clock.now = t("2026-03-01T07:00:05")
    svc.poll()
    (proc, _started), = svc.children.values()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    svc.poll()
    run = read_schedule_state(home)["runs"]["daily"]
    assert run["status"] == "failed" and "exited with code -9" in run["error"], run
    deadline = time.monotonic() + 60
    alerts = None
    while time.monotonic() < deadline:
        if "alerts" in Store(home).views():
            alerts = Store(home).sql("SELECT rule, state, labels, summary FROM alerts WHERE rule = 'report_failed'")
            if len(alerts):
                break
        time.sleep(0.3)
    assert alerts is not None and list(alerts["state"]) == ["firing"], alerts
    assert alerts["labels"].iloc[0] == "report=daily" and "signal 9" in alerts["summary"].iloc[0]
