"""The process collector against real child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from workbench.collect import ProcessCollector, Sample
from workbench.labels import parse_labels

SLEEPER = "import time; time.sleep(60)"
SPINNER = "while True: pass"


@pytest.fixture
def spawn():
    children: list[subprocess.Popen] = []

    def start(code: str, *args: str) -> subprocess.Popen:
        child = subprocess.Popen([sys.executable, "-c", code, *args])
        children.append(child)
        # wait until the interpreter is up, so name and cmdline are final
        psutil.Process(child.pid).cpu_times()
        return child

    yield start
    for child in children:
        child.kill()
        child.wait()


def _series_of(samples: list[Sample], pid: int) -> dict[str, Sample]:
    out = {}
    for s in samples:
        if s.metric.startswith("process.") and parse_labels(s.labels).get("pid") == str(pid):
            out[s.metric + ("/" + parse_labels(s.labels).get("direction", ""))] = s
    return out


def test_series_of_an_exited_process_disappear(spawn):
    child = spawn(SLEEPER, "--password=hunter2", "token=abc123")
    c = ProcessCollector(top_n=100_000)  # everyone is "top": the child must be there
    first = _series_of(c.collect(), child.pid)
    assert {"process.memory.usage/", "process.thread.count/"} <= set(first)
    labels = parse_labels(first["process.memory.usage/"].labels)
    assert labels["name"].startswith("python")
    assert "--password=*** token=***" in labels["cmdline"]
    assert "hunter2" not in labels["cmdline"] and "abc123" not in labels["cmdline"]
    assert first["process.memory.usage/"].value > 1_000_000  # an interpreter's RSS
    assert first["process.thread.count/"].value == 1.0

    child.kill()
    child.wait()
    second = c.collect()
    assert _series_of(second, child.pid) == {}
    assert child.pid not in c._handles  # state dropped with the process


class RacingCollector(ProcessCollector):
    """Reproduces the race every tick risks: a process exits after being listed."""

    victim: subprocess.Popen | None = None

    def _pids(self) -> list[int]:
        pids = super()._pids()
        if self.victim is not None:
            self.victim.kill()
            self.victim.wait()
            self.victim = None
        return pids


def test_process_vanishing_mid_tick_is_counted_not_raised(spawn):
    child = spawn(SLEEPER)
    c = RacingCollector(top_n=100_000)
    assert _series_of(c.collect(), child.pid)  # known, with a handle kept
    c.victim = child
    samples = c.collect()
    assert c.errors.get("NoSuchProcess", 0) >= 1
    assert _series_of(samples, child.pid) == {}
    assert any(s.metric == "system.processes.count" for s in samples)


class OnlyCollector(ProcessCollector):
    """Visits only the given PIDs, so other processes on a busy machine cannot interfere."""

    only: list[int] = []

    def _pids(self) -> list[int]:
        return list(self.only)


def test_zombie_is_counted_by_status_without_error(spawn):
    child = spawn(SLEEPER)
    c = OnlyCollector(top_n=10)
    c.only = [child.pid]
    assert _series_of(c.collect(), child.pid)
    child.kill()
    deadline = time.monotonic() + 5
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    samples = c.collect()  # not reaped yet: a zombie
    assert samples == [Sample("system.processes.count", "status=zombie", 1.0)]
    assert c.errors == {}


def test_busy_process_ranks_first_by_cpu(spawn):
    busy = spawn(SPINNER)
    idle = [spawn(SLEEPER) for _ in range(3)]
    c = OnlyCollector(top_n=1)  # only our children: other load on the machine cannot interfere
    c.only = [busy.pid] + [p.pid for p in idle]
    c.collect()
    time.sleep(0.5)
    samples = c.collect()
    cpu = sorted(
        (s for s in samples if s.metric == "process.cpu.utilization"), key=lambda s: -s.value
    )
    assert parse_labels(cpu[0].labels)["pid"] == str(busy.pid)
    ncpu = psutil.cpu_count()
    # it had at most one core of ncpu: utilisation is a fraction of the machine
    assert 0.1 / ncpu < cpu[0].value <= 1.0 / ncpu + 0.05
    # top 1 by CPU plus top 1 by memory: at most two processes described
    pids = {parse_labels(s.labels)["pid"] for s in samples if s.metric.startswith("process.")}
    assert 1 <= len(pids) <= 2


def test_series_stay_bounded_on_the_real_machine(spawn):
    for _ in range(5):
        spawn(SLEEPER)
    c = ProcessCollector(top_n=3)
    c.collect()
    time.sleep(0.2)
    samples = c.collect()
    pids = {parse_labels(s.labels)["pid"] for s in samples if s.metric.startswith("process.")}
    assert 1 <= len(pids) <= 2 * 3
    assert len(samples) <= 20 + 6 * 5  # statuses + (cpu, rss, threads, io read/write) per process


def test_process_disk_io_rate_of_a_writer(spawn, tmp_path):
    target = tmp_path / "out.bin"
    code = (
        "import os, sys, time\n"
        "with open(sys.argv[1], 'wb', buffering=0) as f:\n"
        "    while True:\n"
        "        f.write(b'x' * 1_000_000); os.fsync(f.fileno()); f.seek(0); time.sleep(0.02)\n"
    )
    writer = spawn(code, str(target))
    c = ProcessCollector(top_n=100_000)
    c.collect()
    time.sleep(0.5)
    mine = _series_of(c.collect(), writer.pid)
    assert mine["process.disk.io/write"].value > 1_000_000  # ~1 MB per 20-40 ms, > 1 MB/s
    assert mine["process.disk.io/read"].value >= 0


def _denied_io_pids() -> set[int]:
    denied = set()
    for proc in psutil.process_iter():
        try:
            proc.io_counters()
        except psutil.AccessDenied:
            denied.add(proc.pid)
        except (psutil.NoSuchProcess, AttributeError):
            pass
    return denied


def test_access_denied_is_counted_and_the_rest_still_reported():
    denied = _denied_io_pids()
    if not denied:
        pytest.skip("every process's I/O counters are readable here (no AccessDenied to provoke)")
    c = OnlyCollector(top_n=100)
    c.only = sorted(denied) + [os.getpid()]
    samples = c.collect()
    assert c.errors.get("AccessDenied", 0) >= 1
    # the denied process still has its memory series, and we still have ours
    assert _series_of(samples, os.getpid())["process.memory.usage/"].value > 0
