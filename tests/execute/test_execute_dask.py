"""The Dask backend on a real distributed.LocalCluster."""

from __future__ import annotations

import time
from concurrent.futures import wait

import pytest
from _exec_tasks import square

from workbench.execute import DaskBackend, MemorySink, Retry, TaskTimeoutError, ThrottledExecutor

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def thread_client():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            yield client


def test_dask_backend_runs_priorities_retries_and_dependencies(thread_client, tmp_path):
    sink = MemorySink()
    marker = tmp_path / "called"

    def flaky(x):  # Dask serialises the function, so state lives in a file
        if not marker.exists():
            marker.touch()
            raise ConnectionError("first call fails")
        return x

    backend = DaskBackend(thread_client)
    assert backend.default_workers() == 2
    with ThrottledExecutor(backend=backend, governor=None, sink=sink) as ex:
        futs = [ex.submit(square, i) for i in range(20)]
        a = ex.options(retry=Retry(attempts=2, backoff=0), key="a").submit(flaky, 7)
        b = ex.options(after=[a]).submit(square, 3)
        assert [f.result(30) for f in futs] == [i * i for i in range(20)]
        assert a.result(30) == 7 and b.result(30) == 9
        bad = ex.submit(int, "x")
        assert isinstance(bad.exception(30), ValueError)
        slow = ex.options(timeout=0.3).submit(time.sleep, 5)
        assert isinstance(slow.exception(30), TaskTimeoutError)
    assert len(sink.runs) == 24
    assert {r.backend for r in sink.runs} == {"dask"}
    assert next(r for r in sink.runs if r.key == "a").attempts == 2


@pytest.mark.slow
def test_dask_backend_on_process_workers_limits_concurrency():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            with ThrottledExecutor(max_workers=1, backend=DaskBackend(client)) as ex:
                futs = [ex.submit(time.sleep, 0.2) for _ in range(4)]
                t0 = time.monotonic()
                wait(futs, 60)
                elapsed = time.monotonic() - t0
                assert all(f.exception() is None for f in futs)
                assert elapsed >= 0.75  # one at a time despite two workers
                assert ex.submit(square, 12).result(30) == 144
