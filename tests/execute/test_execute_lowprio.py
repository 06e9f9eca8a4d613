"""SCHED_IDLE workers and Linux PSI: real processes, a fixture /proc, and the pure policy."""

from __future__ import annotations

import math
import os
import sys
import threading

import pytest

from workbench.errors import ConfigError
from workbench.execute import Command, Governor, ProcessBackend, ThrottledExecutor
from workbench.execute._pressure import PressureReader
from workbench.execute._sched import current_policy, lower_priority

GiB = 2**30
PY = sys.executable
linux_only = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
POLICY = "import os; print(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))"


def policy_of_this_thread() -> str:
    return current_policy(0)


# ------------------------------------------------------------------ SCHED_IDLE, real ---
@linux_only
def test_cpu_profile_runs_worker_processes_and_their_children_under_sched_idle():
    with ThrottledExecutor(profile="cpu", max_workers=1) as ex:
        assert ex.submit(os.sched_getscheduler, 0).result(30) == os.SCHED_IDLE
        assert ex.submit(os.nice, 0).result(30) == min(os.nice(0) + 10, 19)  # nice is kept as well
        # a subprocess started by a task inherits the class
        out = ex.submit(__import__("subprocess").check_output, [PY, "-c", POLICY], text=True).result(30)
        assert int(out.split()[0]) == os.SCHED_IDLE
    # off for the io profile and when asked
    with ThrottledExecutor(profile="io", backend="process", max_workers=1) as ex:
        assert ex.submit(os.sched_getscheduler, 0).result(30) == os.SCHED_OTHER
    with ThrottledExecutor(profile="cpu", sched_idle=False, max_workers=1) as ex:
        assert ex.submit(os.sched_getscheduler, 0).result(30) == os.SCHED_OTHER
    with ThrottledExecutor(backend=ProcessBackend(sched_idle=True), max_workers=1) as ex:
        assert ex.submit(os.sched_getscheduler, 0).result(30) == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller itself is untouched


@linux_only
def test_command_tasks_follow_the_profile_unless_they_say_otherwise():
    with ThrottledExecutor(backend="command", profile="cpu", max_workers=1) as ex:
        idle = ex.submit(Command([PY, "-c", POLICY])).result(30)
        normal = ex.submit(Command([PY, "-c", POLICY], sched_idle=False)).result(30)
    assert int(idle.stdout.split()[0]) == os.SCHED_IDLE
    assert int(normal.stdout.split()[0]) == os.SCHED_OTHER
    with ThrottledExecutor(backend="command", max_workers=1) as ex:  # mixed profile: off ...
        assert int(ex.submit(Command([PY, "-c", POLICY])).result(30).stdout.split()[0]) == os.SCHED_OTHER
        opted = ex.submit(Command([PY, "-c", POLICY], sched_idle=True, nice=3)).result(30)  # ... unless asked
    assert [int(x) for x in opted.stdout.split()] == [os.SCHED_IDLE, min(os.nice(0) + 3, 19)]


@linux_only
def test_thread_slots_are_lowered_only_on_explicit_request():
    with ThrottledExecutor(max_workers=1, sched_idle=True) as ex:
        assert ex.submit(policy_of_this_thread).result(30) == "SCHED_IDLE"
    with ThrottledExecutor(max_workers=1, profile="cpu", backend="thread") as ex:  # GIL: not by default
        assert ex.submit(policy_of_this_thread).result(30) == "SCHED_OTHER"
    assert current_policy(0) == "SCHED_OTHER"
    with pytest.raises(ConfigError, match="sched_idle"):
        ThrottledExecutor(max_workers=1, sched_idle="yes")


@linux_only
def test_falls_back_to_nice_19_where_sched_idle_is_refused(monkeypatch):
    def refuse(*args):
        raise PermissionError(1, "Operation not permitted")

    result = {}

    def in_thread():  # a thread of our own, so the test changes nothing else
        monkeypatch.setattr(os, "sched_setscheduler", refuse)
        tid = threading.get_native_id()
        result["applied"] = lower_priority(True, None, tid)
        result["nice"] = os.getpriority(os.PRIO_PROCESS, tid)
        result["policy"] = current_policy(tid)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert result == {"applied": "nice 19 (SCHED_IDLE not permitted)", "nice": 19, "policy": "SCHED_OTHER"}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) != 19


# ------------------------------------------------------------------- PSI reader ---
def write_psi(root, cpu_total: int, mem_total: int, cpu_avg10: float = 50.0) -> None:
    (root / "pressure").mkdir(exist_ok=True)
    (root / "pressure" / "cpu").write_text(
        f"some avg10={cpu_avg10:.2f} avg60=1.00 avg300=0.50 total={cpu_total}\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    (root / "pressure" / "memory").write_text(
        f"some avg10=0.00 avg60=0.00 avg300=0.00 total={mem_total}\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")


def test_pressure_reader_gives_the_stalled_share_of_each_interval(tmp_path):
    clock = iter([10.0, 10.5, 11.5, 12.0]).__next__
    reader = PressureReader(str(tmp_path), clock=clock)
    write_psi(tmp_path, cpu_total=1_000_000, mem_total=0)
    assert reader.read() == {"cpu": None, "memory": None}  # no interval yet, avg10 is stale history
    write_psi(tmp_path, cpu_total=1_250_000, mem_total=50_000)  # 0.25 s of 0.5 s stalled
    assert reader.read() == pytest.approx({"cpu": 0.5, "memory": 0.1})
    write_psi(tmp_path, cpu_total=1_250_000, mem_total=50_000)
    assert reader.read() == {"cpu": 0.0, "memory": 0.0}
    (tmp_path / "pressure" / "cpu").write_text("garbage\n")
    out = reader.read()
    assert out == {"cpu": None, "memory": 0.0}
    assert reader.status.startswith("unavailable") and "cpu" in reader.status


def test_missing_proc_pressure_degrades_gracefully(tmp_path):
    reader = PressureReader(str(tmp_path / "no-such-proc"))
    assert reader.read() == {"cpu": None, "memory": None}
    assert "unavailable" in reader.status and "FileNotFoundError" in reader.status
    # the executor (with its governor) runs normally and says why pressure is absent
    with ThrottledExecutor(max_workers=2, governor=Governor(max_workers=2), proc=str(tmp_path),
                           sample_interval=0.05) as ex:
        assert sum(ex.map(abs, range(-20, 0))) == sum(range(1, 21))
        s = ex.stats()
    assert s["cpu_pressure"] is None and s["memory_pressure"] is None
    assert "unavailable" in s["pressure_status"]
    assert s["done"] == 20 and 1 <= s["limit"] <= 2


@pytest.mark.skipif(not os.path.exists("/proc/pressure/cpu"), reason="this kernel has no PSI")
def test_the_sampler_feeds_real_pressure_to_the_governor():
    gov = Governor(max_workers=2)
    with ThrottledExecutor(governor=gov, sample_interval=0.05) as ex:
        ex.submit(sum, range(10)).result(10)
        import time

        time.sleep(0.3)
        s = ex.stats()
    assert s["pressure_status"] == "ok"
    assert 0.0 <= s["cpu_pressure"] <= 1.0 and 0.0 <= s["memory_pressure"] <= 1.0
    assert not math.isnan(gov.cpu_pressure_)


# ------------------------------------------------------------ the pure policy ---
def quota_machine(gov: Governor, quota: list[int], seconds_per_step: float = 0.25):
    """Closed loop on a machine whose CPU *utilisation* stays low (each worker 5 % of it)
    but whose run queue stalls once more than ``quota`` workers run — a cgroup CPU quota,
    or cores held by other tenants. Utilisation never crosses the CPU target, so only
    PSI can see the problem. Always demand."""
    limits = []
    for i, q in enumerate(quota):
        running = gov.limit_ if hasattr(gov, "limit_") else 1
        pressure = 0.85 if running > q else 0.02
        limits.append(gov.update(i * seconds_per_step, 0.05 * running, GiB, 16 * GiB, running=running,
                                 queued=100, cpu_pressure=pressure, mem_pressure=0.0))
    return limits


def changes(xs: list[int]) -> int:
    return sum(1 for a, b in zip(xs, xs[1:], strict=False) if a != b)


def test_cpu_pressure_lowers_the_limit_holds_it_and_recovers():
    gov = Governor(cpu_target=0.9, min_workers=1, max_workers=8, initial_workers=1, cooldown=1.0,
                   smoothing=1.0, pressure_hold=30.0)
    steps = 4  # samples per second
    quota = [4] * (240 * steps) + [2] * (120 * steps) + [8] * (120 * steps)
    limits = quota_machine(gov, quota)
    first, second, third = limits[: 240 * steps], limits[240 * steps: 360 * steps], limits[360 * steps:]
    # phase 1: climbs, overshoots once to 5, settles on 4; the retries at 5 back off (30 s, 60 s, 120 s)
    assert max(first) == 5 and first[-1] == 4
    settled = first[20 * steps:]
    assert sum(x == 4 for x in settled) / len(settled) > 0.95
    assert changes(settled) <= 6, changes(settled)  # three short probes in 220 s, not a flap per cooldown
    # phase 2: the quota halves -> down to 2 within a few seconds, and stays there
    assert second[5 * steps] == 2 and sum(x == 2 for x in second) / len(second) > 0.9
    # phase 3: the pressure is gone -> back up to max_workers once the hold has passed
    assert third[-1] == 8 and max(third) == 8
    cut = [d for d in gov.decisions_ if d.reason.startswith("CPU pressure")]
    assert cut and all(d.cpu_pressure == pytest.approx(0.85) and d.limit == d.previous - 1 for d in cut)
    assert "run queue" in cut[0].reason and "no return to" in cut[0].reason
    assert all(d.cpu < 0.9 for d in cut)  # utilisation alone would never have cut


def test_pressure_hold_doubles_on_repeated_cuts_and_is_stated():
    gov = Governor(max_workers=4, initial_workers=3, smoothing=1.0, cooldown=1.0, pressure_hold=10.0)
    limits = quota_machine(gov, [2] * (100 * 4))
    cuts = [d.ts for d in gov.decisions_ if d.reason.startswith("CPU pressure")]
    assert len(cuts) >= 3
    gaps = [b - a for a, b in zip(cuts[1:], cuts[2:], strict=False)]
    assert gaps == sorted(gaps) and gaps[-1] >= 2 * gaps[0] - 1.0  # backing off, not flapping
    assert "no return to 3 for 10s" in gov.decisions_[1].reason
    assert limits[-1] == 2 and "CPU pressure cut the limit from 3" in gov.holding_


def test_memory_pressure_cuts_by_a_quarter_and_blocks_increases():
    gov = Governor(max_workers=8, initial_workers=8, smoothing=1.0, cooldown=1.0)
    gov.update(0.0, 0.1, GiB, 16 * GiB, running=8, queued=9, cpu_pressure=0.0, mem_pressure=0.4)
    assert gov.limit_ == 6 and "memory pressure" in gov.reason_
    gov.update(5.0, 0.1, GiB, 16 * GiB, running=6, queued=9, cpu_pressure=0.0, mem_pressure=0.08)
    assert gov.limit_ == 6 and "memory pressure" in gov.holding_  # inside target - hysteresis band
    gov.update(10.0, 0.1, GiB, 16 * GiB, running=6, queued=9, cpu_pressure=0.0, mem_pressure=0.0)
    assert gov.limit_ == 7


def test_absent_pressure_is_ignored_and_targets_can_switch_it_off():
    # None (no PSI) or a None target: the policy is the CPU/memory one, unchanged
    for kwargs, pressure in (({}, None), ({"cpu_pressure_target": None, "mem_pressure_target": None}, 0.9)):
        gov = Governor(max_workers=4, initial_workers=1, smoothing=1.0, cooldown=1.0, **kwargs)
        for i in range(40):
            running = getattr(gov, "limit_", 1)
            gov.update(i * 0.5, 0.1 * running, GiB, 16 * GiB, running=running, queued=10,
                       cpu_pressure=pressure, mem_pressure=pressure)
        assert gov.limit_ == 4
    with pytest.raises(ConfigError, match="cpu_pressure_target"):
        Governor(cpu_pressure_target=30).update(0, 0, 0, 1, running=0, queued=0)
    gov.set_limits(cpu_pressure_target=0.2, pressure_hold=5.0)
    assert gov.cpu_pressure_target == 0.2


def test_one_short_interval_of_pressure_does_not_cut():
    gov = Governor(max_workers=4, initial_workers=2, smoothing=1.0, cooldown=1.0)
    gov.update(0.0, 0.5, GiB, 16 * GiB, running=2, queued=0, cpu_pressure=None)
    gov.update(0.1, 0.5, GiB, 16 * GiB, running=2, queued=0, cpu_pressure=0.9)  # first reading
    gov.update(0.2, 0.5, GiB, 16 * GiB, running=2, queued=0, cpu_pressure=0.0)  # gone again
    gov.update(0.7, 0.5, GiB, 16 * GiB, running=2, queued=0, cpu_pressure=0.1)
    assert gov.limit_ == 2
    gov.update(0.8, 0.5, GiB, 16 * GiB, running=2, queued=0, cpu_pressure=0.9)  # measured 0.7 s: acts
    assert gov.limit_ == 1 and gov.reason_.startswith("CPU pressure")
