"""Process backend with real processes that crash, hang and eat memory."""

from __future__ import annotations

import os
import time
from concurrent.futures import wait

import psutil
import pytest
from _exec_tasks import (
    allocate,
    burn,
    exit_hard,
    fail_value,
    hang_with_child,
    pid_of_worker,
    segfault,
    sigkill_self,
    square,
    unpicklable_error,
)

from workbench.execute import (
    MemoryLimitError,
    MemorySink,
    ProcessBackend,
    RemoteTaskError,
    Retry,
    TaskTimeoutError,
    ThrottledExecutor,
    WorkerDiedError,
)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_crashes_fail_only_their_task_and_the_pool_recovers(tmp_path):
    sink = MemorySink()
    ex = ThrottledExecutor(max_workers=2, backend="process", sink=sink)
    with ex:
        ok_before = [ex.submit(square, i) for i in range(10)]
        crashes = [ex.submit(exit_hard, 7), ex.submit(segfault), ex.submit(sigkill_self)]
        ok_after = [ex.submit(square, i) for i in range(10, 20)]
        wait(ok_before + crashes + ok_after, 60)
        assert [f.result() for f in ok_before + ok_after] == [i * i for i in range(20)]
        errs = [f.exception() for f in crashes]
        assert all(isinstance(e, WorkerDiedError) for e in errs), errs
        assert errs[0].exitcode == 7
        assert "SIGSEGV" in str(errs[1]) and errs[2].exitcode == -9 and "OOM" in str(errs[2])
        # exceptions travel back, including ones that cannot be pickled
        assert isinstance(ex.submit(fail_value).exception(), ValueError)
        assert isinstance(ex.submit(unpicklable_error).exception(), RemoteTaskError)
        assert ex.submit(lambda: 41 + 1).result() == 42  # cloudpickle ships lambdas
        pids = set(ex._backend.pids())
        assert pids
    assert not any(alive(p) for p in pids), "worker processes outlived shutdown"
    assert len(sink.runs) == 26
    rec = [r for r in sink.runs if r.state == "done" and r.name == "square"]
    assert all(r.cpu_time is not None and r.peak_rss and r.peak_rss > 1e6 for r in rec)


def test_timeout_kills_the_whole_process_tree(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    sink = MemorySink()
    with ThrottledExecutor(max_workers=1, backend="process", sink=sink) as ex:
        worker = ex.submit(pid_of_worker).result(30)
        t0 = time.monotonic()
        fut = ex.options(timeout=1.0).submit(hang_with_child, str(pidfile))
        with pytest.raises(TaskTimeoutError):
            fut.result(30)
        assert time.monotonic() - t0 < 10
        grandchild = int(pidfile.read_text())
        time.sleep(0.2)
        assert not alive(worker) and not alive(grandchild)
        assert ex.submit(pid_of_worker).result(30) != worker  # a fresh worker took over
    assert [r.state for r in sink.runs][-2] == "timed_out"


def test_memory_limit_kills_a_hungry_task_and_learns_memory_per_name():
    with ThrottledExecutor(backend=ProcessBackend(), governor=None, max_workers=1) as ex:
        fut = ex.options(resources={"memory": 100 * 2**20}).submit(allocate, 400, 1.0)
        err = fut.exception(30)
        assert isinstance(err, MemoryLimitError) and isinstance(err, MemoryError)
        assert ex.submit(allocate, 20).result(30) == 20 * 2**20


def test_governor_learns_task_memory_from_process_runs():
    from workbench.execute import Governor

    gov = Governor(max_workers=2, initial_workers=2)
    with ThrottledExecutor(backend="process", governor=gov) as ex:
        ex.options(name="hungry").submit(allocate, 150).result(30)
        assert gov.estimate("hungry", None) >= 140 * 2**20
        ex.options(name="small").submit(allocate, 5).result(30)
        assert gov.estimate("small", None) < 50 * 2**20


def test_process_retries_a_dead_worker_and_measures_cpu():
    sink = MemorySink()
    with ThrottledExecutor(max_workers=2, backend="process", sink=sink) as ex:
        f = ex.options(retry=Retry(attempts=2, backoff=0)).submit(sigkill_self)
        assert isinstance(f.exception(30), WorkerDiedError)
        b = ex.submit(burn, 0.3)
        b.result(30)
    runs = {r.name: r for r in sink.runs}
    assert runs["sigkill_self"].attempts == 2
    assert runs["burn"].cpu_time >= 0.25
    assert os.getpid() == psutil.Process().pid  # the parent survived all of this


def test_cpu_profile_uses_niced_worker_processes():
    with ThrottledExecutor(profile="cpu") as ex:
        assert ex._backend.name == "process" and ex.governor is not None
        assert ex.submit(os.nice, 0).result(30) == min(os.nice(0) + 10, 19)
