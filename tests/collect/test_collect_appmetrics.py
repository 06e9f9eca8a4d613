"""Application metrics: buffering and flushing with a sink, then with the real store."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest

from workbench import appmetrics
from workbench.appmetrics import count, gauge, timed
from workbench.catalog import global_catalog
from workbench.errors import ConfigError, DataError


class ListSink:
    """A destination that keeps what it is given (the store's two-method interface)."""

    host = "sinkhost"

    def __init__(self, fail: int = 0) -> None:
        self.frames: list[pd.DataFrame] = []
        self.specs: list = []
        self.fail = fail

    def register_metrics(self, specs) -> None:
        self.specs.extend(specs)

    def append(self, df: pd.DataFrame) -> int:
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        self.frames.append(df)
        return len(df)

    def rows(self) -> pd.DataFrame:
        return pd.concat(self.frames, ignore_index=True) if self.frames else pd.DataFrame()


@pytest.fixture
def sink():
    s = ListSink()
    appmetrics.flush()  # whatever an earlier test left goes to the earlier destination
    appmetrics.configure(store=s, flush_interval=3600, max_buffer=100_000)
    yield s
    appmetrics.flush()
    # back to the default destination (a Store on WORKBENCH_HOME or ./data) for later tests
    appmetrics.configure(
        home=os.environ.get("WORKBENCH_HOME", "./data"), flush_interval=1.0, max_buffer=100_000
    )


def test_timed_as_context_manager(sink):
    before = pd.Timestamp.now(tz="UTC")
    with timed("etl.load", table="orders"):
        time.sleep(0.05)
    assert appmetrics.flush() == 1
    df = sink.rows()
    assert list(df.columns) == ["ts", "host", "metric", "labels", "value"]
    row = df.iloc[0]
    assert row.metric == "app.etl.load.duration" and row.labels == "table=orders"
    assert 0.05 <= row.value < 1.0
    assert row.host == "sinkhost"
    assert str(df["ts"].dt.tz) == "UTC" and before <= row.ts <= pd.Timestamp.now(tz="UTC")
    spec = {s.name: s for s in sink.specs}["app.etl.load.duration"]
    assert (spec.unit, spec.kind) == ("s", "gauge")
    assert global_catalog().get("app.etl.load.duration") == spec


def test_timed_as_decorator_records_each_call_even_on_error(sink):
    @timed("job.step", step="a")
    def step(x):
        if x < 0:
            raise ValueError("negative")
        return x * 2

    assert step(21) == 42 and step.__name__ == "step"
    with pytest.raises(ValueError, match="negative"):
        step(-1)

    @timed("job.fetch")
    async def fetch():
        await asyncio.sleep(0.03)
        return "ok"

    assert asyncio.run(fetch()) == "ok"
    appmetrics.flush()
    df = sink.rows()
    assert sorted(df.metric) == ["app.job.fetch.duration"] + ["app.job.step.duration"] * 2
    assert df.loc[df.metric == "app.job.fetch.duration", "value"].iloc[0] >= 0.03  # the await, not the call


def test_one_timed_instance_shared_by_threads_and_nested(sink):
    t = timed("shared.block")
    with t:
        with t:
            time.sleep(0.01)

    def work():
        for _ in range(500):
            with t:
                pass

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert appmetrics.flush() == 2 + 8 * 500
    values = sink.rows()["value"]
    assert (values >= 0).all() and values.max() >= 0.01


def test_gauge_and_count(sink):
    gauge("queue.depth", 42, queue="ingest")
    gauge("queue.depth", 7, queue="ingest")

    def counting():
        for _ in range(1000):
            count("etl.rows", 2, table="orders")

    threads = [threading.Thread(target=counting) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    count("etl.rows", table="users")
    assert appmetrics.flush() == 4  # two gauges, one sample per counted series
    df = sink.rows()
    assert df.loc[df.metric == "app.queue.depth", "value"].tolist() == [42.0, 7.0]
    counts = df[df.metric == "app.etl.rows.count"].set_index("labels")["value"].to_dict()
    assert counts == {"table=orders": 8000.0, "table=users": 1.0}
    count("etl.rows", 5, table="orders")
    appmetrics.flush()
    df = sink.rows()
    assert df.loc[df.metric == "app.etl.rows.count", "value"].sum() == 8006.0  # totals by sum


def test_buffer_is_bounded_and_keeps_the_newest(sink):
    appmetrics.configure(max_buffer=100)
    dropped = appmetrics.stats()["dropped"]
    for i in range(250):
        gauge("bounded", i)
    assert appmetrics.stats()["buffered"] == 100
    assert appmetrics.stats()["dropped"] - dropped == 150
    appmetrics.flush()
    assert sink.rows()["value"].tolist() == [float(i) for i in range(150, 250)]


def test_failed_flush_keeps_samples_for_the_next_one(sink, caplog):
    sink.fail = 1
    errors = appmetrics.stats()["flush_errors"]
    gauge("retry.me", 1.0)
    assert appmetrics.flush() == 0
    assert appmetrics.stats()["flush_errors"] == errors + 1
    assert "disk full" in appmetrics.stats()["last_error"] and "kept for retry" in caplog.text
    gauge("retry.me", 2.0)
    assert appmetrics.flush() == 2
    assert sink.rows()["value"].tolist() == [1.0, 2.0]  # once each, in order
    assert appmetrics.flush() == 0


def test_background_thread_flushes(sink):
    appmetrics.configure(flush_interval=0.05)  # wakes the thread from its 3600 s wait
    gauge("background", 1.0)
    deadline = time.monotonic() + 5
    while not sink.frames:
        assert time.monotonic() < deadline, "the flush thread did not write within 5 s"
        time.sleep(0.02)
    assert sink.rows()["metric"].tolist() == ["app.background"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gauge("x", "abc"), "must be a number; got str"),
        (lambda: gauge("x", math.nan), "finite"),
        (lambda: count("x", math.inf), "finite"),
        (lambda: gauge("Bad Name", 1), "not valid"),
        (lambda: timed("etl load"), "not valid"),
        (lambda: gauge("x", 1, **{"bad key": 1}), "Label key"),
    ],
)
def test_bad_input_gets_a_clear_error(sink, call, match):
    with pytest.raises(DataError, match=match):
        call()


def test_bad_configuration_is_refused():
    with pytest.raises(ConfigError, match="flush_interval must be a positive number"):
        appmetrics.configure(flush_interval=0)
    with pytest.raises(ConfigError, match="max_buffer must be a positive integer"):
        appmetrics.configure(max_buffer=1.5)


SCRIPT = """
import multiprocessing, sys
from workbench import appmetrics, count, gauge, timed
appmetrics.configure(home=sys.argv[1], host="apphost")

@timed("etl.load", table="orders")
def load():
    return 1

def child():
    gauge("child.value", 7.0)   # a fork child ends with os._exit: no atexit

if __name__ == "__main__":
    for _ in range(3):
        load()
    count("etl.rows", 10)
    count("etl.rows", 5)
    p = multiprocessing.get_context("fork").Process(target=child)
    p.start(); p.join()
    assert p.exitcode == 0
    # no flush: the exit handler must write everything
"""


@pytest.mark.slow
def test_samples_reach_the_real_store_at_exit(tmp_path):
    from workbench.store import Store

    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(SCRIPT).replace("from workbench import appmetrics, count, gauge, timed",
                                                       "from workbench import appmetrics\n"
                                                       "from workbench.appmetrics import count, gauge, timed"))
    home = tmp_path / "home"
    subprocess.run([sys.executable, str(script), str(home)], check=True, timeout=120)
    store = Store(home)
    df = store.sql(
        "select metric, labels, host, count(*) as n, sum(value) as total from samples "
        "where metric like 'app.%' group by all order by metric"
    )
    got = {r.metric: (r.labels, r.host, r.n, r.total) for r in df.itertuples()}
    assert got["app.child.value"] == ("", "apphost", 1, 7.0)
    assert got["app.etl.rows.count"] == ("", "apphost", 1, 15.0)
    labels, host, n, total = got["app.etl.load.duration"]
    assert (labels, host, n) == ("table=orders", "apphost", 3) and 0 <= total < 1
    catalogue = store.metrics()
    names = set(catalogue["name"]) if isinstance(catalogue, pd.DataFrame) else {m.name for m in catalogue}
    assert {"app.etl.load.duration", "app.etl.rows.count", "app.child.value"} <= names
