"""The sections that read records: alerts and executor runs in the period, equal to direct queries."""

from __future__ import annotations

import shutil
import time

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(demo_home, tmp_path_factory):
    """A copy of the demo with one report alert fired and a batch of tasks (some failing) recorded."""
    from workbench.execute import ThrottledExecutor
    from workbench.execute._record import StoreSink
    from workbench.report._alert import report_outcome_alert
    from workbench.report._run import RunResult
    from workbench.store import Store

    h = tmp_path_factory.mktemp("records") / "home"
    shutil.copytree(demo_home, h)
    now = time.time()
    failed = RunResult("nightly", "failed", "", now, now, cell=4, cell_source="rep.forecast()",
                       error="ValueError: no data")
    assert report_outcome_alert(h, "nightly", failed, host="ec2-24ae8d") >= 1
    store = Store(h)

    def job(i):
        if i % 4 == 0:
            raise RuntimeError(f"task {i} broke")
        return i

    with ThrottledExecutor(max_workers=2, sink=StoreSink(store, flush_interval=0.1)) as ex:
        futs = [ex.options(name="etl" if i % 2 else "train").submit(job, i) for i in range(12)]
        for f in futs:
            f.exception()
    return h


def test_alerts_section_lists_the_alerts_of_the_period(home):
    from workbench.report import Report
    from workbench.store import Store

    rep = Report(store=Store(home))
    sec = rep.alerts()
    al = sec.data["alerts"]
    direct = Store(home).sql("SELECT rule, event FROM alerts WHERE ts >= ? AND ts < ?",
                             [rep.period.start.to_pydatetime(), rep.period.end.to_pydatetime()])
    assert len(al) == len(direct) >= 1
    assert (al["rule"] == "report_failed").any()
    html = sec._repr_html_()
    assert 'data-alert="report_failed"' in html and "Alerts (1 fired)" in html
    assert "failed at cell 4 (rep.forecast()): ValueError: no data" in html  # the evidence
    assert rep.fleet().data["fleet"].set_index("host").loc["ec2-24ae8d", "alerts"] == 1


def test_executor_section_counts_equal_task_runs(home):
    from workbench.report import Report
    from workbench.store import Store

    store = Store(home)
    sec = Report(store=store).executor()
    direct = store.sql("SELECT name, state, count(*) AS n FROM task_runs GROUP BY ALL")
    want = {(r.name, r.state): r.n for r in direct.itertuples()}
    by = sec.data["by_name"].set_index("name")
    assert sec.data["total"] == 12 == sum(want.values())
    for (name, state), n in want.items():
        assert by.loc[name, state] == n, (name, state)
    html = sec._repr_html_()
    assert 'data-tasks="12"' in html and 'data-done="9"' in html
    assert "Failures (latest)" in html and "RuntimeError: task 0 broke" in html
