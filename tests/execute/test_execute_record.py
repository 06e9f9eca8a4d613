"""Task records reach the store's task_runs view (real Parquet files, real DuckDB)."""

from __future__ import annotations

import sys
import threading
import time

from _exec_tasks import burn

from workbench.execute import Command, StoreSink, TaskTimeoutError, ThrottledExecutor
from workbench.store import Store


def test_every_task_lands_once_in_task_runs(tmp_path):
    store = Store(tmp_path / "home")
    sink = StoreSink(store, batch_size=7)
    gate = threading.Event()
    with ThrottledExecutor(max_workers=2, sink=sink) as ex:
        ok = [ex.options(tags=["batch", "a"], name="square").submit(pow, i, 2) for i in range(20)]
        bad = ex.options(name="parse").submit(int, "x")
        slow = ex.options(timeout=0.1, name="spin").submit(burn, 30)
        ex.options(name="gate").submit(gate.wait)
        time.sleep(0.05)
        cmd = ex.options(name="cmd").submit(Command([sys.executable, "-c", "x = bytearray(40 << 20)"]))
        later = ex.options(name="never").submit(abs, 1)
        later.cancel()
        gate.set()
    assert isinstance(slow.exception(), TaskTimeoutError) and isinstance(bad.exception(), ValueError)
    assert [f.result() for f in ok] == [i * i for i in range(20)]
    df = store.sql("SELECT name, state, count(*) AS n, min(tags) AS tags, max(attempts) AS att, "
                   "bool_and(ended >= submitted) AS ordered FROM task_runs GROUP BY name, state ORDER BY name")
    got = {(r.name, r.state): r.n for r in df.itertuples()}
    assert cmd.result().returncode == 0
    assert got == {("cmd", "done"): 1, ("gate", "done"): 1, ("never", "cancelled"): 1, ("parse", "failed"): 1,
                   ("spin", "timed_out"): 1, ("square", "done"): 20}
    assert df.set_index("name").loc["square", "tags"] == "a,batch"
    assert df["ordered"].all()
    err = store.sql("SELECT error FROM task_runs WHERE state = ?", ["failed"])["error"][0]
    assert err.startswith("ValueError")
    assert store.sql("SELECT count(DISTINCT key) AS k FROM task_runs")["k"][0] == 25
    # resources used: CPU time for every task that ran, peak RSS of the command's process
    res = store.sql("SELECT name, min(cpu_time_s) AS cpu, max(peak_rss_bytes) AS rss, min(run_s) AS run_s "
                    "FROM task_runs GROUP BY name").set_index("name")
    assert res.loc["cmd", "rss"] > 40 * 2**20 and res.loc["cmd", "cpu"] > 0
    assert res.loc["square", "cpu"] >= 0 and res.loc["spin", "run_s"] >= 0.1
    assert res["run_s"].isna()["never"]  # never started: no run time


def test_a_killed_process_task_still_records_what_it_used(tmp_path):
    store = Store(tmp_path / "home")
    with ThrottledExecutor(backend="process", max_workers=1, sched_idle=False,
                           sink=StoreSink(store, batch_size=1)) as ex:
        fut = ex.options(timeout=1.0, name="spin").submit(burn, 30)
    assert isinstance(fut.exception(), TaskTimeoutError)
    row = store.sql("SELECT state, cpu_time_s, peak_rss_bytes FROM task_runs WHERE name = 'spin'").iloc[0]
    assert row.state == "timed_out"
    assert 0.1 < row.cpu_time_s <= 1.5  # it spun for its whole second (less on a busy machine)
    assert row.peak_rss_bytes > 5 * 2**20
