"""Property-based: random mixes of tasks always end cleanly, each with one record."""

from __future__ import annotations

import random
import time
from concurrent.futures import CancelledError

import psutil
import pytest
from _exec_tasks import exit_hard, square
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.execute import (
    TERMINAL_STATES,
    DependencyFailedError,
    MemorySink,
    QueueFullError,
    Retry,
    TaskTimeoutError,
    ThrottledExecutor,
)

KINDS = ["ok", "ok", "ok", "fail", "flaky", "slow", "spin"]


def spin():
    while True:
        pass


def make_task(kind: str, state: dict, key: str):
    if kind == "ok":
        return lambda: key
    if kind == "fail":
        def fail():
            raise ValueError(key)
        return fail
    if kind == "flaky":
        def flaky():
            state[key] = state.get(key, 0) + 1
            if state[key] < 2:
                raise ConnectionError(key)
            return key
        return flaky
    if kind == "slow":
        return lambda: (time.sleep(0.002), key)[1]
    return spin  # only ever submitted with a timeout


task_spec = st.tuples(
    st.sampled_from(KINDS),
    st.integers(-3, 3),  # priority
    st.lists(st.integers(1, 30), max_size=2),  # dependencies: offsets back to earlier tasks
    st.booleans(),  # retry
    st.integers(0, 19),  # 0 -> cancel right after submit
)


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(task_spec, min_size=10, max_size=300), workers=st.integers(1, 4),
       queue_size=st.sampled_from([8, 64, 10_000]), backpressure=st.sampled_from(["block", "reject"]),
       ageing=st.sampled_from([None, 0.5]))
def test_random_mixes_resolve_and_record_exactly_once(specs, workers, queue_size, backpressure, ageing):
    sink = MemorySink(maxlen=None)
    state: dict[str, int] = {}
    futures = {}
    rejected = 0
    with ThrottledExecutor(max_workers=workers, queue_size=queue_size, backpressure=backpressure,
                           block_timeout=5, ageing=ageing, sink=sink, seed=0) as ex:
        for i, (kind, prio, deps, retry, cancel) in enumerate(specs):
            key = f"t{i}"
            after = [f"t{i - d}" for d in deps if i - d >= 0 and f"t{i - d}" in futures]
            try:
                fut = ex.options(
                    key=key, priority=prio, after=after,
                    timeout=0.05 if kind == "spin" else None,
                    retry=Retry(attempts=2, backoff=0.001) if retry else None,
                ).submit(make_task(kind, state, key))
            except QueueFullError:
                rejected += 1
                continue
            futures[key] = (fut, kind, after)
            if cancel == 0:
                if i % 2:
                    fut.cancel()
                else:
                    ex.cancel(key=key)
    assert all(f.done() for f, _, _ in futures.values()), "a future did not resolve"
    runs = list(sink.runs)
    assert len(runs) == len(futures) + rejected
    by_key = {r.key: r for r in runs if r.state != "rejected"}
    assert len(by_key) == len(futures), "some task has two records"
    assert all(r.state in TERMINAL_STATES for r in runs)
    for key, (fut, kind, after) in futures.items():
        run = by_key[key]
        if run.state == "done":
            assert fut.result() == key
            assert kind in ("ok", "flaky", "slow")
            for dep in after:  # dependencies really finished first
                assert by_key[dep].state == "done" and by_key[dep].ended <= run.started
        elif run.state == "cancelled":
            with pytest.raises(CancelledError):
                fut.result()
        elif run.state == "timed_out":
            assert kind == "spin" and isinstance(fut.exception(), TaskTimeoutError)
        else:
            exc = fut.exception()
            assert isinstance(exc, (ValueError, ConnectionError, DependencyFailedError)), exc
    assert backpressure == "reject" or rejected == 0


def test_two_thousand_tasks_with_dependencies_finish():
    rng = random.Random(5)
    sink = MemorySink(maxlen=None)
    with ThrottledExecutor(max_workers=4, sink=sink) as ex:
        futs = []
        for i in range(2000):
            after = [futs[rng.randrange(i)]] if i and rng.random() < 0.3 else []
            futs.append(ex.options(priority=rng.randint(0, 5), after=after).submit(square, i))
    assert [f.result() for f in futs] == [i * i for i in range(2000)]
    assert len(sink.runs) == 2000 and {r.state for r in sink.runs} == {"done"}


@settings(max_examples=3, deadline=None, derandomize=True, database=None)
@given(plan=st.lists(st.sampled_from(["ok", "crash", "ok", "hang"]), min_size=3, max_size=8))
def test_process_mixes_leave_no_orphan(plan):
    sink = MemorySink(maxlen=None)
    with ThrottledExecutor(max_workers=2, backend="process", sink=sink) as ex:
        futs = []
        for i, kind in enumerate(plan):
            if kind == "ok":
                futs.append(ex.submit(square, i))
            elif kind == "crash":
                futs.append(ex.submit(exit_hard, 9))
            else:
                futs.append(ex.options(timeout=0.3).submit(time.sleep, 30))
        pids = set()
        for f in futs:
            f.exception(60)
            pids |= set(ex._backend.pids())
    time.sleep(0.05)
    leftover = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert leftover == []
    assert len(sink.runs) == len(plan)
