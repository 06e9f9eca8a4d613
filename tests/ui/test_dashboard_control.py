"""Acting from the page on other processes: an alert the agent owns, an executor another process runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from tests.ui.conftest import open_dashboard, start_dashboard, stop

pytestmark = pytest.mark.slow

RULES = """
[[alerts.rules]]
name = "agent_memory"
kind = "threshold"
metric = "workbench.agent.memory.rss"
fire = 1.0
severity = "warning"
summary = "fires at once: the agent uses more than one byte"
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory, output_dir):
    """A home with a real agent whose rule fires at once, and a dashboard on it."""
    from workbench.agent import read_status

    home = tmp_path_factory.mktemp("ui-live")
    config = home / "workbench.toml"
    config.write_text(RULES)
    agent = subprocess.Popen([sys.executable, "-m", "workbench.cli", "--home", str(home), "--config", str(config),
                              "agent"], stdout=subprocess.DEVNULL, stderr=open(output_dir / "agent-ui.log", "w"))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            firing = [s for s in read_status(home) if (s.get("alerts") or {}).get("firing")]
            if firing:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the agent's rule never fired")
        server, proc = start_dashboard(home, config=config, log_path=output_dir / "voila-live.log")
        yield {"home": home, "server": server, "agent": agent, "config": config}
        stop(proc)
    finally:
        agent.terminate()
        agent.wait(timeout=30)


def test_acknowledging_in_the_page_reaches_the_running_agent_within_2_s(browser, live, output_dir):
    from workbench.agent import read_status

    page, watch = open_dashboard(browser, live["server"], height=1400)
    row = page.locator(".wb-alert-row", has=page.locator(".wb-alert-firing")).first
    row.wait_for(timeout=30_000)
    row.locator(".wb-ack").click()
    page.locator(".wb-confirm").get_by_placeholder("reason").fill("looking into it")
    page.screenshot(path=str(output_dir / "dashboard-alert-confirm.png"))
    clicked = time.monotonic()
    page.locator(".wb-confirm-ok").click()
    acked = None
    while time.monotonic() - clicked < 10:
        status = read_status(live["home"])
        fired = [a for s in status for a in (s.get("alerts") or {}).get("firing", [])]
        if fired and fired[0].get("acked_by"):
            acked = time.monotonic() - clicked
            break
        time.sleep(0.1)
    assert acked is not None, "the agent never reported the acknowledgement"
    assert acked <= 2.0, f"the agent reported the acknowledgement {acked:.2f} s after the click"
    from workbench.store import Store

    rec = Store(live["home"]).sql("SELECT event, note FROM alerts WHERE event = 'acknowledged'")
    assert rec["note"].tolist() == ["looking into it"]
    # the page shows the outcome, and no error
    page.wait_for_selector(".wb-action-status:has-text('applied')", timeout=15_000)
    assert watch.errors == []
    page.close()


BATCH = textwrap.dedent("""
    import sys, time
    from workbench.execute import ThrottledExecutor
    starts = open(sys.argv[1], "a", buffering=1)

    def task(i):
        starts.write(f"{time.time()}\\n")
        time.sleep(0.05)
        return i

    with ThrottledExecutor(max_workers=2, name="ui-batch") as ex:
        futures = [ex.submit(task, i) for i in range(20000)]
        for f in futures:
            f.result()
""")


def test_pausing_an_executor_of_another_process_stops_its_task_starts_within_2_s(browser, live, tmp_path):
    import os

    script = tmp_path / "batch.py"
    script.write_text(BATCH)
    starts = tmp_path / "starts.txt"
    env = dict(os.environ, WORKBENCH_HOME=str(live["home"]))
    batch = subprocess.Popen([sys.executable, str(script), str(starts)], env=env)
    try:
        page, watch = open_dashboard(browser, live["server"])
        row = page.locator(".wb-executorpanel tbody tr", has_text="ui-batch")
        row.wait_for(timeout=30_000)
        row.click()
        page.locator(".wb-exec-pause").click()
        clicked = time.time()
        time.sleep(4)
        times = [float(x) for x in starts.read_text().split()]
        late = [t for t in times if t > clicked + 2.0]
        assert times and not late, f"{len(late)} tasks started more than 2 s after the pause"
        page.wait_for_selector(".wb-executorpanel td:has-text('paused')", timeout=10_000)
        page.locator(".wb-exec-resume").click()
        resumed = time.time()
        time.sleep(3)
        times = [float(x) for x in starts.read_text().split()]
        assert any(t > resumed for t in times), "tasks did not start again after resume"
        assert watch.errors == []
        page.close()
    finally:
        batch.kill()
        batch.wait(timeout=30)
