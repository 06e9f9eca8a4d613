"""A named executor records its task runs in the home by default (issue 13, item 16)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from workbench.execute import ThrottledExecutor
from workbench.store import Store


def _double(x):
    return 2 * x


def test_a_named_executor_writes_task_runs_without_a_sink(tmp_path):
    store = Store(tmp_path / "home")
    with ThrottledExecutor(max_workers=2, name="nightly", store=store) as ex:
        assert [f.result(30) for f in [ex.submit(_double, i) for i in range(5)]] == [0, 2, 4, 6, 8]
    df = store.sql("select state, count(*) as n from task_runs group by state")
    assert df.to_dict("records") == [{"state": "done", "n": 5}]  # was: no task_runs view at all


def test_the_home_is_found_from_the_environment_too(tmp_path):
    """`ThrottledExecutor(name=...)` with no store writes to $WORKBENCH_HOME, readable from another process."""
    code = textwrap.dedent("""
        from workbench.execute import ThrottledExecutor
        with ThrottledExecutor(max_workers=1, name="adhoc") as ex:
            ex.submit(sum, [1, 2, 3]).result(30)
    """)
    home = tmp_path / "env-home"
    res = subprocess.run([sys.executable, "-c", code], env={"WORKBENCH_HOME": str(home), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert Store(home).sql("select count(*) as n from task_runs where state = 'done'").n[0] == 1


def test_an_unnamed_executor_keeps_runs_in_memory():
    with ThrottledExecutor(max_workers=1) as ex:
        ex.submit(_double, 1).result(30)
    assert [r.state for r in ex.sink.runs] == ["done"]
