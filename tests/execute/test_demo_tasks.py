"""The executor notebook's demo batch: task results by direct computation, its task_runs by direct SQL."""

from __future__ import annotations

import math

import pytest

from workbench.errors import ConfigError
from workbench.execute import StoreSink, ThrottledExecutor
from workbench.execute import _demo_tasks as demo
from workbench.store import Store


def _primes(n: int) -> int:
    sieve = bytearray([1]) * n
    sieve[:2] = b"\x00\x00"
    for k in range(2, math.isqrt(n) + 1):
        if sieve[k]:
            sieve[k * k::k] = bytearray(len(range(k * k, n, k)))
    return sum(sieve)


def test_tasks_compute_what_they_say(tmp_path):
    assert demo.cpu_task(10_000) == _primes(10_000) == 1229
    assert demo.memory_task(3, hold=0) == 3 * 2**20
    assert demo.io_task(2, str(tmp_path)) == 2 * 2**20
    assert list(tmp_path.iterdir()) == []  # the file is gone


def test_a_batch_runs_is_recorded_and_teaches_the_governor(tmp_path):
    store = Store(tmp_path, host="h")
    ex = ThrottledExecutor(backend="process", name="test-batch", store=store, sink=StoreSink(store),
                           control_interval=0.2)
    try:
        batch = demo.submit_batch(ex, cpu=2, cpu_n=20_000, memory=2, memory_mib=40, hold=0.1, io=2, io_mib=2,
                                  directory=str(tmp_path))
        assert len(batch) == 6
        states = batch.wait(timeout=120)
        assert states["done"].to_dict() == {"cpu_task": 2, "memory_task": 2, "io_task": 2}
        assert [f.result() for f in batch.futures["cpu_task"]] == [_primes(20_000)] * 2
        learned = demo.learned_memory(ex).set_index("name")["learned_mib"]
        assert learned["memory_task"] >= 30  # a 40 MiB fill, measured in the worker
    finally:
        ex.shutdown()
    runs = demo.batch_runs(store, batch.tag)
    direct = store.sql("SELECT name, state, count(*) AS n FROM task_runs WHERE tags LIKE ? GROUP BY ALL ORDER BY name",
                       [f"%{batch.tag}%"])
    assert runs[["name", "state", "tasks"]].values.tolist() == direct.values.tolist()
    assert set(runs["state"]) == {"done"} and runs["tasks"].sum() == 6
    assert store.sql("SELECT count(*) AS n FROM task_runs WHERE tags LIKE '%io%' AND name = 'io_task'")["n"].iloc[0] == 2


def test_unnamed_thread_executor_learns_nothing():
    with ThrottledExecutor(max_workers=1) as ex:
        assert demo.learned_memory(ex).empty
    with pytest.raises(ConfigError, match="number of tasks"):
        demo.submit_batch(ex, cpu=-1)
