"""Retries are not dropped silently (issue 10): the retry budget delays what it cannot take now."""

from __future__ import annotations

import threading
import time
from concurrent.futures import wait

import pytest

from workbench.errors import ConfigError
from workbench.execute import MemorySink, Retry, RetryBudget, ThrottledExecutor


def test_sixty_tasks_forty_failing_once_all_succeed_with_the_default_budget():
    failed_once: set[int] = set()
    lock = threading.Lock()

    def task(i: int) -> int:
        if i < 40:
            with lock:
                first = i not in failed_once
                failed_once.add(i)
            if first:
                raise ConnectionError(f"reset by peer ({i})")
        return i

    sink = MemorySink()
    with ThrottledExecutor(max_workers=8, sink=sink, seed=1) as ex:
        futs = [ex.options(retry=Retry(attempts=3, on=(ConnectionError,))).submit(task, i) for i in range(60)]
        wait(futs, timeout=30)
        stats = ex.stats()
    assert [f.result() for f in futs] == list(range(60))
    assert stats["done"] == 60 and stats["failed"] == 0 and stats["retried"] == 40
    assert stats["retry_budget_exhausted"] == 0
    runs = {r.key: r for r in sink.runs}
    assert len(runs) == 60
    assert sorted(r.attempts for r in runs.values()) == [1] * 20 + [2] * 40
    # the bucket holds 10 + 0.2 x (submitted so far, <= 60) retries, at least 10, and refills at that many
    # per second (it refills while the failures come in): the rest were delayed (not dropped), and say so
    delayed = [r for r in runs.values() if r.notes]
    assert stats["retry_budget_delayed"] == len(delayed) and 1 <= len(delayed) <= 40 - 10
    assert all("delayed" in r.notes and "retry budget" in r.notes and r.state == "done" for r in delayed)


def test_the_budget_spaces_out_retries_when_a_dependency_is_hard_down():
    starts: list[float] = []

    def down() -> None:
        starts.append(time.monotonic())
        raise ConnectionError("database refused the connection")

    budget = RetryBudget(ratio=0.0, min_retries=4, window=0.5)
    sink = MemorySink()
    t0 = time.monotonic()
    with ThrottledExecutor(max_workers=4, retry_budget=budget, sink=sink, seed=2) as ex:
        futs = [ex.options(retry=Retry(attempts=3, backoff=0)).submit(down) for _ in range(8)]
        wait(futs, timeout=30)
        stats = ex.stats()
    took = time.monotonic() - t0
    # every asked-for try happened (8 tasks x 3), none was dropped...
    assert len(starts) == 24 and stats["retried"] == 16 and stats["failed"] == 8
    assert stats["retry_budget_exhausted"] == 0
    # ...but after a burst of 4 (the bucket) retries started at its refill rate, 4 per 0.5 s (16: >= 1.5 s)
    retries = sorted(starts)[8:]
    assert took >= 1.4
    for i, t in enumerate(retries[4:], start=4):
        assert t - retries[0] >= (i - 4) * 0.125 - 0.03, (i, [round(u - retries[0], 3) for u in retries])
    # the tasks' exceptions and records say that the budget delayed them
    exc = futs[-1].exception()
    assert isinstance(exc, ConnectionError)
    notes = getattr(exc, "__notes__", [])
    assert any("delayed" in n and "retry budget" in n for n in notes), notes
    assert sum(1 for r in sink.runs if r.notes and "delayed" in r.notes) >= 4


def test_a_refused_retry_is_said_in_the_record_and_the_exception():
    def down() -> None:
        raise ConnectionError("down")

    sink = MemorySink()
    budget = RetryBudget(ratio=0.0, min_retries=1, window=60.0, max_delay=0.1)
    with ThrottledExecutor(max_workers=1, retry_budget=budget, sink=sink) as ex:
        futs = [ex.options(retry=Retry(attempts=2, backoff=0), key=f"t{i}").submit(down) for i in range(3)]
        wait(futs, timeout=10)
        stats = ex.stats()
    assert stats["retried"] == 1 and stats["retry_budget_exhausted"] == 2 and stats["failed"] == 3
    refused = [r for r in sink.runs if r.notes and "refused" in r.notes]
    assert len(refused) == 2 and all(r.attempts == 1 for r in refused)
    assert "max_delay=0.1" in refused[0].notes
    exc = next(f.exception() for f in futs if getattr(f.exception(), "__notes__", None))
    assert "refused by the executor's retry budget" in exc.__notes__[0]


def test_the_budget_policy_with_a_clock():
    b = RetryBudget(ratio=0.5, min_retries=2, window=10.0)
    # a bucket of 2 + 0.5 x 4 submitted = 4 retries, refilled at 4 per 10 s (one per 2.5 s)
    assert [b.grant(0.0, 4) for _ in range(4)] == [0.0, 0.0, 0.0, 0.0]
    assert b.grant(0.0, 4) == 2.5
    assert b.grant(1.0, 4, at=3.0) == 5.0  # wanted at 3 s (its back-off), can run at 5 s
    assert b.grant(1.0, 4, at=60.0) == 60.0  # by then the bucket has refilled
    assert b.delayed == 2 and b.used == 7
    # old submissions leave the window: only min_retries per window then
    b2 = RetryBudget(ratio=1.0, min_retries=1, window=1.0)
    b2.mark(0.0, 0)
    b2.mark(0.5, 10)
    assert b2.capacity(0.6, 10) == 11
    b2.mark(1.2, 10)
    b2.mark(1.7, 10)
    assert b2.capacity(1.8, 10) == 1
    assert RetryBudget(ratio=0, min_retries=0).grant(0.0, 100) is None
    with pytest.raises(ConfigError, match="window"):
        RetryBudget(window=0)
