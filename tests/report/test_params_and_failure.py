"""Parameters are checked before a kernel starts; a run that fails midway keeps the previous report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report.conftest import tiny_notebook
from workbench.report._errors import ReportFailedError, ReportParameterError

REPORT = Path(__file__).resolve().parents[2] / "notebooks" / "report.ipynb"


def test_the_shipped_notebook_declares_its_parameters_the_way_papermill_reads_them():
    from workbench.report._config import parameters_cell
    from workbench.report._params import declared_parameters

    declared = declared_parameters(REPORT)
    assert set(declared) == {"since", "until", "hosts", "metrics", "horizon", "title"}
    assert declared["hosts"]["type"] == "list" and declared["until"]["type"] == "str | None"
    assert {k: v["default"] for k, v in declared.items()} == parameters_cell(REPORT)  # the light reader agrees


@pytest.mark.parametrize("raw,params,words", [
    ({"sinse": "2d"}, {}, ["no parameter 'sinse'", "Did you mean 'since'?", "since (str, default '1d')",
                          "hosts (list, default [])"]),
    ({}, {"hosts": "web1"}, ["Parameter 'hosts'", "must be a list", "got 'web1' (str)"]),
    ({}, {"title": 3}, ["Parameter 'title'", "must be text", "got 3 (int)"]),
])
def test_unknown_or_ill_typed_parameters_are_refused_naming_those_that_exist(raw, params, words):
    from workbench.report._params import check_parameters

    with pytest.raises(ReportParameterError) as err:
        check_parameters(REPORT, params, raw=raw)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_cli_values_take_the_declared_type():
    from workbench.report._params import check_parameters

    got = check_parameters(REPORT, {}, raw={"hosts": "web1, web2", "until": "none", "since": "2d"})
    assert got == {"hosts": ["web1", "web2"], "until": None, "since": "2d"}


def test_cli_refuses_a_bad_parameter_before_running(demo_home, tmp_path):
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(demo_home), "report", "--out",
                        str(tmp_path), "-p", "hosts=nohost"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "error: Parameter 'hosts' names 'nohost', which has no data" in r.stderr
    assert "its hosts are: ec2-" in r.stderr
    assert not any(tmp_path.rglob("report.ipynb")), "nothing may run"


def test_a_failing_notebook_keeps_the_previous_report_and_records_cell_and_error(demo_home, tmp_path):
    from workbench.report import run_report

    nb = tiny_notebook(tmp_path / "r.ipynb", [
        "from IPython.display import HTML\nHTML('<p id=\"x\">fine</p>')",
        "if fail:\n    1 / 0",
        "HTML('<p>after</p>')",
    ])
    out = tmp_path / "reports"
    good = run_report("t", home=demo_home, notebook=nb, out=out)
    assert good.status == "ok"
    before = Path(good.html).read_text()
    with pytest.raises(ReportFailedError) as err:
        run_report("t", home=demo_home, notebook=nb, out=out, params={"fail": True}, check=True)
    msg = str(err.value)
    assert "failed at cell 3 (1 / 0): ZeroDivisionError: division by zero" in msg, msg
    assert f"The previous report is kept: {good.html}" in msg
    assert Path(good.html).read_text() == before
    failed = [p for p in (out / "t").iterdir() if p.name.endswith(".failed")]
    assert len(failed) == 1
    run = json.loads((failed[0] / "run.json").read_text())
    assert run["status"] == "failed" and run["cell"] == 3 and run["error_name"] == "ZeroDivisionError"
    assert (failed[0] / "report.ipynb").exists() and not (failed[0] / "report.html").exists()
    last = json.loads((out / "t" / "last_run.json").read_text())
    assert last["status"] == "failed"
    index = (out / "index.html").read_text()
    assert index.count('data-status="ok"') == 1 and index.count('data-status="failed"') == 1
    assert "ZeroDivisionError" in index
    assert not (out / "t" / ".lock").exists() and not list((out / "t").glob(".running-*"))


def test_a_report_never_runs_twice_at_once(tmp_path):
    from workbench.report._errors import ReportBusyError
    from workbench.report._run import ReportLock

    with ReportLock(tmp_path / "daily" / ".lock"):
        with pytest.raises(ReportBusyError, match="already running"):
            ReportLock(tmp_path / "daily" / ".lock").acquire()
    # a lock left by a process that is gone is taken over
    (tmp_path / "daily" / ".lock").write_text(json.dumps({"pid": 2**22 + 7, "since": 0}))
    with ReportLock(tmp_path / "daily" / ".lock") as lock:
        assert lock.held
