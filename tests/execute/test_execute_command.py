"""Command tasks: real subprocesses with streamed output, limits and killable trees."""

from __future__ import annotations

import os
import sys
import time

import psutil
import pytest

from workbench.execute import (
    Command,
    CommandError,
    MemoryLimitError,
    MemorySink,
    Retry,
    TaskTimeoutError,
    ThrottledExecutor,
)
from workbench.execute._command import run_command

PY = sys.executable


def test_streams_output_with_cwd_env_nice_and_affinity(tmp_path):
    lines = []
    script = (
        "import os, sys, time\n"
        "print('cwd', os.getcwd(), flush=True)\n"
        "print('env', os.environ['WB_TEST'], flush=True)\n"
        "print('nice', os.nice(0), flush=True)\n"
        "print('cpus', sorted(os.sched_getaffinity(0)), flush=True)\n"
        "print('oops', file=sys.stderr, flush=True)\n"
    )
    sink = MemorySink()
    with ThrottledExecutor(max_workers=2, backend="command", sink=sink) as ex:
        cmd = Command([PY, "-c", script], cwd=tmp_path, env={"WB_TEST": "42"}, nice=7,
                      cpu_affinity=[0], on_stdout=lines.append)
        res = ex.submit(cmd).result(30)
    assert res.returncode == 0
    assert f"cwd {tmp_path}\n" in res.stdout and "env 42\n" in res.stdout
    assert f"nice {min(os.nice(0) + 7, 19)}\n" in res.stdout and "cpus [0]\n" in res.stdout
    assert res.stderr == "oops\n"
    assert lines == res.stdout.splitlines(keepends=True)  # streamed line by line
    assert res.peak_rss > 1e6 and res.cpu_time > 0
    (run,) = sink.runs
    assert run.name == os.path.basename(PY) and run.peak_rss == res.peak_rss


def test_exit_code_and_check():
    with ThrottledExecutor(max_workers=2) as ex:
        err = ex.submit(Command([PY, "-c", "import sys; sys.stderr.write('bad'); sys.exit(3)"])).exception(30)
        assert isinstance(err, CommandError) and err.returncode == 3 and "bad" in err.stderr
        res = ex.submit(Command([PY, "-c", "raise SystemExit(4)"], check=False)).result(30)
        assert res.returncode == 4
        # exit code 75 (EX_TEMPFAIL) is transient: retried
        f = ex.options(retry=Retry(attempts=2, backoff=0)).submit(Command(["sh", "-c", "exit 75"]))
        assert isinstance(f.exception(30), CommandError)
        assert ex.stats()["retried"] == 1


def test_memory_limit_makes_allocation_fail():
    with ThrottledExecutor(max_workers=1) as ex:
        cmd = Command([PY, "-c", "x = bytearray(600 * 2**20)"], memory_limit=300 * 2**20)
        err = ex.submit(cmd).exception(30)
    assert isinstance(err, MemoryLimitError) and err.memory_limit == 300 * 2**20


def test_timeout_kills_command_tree_and_leaves_no_orphans(tmp_path):
    pidfile = tmp_path / "pids"
    script = (
        f"import subprocess, sys, time\n"
        f"c = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(c.pid))\n"
        f"time.sleep(600)\n"
    )
    with ThrottledExecutor(max_workers=1) as ex:
        t0 = time.monotonic()
        fut = ex.options(timeout=1.0).submit(Command([PY, "-c", script]))
        with pytest.raises(TaskTimeoutError):
            fut.result(30)
        assert time.monotonic() - t0 < 5
    grandchild = int(pidfile.read_text())
    time.sleep(0.1)
    if psutil.pid_exists(grandchild):
        p = psutil.Process(grandchild)
        assert p.status() == psutil.STATUS_ZOMBIE, (p.status(), p.ppid(), p.cmdline(), os.getpgid(grandchild))
    assert [p for p in psutil.Process().children(recursive=True) if "sleep(600)" in " ".join(p.cmdline())] == []


def test_limits_are_applied_before_the_command_runs_or_it_never_runs(tmp_path):
    marker = tmp_path / "ran"
    script = f"open({str(marker)!r}, 'w').write('x')"
    # an impossible CPU set: applying it fails, so the command must not have started
    with pytest.raises(OSError):
        run_command(Command([PY, "-c", script], cpu_affinity=[4096]), None)
    assert not marker.exists()
    # applied limits are in force from the command's first instruction
    probe = "import os, resource; print(os.nice(0), sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_AS)[0])"
    res = run_command(Command([PY, "-c", probe], nice=2, cpu_affinity=[0], memory_limit=2 << 30), None)
    assert res.stdout == f"{min(os.nice(0) + 2, 19)} [0] {2 << 30}\n"
    with pytest.raises(FileNotFoundError):
        run_command(Command(["no-such-program-here"], nice=1), None)
