"""The ageing priority queue, alone and inside the executor (the starvation bound)."""

from __future__ import annotations

import threading
import time

from workbench.execute import AgeingQueue, ThrottledExecutor


def test_priority_then_fifo_without_ageing():
    q = AgeingQueue(ageing=None)
    for i, p in enumerate([0, 5, 5, 1]):
        q.push(f"t{i}", p, enqueued=float(i))
    assert [q.pop() for _ in range(4)] == ["t1", "t2", "t3", "t0"]


def test_ageing_lets_an_old_low_priority_task_overtake():
    q = AgeingQueue(ageing=1.0)  # one priority level per second waited
    q.push("old-low", 0, enqueued=0.0)
    q.push("new-high", 2, enqueued=1.5)  # effective 2 vs 1.5 at t=1.5: high first
    q.push("late-high", 2, enqueued=2.5)  # effective at t=2.5: old-low 2.5, late-high 2 -> old first
    assert [q.pop() for _ in range(3)] == ["new-high", "old-low", "late-high"]


def test_remove_and_reprioritise_keep_age():
    q = AgeingQueue(ageing=10.0)
    q.push("a", 0, 0.0)
    q.push("b", 0, 1.0)
    q.push("c", 0, 2.0)
    assert q.remove("a") and not q.remove("a")
    assert q.reprioritise("c", 1.0)
    assert len(q) == 2 and "a" not in q
    assert q.pop() == "c" and q.pop() == "b" and q.peek() is None


def test_starvation_bound_under_a_stream_of_high_priority_work():
    """Stated bound: a task of priority p enqueued at t is never overtaken by a task
    enqueued after t + ageing * (P - p). One worker, a low task, then a flood of high
    ones arriving faster than they run: the low task still starts while the flood lasts,
    and only high tasks enqueued before the bound ran ahead of it."""
    ageing, gap = 0.1, 4  # -> 0.4 s
    runs: list[tuple[str, float, float]] = []  # (label, enqueued, started)
    stop = threading.Event()

    def job(label: str, enqueued: float) -> None:
        runs.append((label, enqueued, time.monotonic()))
        time.sleep(0.003)

    with ThrottledExecutor(max_workers=1, ageing=ageing) as ex:
        ex.pause()  # queue the low task behind high ones before anything runs
        t_low = time.monotonic()
        ex.options(priority=0).submit(job, "low", t_low)
        for _ in range(5):
            ex.options(priority=gap).submit(job, "high", time.monotonic())
        ex.resume()

        def flood() -> None:
            while not stop.is_set():
                ex.options(priority=gap).submit(job, "high", time.monotonic())
                time.sleep(0.001)  # faster than the worker drains them

        feeder = threading.Thread(target=flood)
        feeder.start()
        deadline = time.monotonic() + 10
        while not any(r[0] == "low" for r in runs) and time.monotonic() < deadline:
            time.sleep(0.01)
        flooding = not stop.is_set()
        stop.set()
        feeder.join()
        ex.cancel(name="job")  # drop the backlog
    labels = [r[0] for r in runs]
    assert "low" in labels and flooding, "the low-priority task starved"
    ahead = runs[: labels.index("low")]
    assert len(ahead) > 20, "high-priority tasks should have run first"
    latest = max(enq for _, enq, _ in ahead)
    assert latest <= t_low + ageing * gap + 0.05, f"overtaken by a task enqueued {latest - t_low:.3f}s after it"


def test_without_ageing_low_priority_runs_last():
    order: list[str] = []

    with ThrottledExecutor(max_workers=1, ageing=None) as ex:
        ex.pause()
        ex.options(priority=0).submit(order.append, "low")
        for _ in range(100):
            ex.options(priority=1).submit(order.append, "high")
        ex.resume()
    assert order == ["high"] * 100 + ["low"]


def test_reprioritising_many_at_once_keeps_ages_and_order_and_drops_dead_slots():
    from workbench.execute import AgeingQueue

    q = AgeingQueue(ageing=10.0)
    items = [object() for _ in range(200)]
    for i, it in enumerate(items):
        q.push(it, i % 3, enqueued=float(i))
    q.remove(items[0])
    assert q.reprioritise_many(items[::2], 5.0) == 99  # items[0] was no longer queued
    assert len(q._heap) == len(q) == 199  # rebuilt once: no lazily deleted slots left
    want = sorted(((5.0 if i % 2 == 0 else i % 3) - i / 10.0, -i) for i in range(1, 200))
    got = []
    while len(q):
        got.append(items.index(q.pop()))
    assert got == [-i for _, i in sorted(want, reverse=True)]
