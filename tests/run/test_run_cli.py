"""`workbench run` as a user runs it: a real subprocess, real jobs, real signals (issue 10)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from workbench import control
from workbench.store import Store

PY = sys.executable


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}


def _run(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "workbench.cli", "--home", str(home), "run", "--progress", "plain", *args],
                          capture_output=True, text=True, timeout=timeout, env=_env())


def _start(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "workbench.cli", "--home", str(home), "run", "--progress", "plain", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _run_id(stdout: str) -> str:
    return re.search(r"workbench run (\S+): \d+ job", stdout).group(1)


def _task_runs(home: Path, run_id: str):
    return Store(home).sql("SELECT key, state, attempts, error FROM task_runs "
                           "WHERE list_contains(string_split(tags, ','), ?) ORDER BY key", [f"run:{run_id}"])


def _py(code: str, *extra: str) -> str:
    return "[" + ", ".join(f'"{a}"' for a in (PY, "-c", code, *extra)) + "]"


def _marked(marker: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in p.info["cmdline"] or ()):
                out.append(p)
        except psutil.Error:
            pass
    return out


def test_a_jobs_file_with_a_chain_retries_a_memory_limit_and_a_timeout(tmp_path):
    home = tmp_path / "home"
    stamp = tmp_path / "order.txt"
    (tmp_path / "jobs.toml").write_text(f"""
[run]
max_workers = 3

[templates.step]
cmd = "echo $STEP >> {stamp}; echo step $STEP done"
env = {{ STEP = "?" }}

[jobs.fetch]
template = "step"
env = {{ STEP = "fetch" }}

[jobs.build]
template = "step"
env = {{ STEP = "build" }}
after = "fetch"

[jobs.test]
template = "step"
env = {{ STEP = "test" }}
after = ["build"]

[jobs.flaky]
cmd = "echo attempt; echo oops >&2; exit 3"
retry = {{ times = 2, backoff = "0s" }}

[jobs.report]
cmd = "echo never runs"
after = ["flaky"]

[jobs.hog]
cmd = {_py("x = bytearray(400 * 2**20)")}
memory_limit = "150MiB"

[jobs.slow]
cmd = "echo started; sleep 30"
timeout = "1s"
""")
    t0 = time.monotonic()
    res = _run(home, "--file", str(tmp_path / "jobs.toml"))
    assert time.monotonic() - t0 < 30
    assert res.returncode == 1, res.stderr
    run_id = _run_id(res.stdout)
    # the chain ran in order
    assert stamp.read_text().split() == ["fetch", "build", "test"]
    # every job exactly once in task_runs, in the state it ended in
    df = _task_runs(home, run_id)
    assert sorted(df.key) == ["build", "fetch", "flaky", "hog", "report", "slow", "test"]
    got = {r.key: (r.state, r.attempts) for r in df.itertuples()}
    assert got == {"fetch": ("done", 1), "build": ("done", 1), "test": ("done", 1), "flaky": ("failed", 3),
                   "report": ("failed", 0), "hog": ("failed", 1), "slow": ("timed_out", 1)}
    errors = dict(zip(df.key, df.error, strict=True))
    assert errors["hog"].startswith("MemoryLimitError") and "DependencyFailedError" in errors["report"]
    # the summary names each job that did not succeed, and why
    assert "3 of 7 job(s) succeeded" in res.stderr
    for name, why in (("flaky", "exited with code 3"), ("hog", "memory_limit"), ("slow", "timed_out"),
                      ("report", "dependency 'flaky' ended failed")):
        line = next(ln for ln in res.stderr.splitlines() if ln.strip().startswith(f"{name}:"))
        assert why in line, line
    # a log per job, with every try's output (stderr too)
    logs = home / "runs" / run_id
    assert sorted(p.stem for p in logs.glob("*.log")) == sorted(df.key)
    flaky = (logs / "flaky.log").read_text()
    assert flaky.count("attempt\n") == 3 and flaky.count("oops\n") == 3 and "try 3 of 3" in flaky
    assert "step build done" in (logs / "build.log").read_text()
    assert "ended timed_out" in (logs / "slow.log").read_text()
    assert "ended failed after 0 tries" in (logs / "report.log").read_text()


def test_one_command_and_what_is_wrong_on_the_command_line(tmp_path):
    home = tmp_path / "home"
    ok = _run(home, "--name", "single", "--", "sh", "-c", "echo out; echo err >&2")
    assert ok.returncode == 0, ok.stderr
    run_id = _run_id(ok.stdout)
    assert "1 of 1 job(s) succeeded" in ok.stdout and "executor 'single'" in ok.stdout
    log = (home / "runs" / run_id / "sh.log").read_text().splitlines()
    assert sorted(log[1:3]) == ["err", "out"] and len(log) == 4  # stdout and stderr, as they came
    bad = _run(home, "--retry", "1", "--job-name", "fails", "--", "sh", "-c", "exit 4")
    assert bad.returncode == 1 and "fails: failed" in bad.stderr
    assert list(_task_runs(home, _run_id(bad.stdout)).attempts) == [2]
    for args, words in ((["--timeout", "soon", "--", "true"], "timeout must be a positive duration"),
                        ([], "needs a command after --"),
                        (["--file", "x.toml", "--", "true"], "either --file or a command"),
                        (["--max-workers", "0", "--", "true"], "max_workers must be an integer >= 1"),
                        (["--file", "x.toml", "--timeout", "5"], "--timeout set(s) one command's job")):
        res = _run(home, *args)
        assert res.returncode == 2 and words in res.stderr, (args, res.stderr)


def _jobs_for_signals(tmp_path: Path, marker: str) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(f"""
[run]
max_workers = 2
name = "sig-run"

[jobs.a]
cmd = {_py("import time; time.sleep(2); print('a finished')", marker)}
priority = 2

[jobs.b]
cmd = ["sh", "-c", "sleep 60 & wait", "{marker}"]
priority = 1

[jobs.c]
cmd = {_py("import time; time.sleep(60)", marker)}

[jobs.d]
cmd = "echo d"
after = "a"
""")
    return path


def _rest(proc: subprocess.Popen) -> tuple[str, str]:
    # not communicate(): it reads the pipes' file descriptors and loses what readline() buffered
    out = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait(timeout=20)
    return out, err


def _wait_started(proc: subprocess.Popen, n: int) -> list[str]:
    lines = []
    while sum(1 for ln in lines if ln.startswith("started ")) < n:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        lines.append(line)
    return lines


def test_ctrl_c_drains_the_run_is_steerable_and_leaves_no_orphans(tmp_path):
    home = tmp_path / "home"
    marker = f"wbrun-{uuid.uuid4().hex}"
    proc = _start(home, "--file", str(_jobs_for_signals(tmp_path, marker)))
    try:
        head = _wait_started(proc, 2)
        run_id = _run_id(head[0])
        # the run is a named executor: visible, and it obeys actions from another process
        listed = control.executors(Store(home))
        assert list(listed.name) == ["sig-run"] and bool(listed.alive[0])
        aid = control.act(Store(home), "executor:sig-run", "set_limit", {"max_workers": 2}, reason="test")
        assert control.wait(Store(home), aid, timeout=3)["outcome"] == "applied"
        proc.send_signal(signal.SIGINT)  # drain: a finishes, b was started and finishes, c and d never start
        time.sleep(0.5)
        assert len(_marked(marker)) >= 1  # the running jobs were not killed by the first Ctrl-C
        # a finishes; b sleeps 60 s and drain waits for it, so a second Ctrl-C is what stops it
        seen = []
        while not seen or not seen[-1].startswith("ok a"):
            seen.append(proc.stdout.readline())
            assert seen[-1], "".join(seen)
        proc.send_signal(signal.SIGINT)
        out, err = _rest(proc)
        out = "".join(head + seen) + out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Ctrl-C: draining" in out and "cancelling: sent SIGTERM" in out
    time.sleep(0.2)
    assert _marked(marker) == []  # no orphan: neither the jobs nor what they started (b's sleep)
    df = _task_runs(home, run_id)
    got = {r.key: r.state for r in df.itertuples()}
    assert sorted(df.key) == ["a", "b", "c", "d"]  # each exactly once
    assert got["a"] == "done" and got["b"] == "failed" and got["c"] == "cancelled" and got["d"] == "cancelled"
    assert "b: failed - killed by a second Ctrl-C" in err
    st = control.executors(Store(home))
    assert not bool(st.alive[0]) and st.state[0] == "stopped"


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_sigterm_kills_the_running_jobs_at_once(tmp_path, sig):
    home = tmp_path / "home"
    marker = f"wbrun-{uuid.uuid4().hex}"
    proc = _start(home, "--file", str(_jobs_for_signals(tmp_path, marker)), "--name", "term-run")
    try:
        head = _wait_started(proc, 2)
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = _rest(proc)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and took < 6, (took, err)
    time.sleep(0.2)
    assert _marked(marker) == []
    assert len(_task_runs(home, _run_id(head[0]))) == 4


def test_a_drain_from_outside_ends_the_run_after_its_running_jobs(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "jobs.toml").write_text(f"""
[run]
max_workers = 1
name = "drained-run"

[jobs.first]
cmd = {_py("import time; time.sleep(1.5); print('first finished')")}
priority = 1

[jobs.second]
cmd = "echo second"
""")
    proc = _start(home, "--file", str(tmp_path / "jobs.toml"))
    try:
        head = _wait_started(proc, 1)
        aid = control.act(Store(home), "executor:drained-run", "drain", reason="maintenance")
        assert control.wait(Store(home), aid, timeout=3)["outcome"] == "applied"
        out, err = _rest(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err
    assert "drained from outside (`workbench executor drain drained-run`)" in out
    got = {r.key: r.state for r in _task_runs(home, _run_id(head[0])).itertuples()}
    assert got == {"first": "done", "second": "cancelled"}
    assert "second: cancelled" in err and "drained from outside" in err
