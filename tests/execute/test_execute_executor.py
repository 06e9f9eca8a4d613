"""ThrottledExecutor with the thread backend: the Executor contract and every option."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from concurrent.futures import CancelledError, as_completed, wait

import pytest

from workbench.errors import ConfigError
from workbench.execute import (
    CircuitBreaker,
    CircuitOpenError,
    DependencyCycleError,
    DependencyFailedError,
    MemorySink,
    QueueFullError,
    Retry,
    TaskTimeoutError,
    ThrottledExecutor,
    classify,
)


def states(sink: MemorySink) -> dict[str, str]:
    return {r.key: r.state for r in sink.runs}


def test_submit_result_exception_and_as_completed():
    sink = MemorySink()
    with ThrottledExecutor(max_workers=4, sink=sink) as ex:
        futs = [ex.submit(pow, i, 2) for i in range(50)]
        bad = ex.submit(int, "x")
        assert sorted(f.result() for f in as_completed(futs)) == [i * i for i in range(50)]
        done, not_done = wait([*futs, bad])
        assert not not_done
        with pytest.raises(ValueError):
            bad.result()
    assert len(sink.runs) == 51
    assert sum(r.state == "done" for r in sink.runs) == 50
    failed = [r for r in sink.runs if r.state == "failed"]
    assert failed[0].error.startswith("ValueError") and failed[0].attempts == 1
    assert all(r.started is not None and r.ended >= r.started >= r.submitted for r in sink.runs)


def test_map_is_lazy_over_an_unbounded_iterable():
    pulled = itertools.count()

    def source():
        for i in itertools.count():
            next(pulled)
            yield i

    with ThrottledExecutor(max_workers=2) as ex:
        out = ex.map(lambda x: x + 1, source(), buffersize=8)
        first = [next(out) for _ in range(100)]
        assert first == list(range(1, 101))
        assert next(pulled) <= 100 + 8 + 1  # only a window ahead was read
        out.close()


def test_map_rejects_unknown_options_and_honours_timeout():
    with ThrottledExecutor(max_workers=1) as ex:
        with pytest.raises(TypeError, match="unknown option"):
            ex.map(abs, [1], bogus=1)
        it = ex.map(time.sleep, [0.5, 0.5], timeout=0.1)
        with pytest.raises(TimeoutError):
            list(it)


def test_constructor_and_option_errors_are_clear():
    with pytest.raises(TypeError):
        ThrottledExecutor(bogus=1)
    with pytest.raises(ConfigError, match="backpressure"):
        ThrottledExecutor(backpressure="drop")
    with pytest.raises(ConfigError, match="unknown executor backend"):
        ThrottledExecutor(backend="gpu")
    with ThrottledExecutor(max_workers=2) as ex:
        with pytest.raises(TypeError, match="unknown resources"):
            ex.options(resources={"gpu": 1}).submit(abs, 1)
        with pytest.raises(ConfigError, match="timeout"):
            ex.options(timeout=-1).submit(abs, 1)
        with pytest.raises(ConfigError, match="cpu"):
            ex.options(resources={"cpu": 3}).submit(abs, 1)
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(abs, 1)


def test_priority_order_with_one_worker():
    order = []
    with ThrottledExecutor(max_workers=1) as ex:
        ex.pause()
        for p in [1, 5, 3, 5, 0]:
            ex.options(priority=p).submit(order.append, p)
        ex.resume()
    assert order == [5, 5, 3, 1, 0]


def test_backpressure_reject_raises_queue_full_and_records_it():
    sink = MemorySink()
    gate = threading.Event()
    with ThrottledExecutor(max_workers=1, queue_size=3, backpressure="reject", sink=sink) as ex:
        ex.submit(gate.wait)  # running, not queued
        time.sleep(0.05)
        for _ in range(3):
            ex.submit(abs, 1)
        with pytest.raises(QueueFullError, match="queue is full") as info:
            ex.submit(abs, 1)
        assert info.value.queue_size == 3 and isinstance(info.value, RuntimeError)
        assert ex.stats()["rejected"] == 1
        gate.set()
    assert sum(r.state == "rejected" for r in sink.runs) == 1
    assert len(sink.runs) == 5


def test_backpressure_block_waits_for_room_then_times_out():
    gate = threading.Event()
    with ThrottledExecutor(max_workers=1, queue_size=1, backpressure="block", block_timeout=0.2) as ex:
        ex.submit(gate.wait)
        time.sleep(0.05)
        ex.submit(abs, 1)  # fills the queue
        t0 = time.monotonic()
        with pytest.raises(QueueFullError):
            ex.submit(abs, 2)
        assert 0.15 <= time.monotonic() - t0 < 1.0
        threading.Timer(0.1, gate.set).start()
        t0 = time.monotonic()
        fut = ex.submit(abs, -3)  # blocks until the gate opens and room appears
        assert time.monotonic() - t0 >= 0.05
        assert fut.result(2) == 3


def test_retry_requeues_with_backoff_and_counts_attempts():
    sink = MemorySink()
    calls = []

    def flaky():
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError("try again")
        return "ok"

    with ThrottledExecutor(max_workers=1, sink=sink, seed=1) as ex:
        fut = ex.options(retry=Retry(attempts=3, backoff=0.05, jitter=False)).submit(flaky)
        assert fut.result(5) == "ok"
        assert ex.stats()["retried"] == 2
    assert calls[1] - calls[0] >= 0.045 and calls[2] - calls[1] >= 0.095  # 0.05, then 0.1
    (run,) = sink.runs
    assert run.state == "done" and run.attempts == 3


def test_a_retry_waits_in_the_queue_not_in_a_worker():
    """One worker: while a failed task backs off, other work runs on that worker."""
    order = []

    def flaky():
        order.append("flaky")
        if order.count("flaky") == 1:
            raise ConnectionError("again")

    with ThrottledExecutor(max_workers=1) as ex:
        f = ex.options(retry=Retry(attempts=2, backoff=0.5, jitter=False)).submit(flaky)
        time.sleep(0.1)  # first attempt failed, now delayed for 0.5 s
        t0 = time.monotonic()
        ex.submit(order.append, "other").result(5)
        assert time.monotonic() - t0 < 0.35 and ex.stats()["delayed"] == 1
        f.result(5)
    assert order == ["flaky", "other", "flaky"]


def test_retry_only_on_chosen_types_and_permanent_errors():
    with ThrottledExecutor(max_workers=2) as ex:
        f1 = ex.options(retry=Retry(attempts=5, backoff=0)).submit(int, "x")  # ValueError is permanent
        with pytest.raises(ValueError):
            f1.result()
        assert ex.stats()["retried"] == 0

        def boom():
            raise KeyError("k")

        f2 = ex.options(retry=Retry(attempts=3, backoff=0, on=(KeyError,))).submit(boom)
        with pytest.raises(KeyError):
            f2.result()
        assert ex.stats()["retried"] == 2
    assert classify(ConnectionResetError()) == "transient"
    assert classify(TaskTimeoutError("t")) == "transient"
    assert classify(TypeError()) == "permanent"


def test_dependencies_run_in_order_and_failures_propagate():
    order = []
    sink = MemorySink()
    with ThrottledExecutor(max_workers=4, sink=sink) as ex:
        a = ex.options(key="a").submit(lambda: (time.sleep(0.05), order.append("a")))
        ex.options(after=[a], key="b").submit(order.append, "b")
        c = ex.options(after=["b", a]).submit(order.append, "c")
        bad = ex.options(key="bad").submit(int, "x")
        d = ex.options(after=[bad]).submit(order.append, "d")
        e = ex.options(after=[d]).submit(order.append, "e")
        c.result(5)
        with pytest.raises(DependencyFailedError):
            e.result(5)
        assert isinstance(d.exception(), DependencyFailedError)
    assert order == ["a", "b", "c"]
    assert states(sink)["bad"] == "failed"


def test_forward_references_and_cycle_detection_at_submit():
    with ThrottledExecutor(max_workers=2) as ex:
        x = ex.options(key="x", after=["y"]).submit(abs, -1)  # y does not exist yet: waits
        assert not x.done()
        with pytest.raises(DependencyCycleError, match="wait for"):
            ex.options(key="y", after=["x"]).submit(abs, -2)
        with pytest.raises(DependencyCycleError):
            ex.options(key="self", after=["self"]).submit(abs, -3)
        y = ex.options(key="y").submit(abs, -2)
        assert x.result(5) == 1 and y.result() == 2
        orphan = ex.options(after=["never"]).submit(abs, -4)
    with pytest.raises(DependencyFailedError, match="never submitted"):
        orphan.result()


def test_cancel_by_tag_future_cancel_and_shutdown_cancel_futures():
    sink = MemorySink()
    gate = threading.Event()
    ex = ThrottledExecutor(max_workers=1, sink=sink)
    ex.options(key="blocker").submit(gate.wait)
    time.sleep(0.05)
    a = [ex.options(tags=["a"]).submit(abs, i) for i in range(5)]
    b = [ex.options(tags=["b"]).submit(abs, i) for i in range(5)]
    one = ex.submit(abs, 1)
    assert ex.cancel(tag="a") == 5
    assert one.cancel()
    assert all(f.cancelled() for f in a)
    ex.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert all(f.cancelled() for f in b)
    deadline = time.monotonic() + 5
    while len(sink.runs) < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    st = states(sink)
    assert st["blocker"] == "done"
    assert sum(v == "cancelled" for v in st.values()) == 11
    assert len(sink.runs) == 12  # exactly one record each


def test_pause_resume_drain_set_limits_reprioritise_stats():
    order = []
    with ThrottledExecutor(max_workers=1) as ex:
        ex.pause()
        ex.options(tags=["later"]).submit(order.append, "x")
        ex.submit(order.append, "y")
        time.sleep(0.05)
        assert order == [] and ex.stats()["queued"] == 2 and ex.stats()["paused"]
        with pytest.raises(RuntimeError, match="paused"):
            ex.drain(0.1)
        assert ex.reprioritise(-1, tag="later") == 1
        ex.resume()
        assert ex.drain(5)
        assert order == ["y", "x"]
        ex.set_limits(max_workers=3)
        barrier = threading.Barrier(3, timeout=5)
        futs = [ex.submit(barrier.wait) for _ in range(3)]  # needs 3 at once
        wait(futs, 5)
        assert all(f.exception() is None for f in futs)
        s = ex.stats()
        assert s["limit"] == 3 and "set_limits" in s["limit_reason"]
        assert s["done"] == 5 and s["run_time"]["p50"] is not None and s["throughput"] > 0
        with pytest.raises(TypeError):
            ex.set_limits(cpu_target=0.5)  # fixed limit: no governor to take it


def test_resources_cpu_slots_limit_concurrency():
    running = []
    peak = []
    lock = threading.Lock()

    def job():
        with lock:
            running.append(1)
            peak.append(len(running))
        time.sleep(0.05)
        with lock:
            running.pop()

    with ThrottledExecutor(max_workers=4) as ex:
        wait([ex.options(resources={"cpu": 2}).submit(job) for _ in range(6)])
    assert max(peak) == 2


def test_thread_timeout_resolves_at_deadline_and_stops_python_loops():
    sink = MemorySink()
    stopped = threading.Event()

    def spin():
        try:
            while True:
                pass
        finally:
            stopped.set()

    with ThrottledExecutor(max_workers=1, sink=sink) as ex:
        t0 = time.monotonic()
        fut = ex.options(timeout=0.2).submit(spin)
        with pytest.raises(TaskTimeoutError):
            fut.result(5)
        assert time.monotonic() - t0 < 1.5
        assert stopped.wait(2), "the spinning thread was not interrupted"
        assert ex.submit(abs, -5).result(5) == 5  # the slot is usable again
    assert [r.state for r in sink.runs] == ["timed_out", "done"]


def test_circuit_breaker_opens_then_half_opens():
    sink = MemorySink()
    breaker = CircuitBreaker(failures=3, cooldown=0.3)
    with ThrottledExecutor(max_workers=1, breaker=breaker, sink=sink) as ex:
        for _ in range(3):
            ex.options(tags=["db"]).submit(int, "x").exception()
        f = ex.options(tags=["db"]).submit(abs, 1)
        assert isinstance(f.exception(), CircuitOpenError)
        assert ex.options(tags=["web"], name="other").submit(abs, 1).result() == 1  # other groups run
        assert ex.stats()["breakers"]["tag:db"] == "open"
        time.sleep(0.35)
        assert ex.options(tags=["db"], name="abs2").submit(abs, -2).result() == 2  # trial succeeds
        assert ex.stats()["breakers"]["tag:db"] == "closed"
    assert sum(r.state == "rejected" for r in sink.runs) == 1


def test_governor_drives_the_limit_and_explains_it():
    with ThrottledExecutor(sample_interval=0.05) as ex:
        futs = [ex.submit(time.sleep, 0.01) for _ in range(50)]
        wait(futs)
        time.sleep(0.2)
        s = ex.stats()
        assert 1 <= s["limit"] <= ex.governor.upper_
        assert s["limit_reason"] and 0 <= s["cpu"] <= 1 and s["memory"] > 0
        assert len(ex.governor.decisions_) >= 1
        ex.set_limits(max_workers=1, cpu_target=0.5)
        s = ex.stats()
        assert s["limit"] == 1 and ex.governor.cpu_target == 0.5
        with pytest.raises(TypeError):
            ex.set_limits(speed=11)


def test_asyncio_wrapper():
    async def main():
        with ThrottledExecutor(max_workers=2) as ex:
            return await asyncio.gather(*(ex.asubmit(pow, i, 2) for i in range(5)))

    assert asyncio.run(main()) == [0, 1, 4, 9, 16]


def test_user_cancel_before_start_is_recorded_once():
    sink = MemorySink()
    gate = threading.Event()
    with ThrottledExecutor(max_workers=1, sink=sink) as ex:
        ex.submit(gate.wait)
        time.sleep(0.05)
        f = ex.submit(abs, 1)
        assert f.cancel()
        with pytest.raises(CancelledError):
            f.result()
        gate.set()
    assert sorted(r.state for r in sink.runs) == ["cancelled", "done"]


def test_memory_admission_keeps_big_tasks_apart():
    """Two tasks declaring 200 MiB never run together under a 300 MiB allowance; tasks
    with no memory estimate still run beside them. Admission keeps priority order: a
    task that does not fit holds back those behind it, so big tasks cannot starve."""
    import psutil

    from workbench.execute import Governor

    rss = psutil.Process().memory_info().rss
    gov = Governor(mem_target=1.0, mem_budget=rss + 300 * 2**20, max_workers=4, initial_workers=4)
    running: list[str] = []
    peak_big, peak_all = [], []
    lock = threading.Lock()

    def job(kind):
        with lock:
            running.append(kind)
            peak_big.append(running.count("big"))
            peak_all.append(len(running))
        time.sleep(0.05)
        with lock:
            running.remove(kind)

    with ThrottledExecutor(governor=gov, memory_scope="self", sample_interval=0.05) as ex:
        futs = []
        for _ in range(4):
            futs.append(ex.options(resources={"memory": 200 * 2**20}).submit(job, "big"))
            futs.append(ex.submit(job, "small"))
        time.sleep(0.02)
        assert "memory" in ex.stats()["admission"]
        wait(futs, 10)
    assert all(f.exception() is None for f in futs)
    assert max(peak_big) == 1 and max(peak_all) >= 2
    assert any("admission paused" in d.reason for d in gov.decisions_)


def test_predictive_mode_feeds_a_forecast_predictor_from_the_sampler():
    import math

    from workbench.execute import ForecastPredictor, Governor

    pred = ForecastPredictor(horizon=0.5, step=0.05, window=2.0, min_points=5, refit_every=0.1)
    gov = Governor(max_workers=2, predictor=pred)
    with ThrottledExecutor(governor=gov, sample_interval=0.05) as ex:
        ex.submit(time.sleep, 0.6).result(5)
    cpu, mem = pred(time.monotonic() + 1.0)  # the executor's own samples, forecast ahead
    assert len(pred._samples) >= 5  # observe() was called by the sampler
    assert math.isfinite(cpu) and mem > 2**20
    assert "predictor failed" not in gov.holding_
