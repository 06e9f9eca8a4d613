"""`workbench status` does not go stale: a suspended agent, a full disk and a refused second agent are said
so; the log says a repeated error once (then rarely) and says when it recovered (issue 13, items 13 and 8)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.agent import _Repeated

CLI = [sys.executable, "-m", "workbench.cli"]


def _env():
    env = dict(os.environ)
    env.pop("WORKBENCH_HOME", None)
    env.pop("WORKBENCH_CONFIG", None)
    return env


def _status(home) -> dict:
    res = subprocess.run([*CLI, "--home", str(home), "status", "--json"], capture_output=True, text=True,
                         env=_env(), timeout=60)
    assert res.returncode == 0, res.stderr
    (agent,) = json.loads(res.stdout)["agents"]
    return agent


def _wait_running(home, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if list(Path(home).glob("hosts/*/agent-status.json")):
            st = _status(home)
            if st["alive"] and st.get("samples_written"):
                return st
        time.sleep(0.5)
    raise AssertionError("the agent did not start recording")


def test_a_suspended_agent_is_stopped_not_running_and_a_second_one_is_refused_quietly(tmp_path):
    home = tmp_path / "home"
    agent = subprocess.Popen([*CLI, "--home", str(home), "agent", "--duration", "60"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=_env())
    try:
        st = _wait_running(home, agent)
        assert st["state"] == "RUNNING" and st["warnings"] == []
        second = subprocess.run([*CLI, "--home", str(home), "agent", "--duration", "5"], capture_output=True,
                                text=True, env=_env(), timeout=60)
        assert second.returncode == 2 and "error: Another agent" in second.stderr
        assert "recording host" not in second.stderr  # it used to announce first, then be refused
        os.kill(agent.pid, signal.SIGSTOP)
        time.sleep(12)
        st = _status(home)
        assert st["state"] == "STOPPED", st  # was "RUNNING, last flush 27 s ago"
        assert f"`kill -CONT {agent.pid}` resumes it" in st["warnings"][0]
        text = subprocess.run([*CLI, "--home", str(home), "status"], capture_output=True, text=True, env=_env(),
                              timeout=60).stdout
        assert "agent STOPPED" in text and "WARNING: its status was last written" in text
        os.kill(agent.pid, signal.SIGCONT)
        time.sleep(3)
        st = _status(home)
        assert st["state"] == "RUNNING" and st["warnings"] == [], st
    finally:
        os.kill(agent.pid, signal.SIGCONT)
        agent.terminate()
        agent.wait(timeout=30)


def test_a_repeated_error_is_logged_once_then_rarely_and_its_recovery_too(caplog):
    now = [0.0]
    trouble = _Repeated("could not write to the store", every=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="workbench.agent"):
        for _ in range(59):
            trouble.failed("[Errno 28] No space left on device")
            now[0] += 1
        assert len(caplog.records) == 1
        now[0] = 60.0
        trouble.failed("[Errno 28] No space left on device")  # 60 s on: once more, with the count
        trouble.failed("[Errno 13] Permission denied")  # another error: at once
        assert len(caplog.records) == 3 and "60 failures in 60 s" in caplog.records[1].getMessage()
        assert trouble.status()["failures"] == 61
        trouble.ok("; 12 samples kept in memory are written")
        trouble.ok()
    assert len(caplog.records) == 4
    assert "recovered after 61 failure(s) over 60 s" in caplog.records[3].getMessage()
    assert trouble.status() is None


_FULL_DISK = textwrap.dedent("""
    import json, os, subprocess, sys, time
    from pathlib import Path
    mnt, cli = Path(sys.argv[1]), sys.argv[2:]
    home, log = mnt / "home", mnt.parent / "agent.log"
    out = {}

    def status():
        r = subprocess.run([*cli, "--home", str(home), "status", "--json"], capture_output=True, text=True)
        return json.loads(r.stdout)["agents"][0]

    with open(log, "w") as fh:
        agent = subprocess.Popen([*cli, "--home", str(home), "agent", "--duration", "60"], stdout=fh, stderr=fh)
    for _ in range(120):
        time.sleep(0.5)
        if (home / "hosts").exists() and list(home.glob("hosts/*/agent-status.json")) and status().get("samples_written"):
            break
    filler = mnt / "filler"
    with open(filler, "wb") as fh:  # fill the file system
        try:
            while True:
                fh.write(b"x" * 65536)
                fh.flush()
        except OSError:
            pass
    time.sleep(13)
    out["full"] = status()
    fresh = subprocess.run([*cli, "--home", str(mnt / "fresh"), "agent", "--duration", "2"], capture_output=True,
                           text=True)
    out["fresh"] = {"rc": fresh.returncode, "stderr": fresh.stderr,
                    "tmp": [str(p) for p in (mnt / "fresh").rglob("*.tmp")]}
    filler.unlink()
    time.sleep(4)
    out["recovered"] = status()
    agent.terminate()
    agent.wait(30)
    out["tmp"] = [str(p) for p in home.rglob("*.tmp")]
    print(json.dumps(out, default=str))
""")


def _tmpfs(tmp_path, size: str) -> tuple[str, Path]:
    """unshare and a mount point for a tiny real tmpfs in a private mount namespace (skip where not allowed)."""
    unshare = shutil.which("unshare")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    probe = subprocess.run([unshare or "unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o size={size} tmpfs "
                            f"'{mnt}'"], capture_output=True, text=True) if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip(f"needs unshare and permission to mount a small tmpfs: {probe and probe.stderr.strip()}")
    return unshare, mnt


def test_a_new_home_without_room_for_the_catalogue_is_a_clear_error_with_no_litter(tmp_path):
    """16 KiB: the lock fits, the catalogue does not (it left catalog/.NAME.PID.tmp and a traceback)."""
    unshare, mnt = _tmpfs(tmp_path, "16k")
    home = mnt / "home"
    script = (f"mount -t tmpfs -o size=16k tmpfs '{mnt}' && \"$@\"; rc=$?; "
              f"find '{mnt}' -name '*.tmp'; cat '{home}'/hosts/*/agent.lock; exit $rc")
    res = subprocess.run([unshare, "--mount", "sh", "-c", script, "sh", *CLI, "--home", str(home), "agent",
                          "--duration", "2"], capture_output=True, text=True, env=_env(), timeout=60)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert f"error: Cannot write the metric catalogue in {home}/catalog: No space left on device" in res.stderr
    assert "Traceback" not in res.stderr and "recording host" not in res.stderr
    lines = res.stdout.splitlines()
    assert not any(line.endswith(".tmp") for line in lines), lines
    assert json.loads(lines[-1]).get("released")  # the host lock is let go, not left to be taken over


def test_a_full_disk_shows_in_status_and_the_log_and_a_new_home_there_is_a_clear_error(tmp_path):
    unshare, mnt = _tmpfs(tmp_path, "4m")
    script = tmp_path / "full_disk.py"
    script.write_text(_FULL_DISK)
    res = subprocess.run([unshare, "--mount", "sh", "-c", f"mount -t tmpfs -o size=4m tmpfs '{mnt}' && exec \"$@\"",
                          "sh", sys.executable, str(script), str(mnt), *CLI], capture_output=True, text=True,
                         env=_env(), timeout=180)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    log = (tmp_path / "agent.log").read_text()

    full = out["full"]
    assert full["state"] == "STALLED", full  # was "RUNNING ... buffered 0"
    assert any("is full" in w for w in full["warnings"]), full["warnings"]
    assert log.count("could not write to the store: [Errno 28]") == 1, log  # not once a second
    assert log.count("could not write the agent status: [Errno 28]") == 1, log
    assert "Traceback" not in log, log

    fresh = out["fresh"]
    assert fresh["rc"] == 2 and "error: Cannot write the host lock in " in fresh["stderr"], fresh
    assert "No space left on device (the file system holding the home is full)" in fresh["stderr"]
    assert "Traceback" not in fresh["stderr"]
    assert "recording host" not in fresh["stderr"] and fresh["tmp"] == []

    rec = out["recovered"]
    assert rec["state"] == "RUNNING" and rec["warnings"] == [], rec
    assert "could not write to the store: recovered after" in log
    assert "samples kept in memory are written" in log
    assert out["tmp"] == []  # no .tmp litter left by the failed writes


def test_any_command_that_fills_the_disk_ends_in_a_clear_error(tmp_path):
    """`workbench demo` into a home with room for a third of it: a message, not an OSError traceback."""
    unshare, mnt = _tmpfs(tmp_path, "400k")
    script = f"mount -t tmpfs -o size=400k tmpfs '{mnt}' && \"$@\"; rc=$?; find '{mnt}' -name '*.tmp'; exit $rc"
    res = subprocess.run([unshare, "--mount", "sh", "-c", script, "sh", *CLI, "--home", str(mnt / "home"), "demo",
                          "--no-compact"], capture_output=True, text=True, env=_env(), timeout=120)
    assert res.returncode == 2, (res.stdout, res.stderr[-2000:])
    assert "error: No space left on device" in res.stderr and "free some space" in res.stderr
    assert "Traceback" not in res.stderr and ".tmp" not in res.stdout
