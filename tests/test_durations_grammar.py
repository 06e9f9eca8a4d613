"""One duration grammar (workbench.durations), the same in config, rules, jobs, forecasts and the CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pandas as pd
import pytest

from workbench.config import load_config, positive_duration
from workbench.detect._errors import RuleError
from workbench.detect._rules import rule_from_dict
from workbench.durations import format_duration, parse_duration, to_timedelta
from workbench.errors import ConfigError, DataError
from workbench.execute._errors import JobsFileError
from workbench.execute._jobs import parse_jobs
from workbench.store._timeutil import parse_duration as store_parse_duration
from workbench.store._timeutil import resolve_time


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0), (1.5, 1.5), ("90", 90.0), ("1e3", 1000.0), ("30s", 30.0), ("5min", 300.0), ("5m", 300.0),
        ("1.5h", 5400.0), ("1h30min", 5400.0), ("1h 30min", 5400.0), ("1m30s", 90.0), ("2 days", 172800.0),
        ("1d 12h", 129600.0), ("7d", 604800.0), ("7D", 604800.0), ("1w", 604800.0), ("250ms", 0.25),
        ("10us", 1e-5), ("3 hours", 10800.0), ("0", 0.0), (" 5 sec ", 5.0),
        (dt.timedelta(minutes=2), 120.0), (pd.Timedelta("1h"), 3600.0),
    ],
)
def test_the_grammar_reads_numbers_terms_and_timedeltas(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("5 parsecs", "'parsecs' is not a unit; use us, ms, s, min, h, d or w"),
        ("5M", "'M' is ambiguous; write 'min' for minutes"),
        ("1mo", "months and years have no fixed length; write days, e.g. '30d'"),
        ("1h x", "cannot read 'x'"),
        ("1 h 30", "the number 30 has no unit"),
        ("", "it is empty"),
        (True, "bool is not a duration"),
        ([1], "a list is not a duration"),
    ],
)
def test_bad_input_says_what_was_wrong_and_shows_the_right_form(text, reason):
    with pytest.raises(DataError) as info:
        parse_duration(text, what="[agent] interval")
    message = str(info.value)
    assert message.startswith("[agent] interval must be a number of seconds or a string such as '30s'")
    assert "'1h30min'" in message and reason in message, message
    assert info.value.fields["value"] == text


def test_negative_and_zero():
    with pytest.raises(DataError, match=r"x must be zero or more; got '-5s'"):
        parse_duration("-5s", what="x")
    with pytest.raises(DataError, match=r"x must be positive; got 0"):
        parse_duration(0, what="x", positive=True)
    assert parse_duration("0s") == 0.0
    with pytest.raises(DataError, match=r"x must be positive and finite; got 'inf'"):
        parse_duration("inf", what="x", positive=True)


@pytest.mark.parametrize("seconds", [0, 1e-3, 0.25, 1.5, 59, 90, 3600, 5400, 3661.5, 86400, 172801, 604800])
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_format_duration_reads_well():
    assert [format_duration(s) for s in (5400, 90, 0.25, 86400, 0)] == ["1h30min", "1min30s", "250ms", "1d", "0s"]
    assert format_duration(dt.timedelta(hours=2)) == "2h"


def test_to_timedelta():
    assert to_timedelta("1h30min") == pd.Timedelta(minutes=90)
    assert to_timedelta(pd.Timedelta(1, unit="ns")) == pd.Timedelta(1, unit="ns")


def test_the_store_module_reexports_the_one_grammar():
    assert store_parse_duration is parse_duration
    now = pd.Timestamp("2026-01-01T12:00", tz="UTC")
    assert resolve_time("1h30min", now=now) == now - pd.Timedelta(minutes=90)
    assert resolve_time("-2 days", now=now) == now - pd.Timedelta(days=2)
    assert resolve_time("2026-01-01T10:00", now=now) == pd.Timestamp("2026-01-01T10:00", tz="UTC")


# ---- the same text means the same everywhere ("1h30min" worked in a rule, not in workbench.toml)

def test_1h30min_in_workbench_toml(tmp_path):
    toml = tmp_path / "workbench.toml"
    toml.write_text('[agent]\ninterval = "1h30min"\n[executor]\nblock_timeout = "1min 30s"\n')
    cfg = load_config(toml, home=tmp_path / "home")
    assert cfg.agent.interval == 5400.0
    assert positive_duration("2 days", "--duration") == 172800.0


def test_1h30min_in_a_rule_and_its_errors():
    rule = rule_from_dict({"name": "r", "kind": "threshold", "metric": "cpu", "fire": 0.9, "for": "1h30min"})
    assert rule.for_seconds == 5400.0
    with pytest.raises(RuleError, match=r"Rule 'r': 'for' must be a duration like .*'parsecs' is not a unit"):
        rule_from_dict({"name": "r", "kind": "threshold", "metric": "cpu", "fire": 0.9, "for": "5 parsecs"})
    with pytest.raises(RuleError, match="must not be negative"):
        rule_from_dict({"name": "r", "kind": "threshold", "metric": "cpu", "fire": 0.9, "for": -1})


def test_1h30min_in_a_jobs_file(tmp_path):
    jobs = parse_jobs({"jobs": {"a": {"cmd": "true", "timeout": "1h30min"}}}, base=tmp_path)
    assert jobs.jobs[0].timeout == 5400.0
    with pytest.raises(JobsFileError, match=r"timeout must be a positive duration such as .*'M' is ambiguous"):
        parse_jobs({"jobs": {"a": {"cmd": "true", "timeout": "5M"}}}, base=tmp_path)


def test_config_errors_are_config_errors():
    with pytest.raises(ConfigError, match=r"\[agent\] interval must be a number of seconds .*'fortnight'"):
        positive_duration("1 fortnight", "[agent] interval", key="interval")


def test_the_cli_takes_the_grammar_and_names_the_flag(tmp_path):
    env_home = tmp_path / "home"
    res = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(env_home), "agent", "--duration", "5M"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert "--duration must be a number of seconds or a string such as '30s'" in res.stderr
    assert "'M' is ambiguous" in res.stderr and "Traceback" not in res.stderr


def test_forecast_horizon_takes_the_grammar():
    from workbench.forecast._store import _steps

    assert _steps("1h30min", pd.Timedelta("15min")) == 6
    with pytest.raises(DataError, match=r"horizon must be a number of steps or a duration .*'M' is ambiguous"):
        _steps("5M", pd.Timedelta("1min"))
