"""Edges: a home with no data still gives every section; a good run after a failure resolves the alert."""

from __future__ import annotations

import time

SECTIONS = ["header", "summary", "charts", "processes", "alerts", "forecast", "executor", "changes", "fleet"]


def test_every_section_renders_on_an_empty_home(tmp_path):
    from workbench.report import Report
    from workbench.store import Store

    rep = Report(store=Store(tmp_path), since="1d")
    html = {s: getattr(rep, s)()._repr_html_() for s in SECTIONS}
    assert "No headline metric has data in this period." in html["summary"]
    assert "No samples in this period." in html["charts"]
    assert "Too little history" in html["forecast"]
    assert "No task ended in this period." in html["executor"]


def test_a_good_run_after_a_failure_resolves_the_report_alert(tmp_path):
    from workbench.report._alert import report_outcome_alert
    from workbench.report._run import RunResult
    from workbench.store import Store

    now = time.time()
    bad = RunResult("daily", "failed", "", now, now, cell=2, cell_source="rep.summary()", error="KeyError: 'x'")
    good = RunResult("daily", "ok", "", now, now)
    assert report_outcome_alert(tmp_path, "daily", bad, host="h1") == 1
    assert report_outcome_alert(tmp_path, "daily", good, host="h1") == 1
    rows = Store(tmp_path).sql("SELECT event, state, labels FROM alerts WHERE rule = 'report_failed' ORDER BY ts")
    assert list(rows["state"]) == ["firing", "resolved"] and set(rows["labels"]) == {"report=daily"}
