"""``submit`` keeps the Executor contract: every keyword reaches the function (issue 10)."""

from __future__ import annotations

import asyncio
import time
import warnings

import pytest

from workbench.execute import MemorySink, Retry, TaskOptions, TaskTimeoutError, ThrottledExecutor


def echo(*args, **kwargs):
    return args, kwargs


def nap(seconds: float) -> None:
    for _ in range(int(seconds * 100)):  # short sleeps: a task timeout interrupts between them
        time.sleep(0.01)


def test_every_keyword_goes_to_the_function_when_options_go_their_own_way():
    sink = MemorySink()
    with ThrottledExecutor(max_workers=2, sink=sink) as ex:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # none of these warns
            f1 = ex.options(key="a", priority=3).submit(echo, 1, timeout=5, name="n", key="k", tags="t")
            f2 = ex.submit(echo, 2, retry="r", options=TaskOptions(name="second", after=[f1]))
            f3 = ex.options().submit(echo, 3, after="x", resources={"gpu": 1})
            f4 = ex.submit(echo, 4, options="not TaskOptions goes to fn too")
            chained = ex.options(tags=("x",)).options(name="chained")
            f5 = chained.submit(echo, 5)
        assert f1.result() == ((1,), {"timeout": 5, "name": "n", "key": "k", "tags": "t"})
        assert f2.result() == ((2,), {"retry": "r"})
        assert f3.result() == ((3,), {"after": "x", "resources": {"gpu": 1}})
        assert f4.result() == ((4,), {"options": "not TaskOptions goes to fn too"})
        assert f5.result() == ((5,), {})
        assert chained.task_options == TaskOptions(tags=("x",), name="chained")
    runs = {r.key: r for r in sink.runs}
    assert runs["a"].priority == 3 and f2.name == "second" and f5.name == "chained"
    assert runs[f5.key].tags == ("x",)


def test_options_are_applied_timeout_and_retry():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("once")
        return "ok"

    with ThrottledExecutor(max_workers=2) as ex:
        slow = ex.options(timeout=0.2).submit(nap, 5)
        with pytest.raises(TaskTimeoutError):
            slow.result(timeout=10)
        assert ex.submit(flaky, options=TaskOptions(retry=Retry(attempts=2, backoff=0))).result() == "ok"
        assert list(ex.options(priority=1).map(abs, [-1, -2])) == [1, 2]
        assert list(ex.map(abs, [-3], options=TaskOptions(tags=("m",)))) == [3]
        assert asyncio.run(ex.options(name="aw").asubmit(echo, 6, timeout=1)) == ((6,), {"timeout": 1})


def test_old_keywords_still_work_with_a_deprecation_warning_that_says_what_to_write():
    with ThrottledExecutor(max_workers=1) as ex:
        with pytest.warns(DeprecationWarning, match=r"ex.options\(timeout=...\).submit\(fn, ...\)") as rec:
            fut = ex.submit(nap, 5, timeout=0.2)
        assert rec[0].filename == __file__  # points at the caller's line
        with pytest.raises(TaskTimeoutError):
            fut.result(timeout=10)
        with pytest.warns(DeprecationWarning, match="key="):
            assert ex.submit(echo, 1, key="legacy", other=2).result() == ((1,), {"other": 2})


def test_unknown_options_are_a_type_error():
    with ThrottledExecutor(max_workers=1) as ex:
        with pytest.raises(TypeError, match=r"unknown task option\(s\) \['timeout_s'\]"):
            ex.options(timeout_s=1)
        with pytest.raises(TypeError, match="unknown task option"):
            TaskOptions().replace(colour="red")
        with pytest.raises(TypeError, match="options= takes a TaskOptions"):
            ex.map(abs, [1], options={"timeout": 1})
