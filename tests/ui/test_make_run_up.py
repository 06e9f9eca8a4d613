"""`make run` (`workbench up`): the demo on first run, the agent and the dashboard, and Ctrl-C stops both."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.ui.conftest import free_port, wait_http

pytestmark = pytest.mark.slow


def _wb(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_up_loads_the_demo_starts_agent_and_dashboard_and_ctrl_c_stops_both(tmp_path):
    home, port = tmp_path / "home", free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_HOME", "WORKBENCH_CONFIG")}
    log = tmp_path / "up.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "up", "--home", str(home), "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 180
        while not re.search(rf"Dashboard: http://127\.0\.0\.1:{port}/", log.read_text()):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert "loading the demo data set" in log.read_text()
        assert wait_http(f"http://127.0.0.1:{port}/", proc=proc, timeout=120) == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("agent" in c.cmdline() for c in children), [c.cmdline() for c in children]
        assert any("workbench.ui._voila" in " ".join(c.cmdline()) for c in children)

        deadline = time.monotonic() + 60
        while True:  # the agent records this machine beside the demo hosts
            status = _wb("status", "--home", str(home), env=env)
            if "agent RUNNING" in status.stdout or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert "agent RUNNING" in status.stdout, status.stdout + status.stderr
        assert "demo hosts" in status.stdout and "workstation" in status.stdout

        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends to `make run`
        assert proc.wait(timeout=60) == 0, log.read_text()
        gone, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, [p.cmdline() for p in alive]
        status = _wb("status", "--home", str(home), env=env)
        assert "agent RUNNING" not in status.stdout, status.stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for child in psutil.process_iter(["cmdline"]):
            if str(home) in " ".join(child.info["cmdline"] or []):
                child.kill()
