"""The agent compacts in a child process: it works, and when it fails the agent says so and keeps recording."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from workbench.agent import read_status
from workbench.store import Store


def _run(tmp_path, home, toml: str, duration: str = "7"):
    config = tmp_path / "workbench.toml"
    config.write_text(toml)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--config", str(config), "--home", str(home), "agent",
         "--host", "h1", "--duration", duration],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    return proc, json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None


@pytest.mark.slow
def test_compaction_child_absorbs_files_and_reports_its_cost(tmp_path):
    home = tmp_path / "home"
    proc, summary = _run(tmp_path, home, "[agent]\ncompact_interval = 2\n")
    assert proc.returncode == 0, proc.stderr
    assert summary["compactions"] >= 2 and summary["compaction_failures"] == 0
    comp = read_status(home)[0]["compaction"]
    assert comp["absorbed"] >= 0 and comp["failures"] == 0 and comp["last_error"] == ""
    assert 20 * 2**20 < comp["peak_rss_bytes"] < 1024 * 2**20  # a real child process's peak, in bytes
    store = Store(home)
    # compacted or not, every sample is there exactly once
    n = store.sql("SELECT count(*) n FROM samples").n[0]
    assert n == summary["samples_written"]
    manifest = json.loads((home / "hosts" / "h1" / "manifest.json").read_text())
    assert manifest["absorbed"], "the child absorbed no L0 file"
    peaks = store.sql("SELECT value FROM samples WHERE metric = 'workbench.agent.compaction.rss'").value
    assert len(peaks) and peaks.min() > 20 * 2**20


@pytest.mark.slow
def test_a_failing_compaction_is_logged_counted_and_recording_goes_on(tmp_path):
    home = tmp_path / "home"
    host_dir = home / "hosts" / "h1"
    host_dir.mkdir(parents=True)
    (host_dir / "manifest.json").write_text(json.dumps({"format": 999}))  # a store from the future
    proc, summary = _run(tmp_path, home, "[agent]\ncompact_interval = 1.5\n", duration="5")
    assert proc.returncode == 0, proc.stderr
    assert summary["compaction_failures"] >= 2 and summary["compactions"] == summary["compaction_failures"]
    assert "compaction failed (1 of 1 cycles so far): exited with status 1: workbench.errors.StoreError:" in proc.stderr
    assert "manifest format 999" in proc.stderr
    status = read_status(home)[0]
    assert status["compaction"]["failures"] == summary["compaction_failures"]
    assert "manifest format 999" in status["compaction"]["last_error"]
    assert summary["samples_written"] > 0
    assert len(list((host_dir / "incoming").glob("*.parquet"))) >= 4  # the data waits in L0
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(home), "status"],
                         capture_output=True, text=True, check=False)
    assert "compaction FAILED" in out.stdout


@pytest.mark.slow
def test_kill_9_of_the_agent_takes_its_compaction_child_down_too(tmp_path):
    """An orphan compacting beside the next agent's own child would race it on the manifest."""
    import signal
    import time

    import psutil

    config = tmp_path / "workbench.toml"
    config.write_text("[agent]\ncompact_interval = 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    agent = subprocess.Popen([sys.executable, "-m", "workbench.cli", "--config", str(config), "--home",
                              str(tmp_path / "home"), "agent"], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             env=env)
    try:
        deadline = time.time() + 30
        children = []
        while time.time() < deadline and not children:
            children = psutil.Process(agent.pid).children()
            time.sleep(0.01)
        assert children and "workbench.store._compaction_child" in children[0].cmdline()
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait()
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"compaction child {alive} outlived its agent"
