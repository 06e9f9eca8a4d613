"""Bad or unusual input to `workbench query` gets a clear answer, not an argparse error, silence or a traceback
(issue 13, items 6 and 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from workbench.errors import QueryError
from workbench.store import Store

# a CloudWatch host: days of history (the workstation recording is 20 minutes ending at load time)
CPU = ["system.cpu.utilization", "--host", "ec2-825cc2", "--labels", "cpu=total", "--step", "1h"]


def _wb(home, *args, cwd=None, timeout=120):
    env = dict(os.environ)
    env.pop("WORKBENCH_CONFIG", None)
    env.pop("WORKBENCH_HOME", None)
    return subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(home), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=cwd)


def test_since_minus_5h_means_5h_ago(demo_home):
    res = _wb(demo_home, "query", *CPU, "--since", "-5h", "--until", "-1h", "--format", "json")
    assert res.returncode == 0, res.stderr  # was "argument --since: expected one argument"
    rows = json.loads(res.stdout)
    same = json.loads(_wb(demo_home, "query", *CPU, "--since", "5h", "--until", "1h", "--format", "json").stdout)
    assert rows and len(rows) == len(same)


def test_a_start_in_the_future_says_so_and_where_the_data_ends(demo_home):
    res = _wb(demo_home, "query", *CPU, "--since", "2099-01-01")
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "error: The start of the range, 2099-01-01 00:00:00 UTC, is in the future" in res.stderr
    assert f"the newest data in {demo_home} is at " in res.stderr
    assert "Traceback" not in res.stderr and not res.stdout
    with pytest.raises(QueryError, match="is in the future"):
        Store(demo_home).query("system.cpu.utilization", "2099-01-01")


def test_a_range_that_ends_before_it_starts_is_refused(demo_home):
    res = _wb(demo_home, "query", *CPU, "--since", "1h", "--until", "3h")
    assert res.returncode == 2 and "before it starts" in res.stderr, res.stderr


def test_an_unreadable_time_is_named_by_its_option(demo_home):
    res = _wb(demo_home, "query", *CPU, "--since", "yesterday")
    assert res.returncode == 2, res.stderr
    assert "error: --since 'yesterday' is neither a duration ago ('30min', '1h', '-5h', '7d') nor a time" in res.stderr


@pytest.mark.parametrize(("out", "message"), [
    ("/nonexistent/x.csv", "the directory /nonexistent does not exist. Create it first (mkdir -p /nonexistent)"),
    ("{file}/x.csv", "is not a directory"),
    ("{tmp}/x.txt", "--out must end in .csv or .parquet; got 'x.txt'"),
])
def test_out_to_a_path_that_cannot_be_written_is_a_clear_error(demo_home, tmp_path, out, message):
    (tmp_path / "afile").write_text("")
    out = out.format(file=tmp_path / "afile", tmp=tmp_path)
    res = _wb(demo_home, "query", *CPU, "--since", "1d", "--out", out)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert message in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_out_writes_where_it_can(demo_home, tmp_path):
    res = _wb(demo_home, "query", *CPU, "--since", "1d", "--out", str(tmp_path / "cpu.csv"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cpu.csv").read_text().startswith("ts,host,metric,labels,value")


def test_messages_name_the_command_not_python(demo_home):
    res = _wb(demo_home, "query", "zzz.nothing.like.it")
    assert res.returncode == 2 and "`workbench metrics`" in res.stderr, res.stderr
    res = _wb(demo_home, "demo")  # refused before anything is written: the home already holds the demo
    assert res.returncode == 2 and "`workbench demo --replace`" in res.stderr, res.stderr
