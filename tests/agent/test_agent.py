"""The agent as a real subprocess: live reads, kill -9, the host lock."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from workbench.agent import read_status
from workbench.store import Store


def _start(home, *args):
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "agent", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _wait_for_samples(store, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if store.sql("select count(*) n from samples").n[0] > 0:
                return
        except Exception:  # noqa: BLE001 - catalogue may not exist yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"the agent wrote nothing within {timeout} s")


@pytest.mark.slow
def test_live_reader_sees_fresh_samples_and_counts_match(tmp_path):
    home = tmp_path / "home"
    proc = _start(home, "--duration", "10")
    store = Store(home)
    _wait_for_samples(store)
    ages = []
    while proc.poll() is None:
        latest = store.latest("workbench.agent.cpu.utilization")
        if not latest.empty:
            ages.append((pd.Timestamp.now("UTC") - latest.ts.max()).total_seconds())
        time.sleep(0.25)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert len(ages) > 10
    assert max(ages[2:]) <= 2.0, f"stale reads: {sorted(ages)[-5:]}"
    n = store.sql("select count(*) n from samples").n[0]
    assert n == summary["samples_written"]
    metrics = set(store.sql("select distinct metric from samples").metric)
    assert {"system.cpu.utilization", "system.memory.usage", "workbench.agent.memory.rss"} <= metrics
    status = read_status(home)[0]
    assert status["alive"] is False and status["samples_written"] == n


@pytest.mark.slow
def test_kill_9_loses_at_most_one_flush_and_the_next_agent_takes_over(tmp_path):
    home = tmp_path / "home"
    first = _start(home)
    store = Store(home)
    _wait_for_samples(store)
    time.sleep(3)
    # a second agent on the same home is refused while the first runs
    second = _start(home, "--duration", "5")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 2
    assert "already writing" in err and str(first.pid) in err
    assert read_status(home)[0]["alive"] is True
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = pd.Timestamp.now("UTC")
    newest = store.sql("select max(ts) t from samples").t[0]
    # flush interval 1 s + one collection interval of slack
    assert (killed_at - newest).total_seconds() <= 2.5
    count_before = store.sql("select count(*) n from samples").n[0]
    assert read_status(home)[0]["alive"] is False
    third = _start(home, "--duration", "3")
    out, err = third.communicate(timeout=60)
    assert third.returncode == 0, err
    assert "stale lock" in err
    assert store.sql("select count(*) n from samples").n[0] > count_before


@pytest.mark.slow
def test_sigterm_flushes_everything(tmp_path):
    home = tmp_path / "home"
    proc = _start(home)
    store = Store(home)
    _wait_for_samples(store)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    written = json.loads(out.strip().splitlines()[-1])["samples_written"]
    assert store.sql("select count(*) n from samples").n[0] == written
