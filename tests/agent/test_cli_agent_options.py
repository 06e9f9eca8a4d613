"""`workbench agent --interval/--duration` go through the validation the config file uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from workbench.config import config_from_dict
from workbench.errors import ConfigError


def _agent(home, *args, timeout=60):
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    env.pop("WORKBENCH_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "workbench.cli", "agent", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=home.parent)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "0"], "--interval must be positive; got '0'"),
        (["--interval", "0s"], "--interval must be positive; got '0s'"),
        (["--interval", "fast"], "--interval must be a number of seconds or a string such as '30s'"),
        (["--duration", "-5"], "--duration must be positive; got '-5'"),
        (["--duration", "nan"], "--duration must be"),
    ],
)
def test_bad_interval_or_duration_is_refused_before_anything_starts(tmp_path, args, message):
    res = _agent(tmp_path / "home", *args)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert message in res.stderr
    assert "recording host" not in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "home").exists()  # nothing was created


def test_the_config_file_and_the_flag_share_one_rule():
    from workbench.config import positive_duration

    with pytest.raises(ConfigError, match=r"\[agent\] interval must be positive; got 0"):
        config_from_dict({"agent": {"interval": 0}})
    with pytest.raises(ConfigError, match=r"\[agent\] interval must be positive"):
        config_from_dict({"agent": {"interval": float("nan")}})
    with pytest.raises(ConfigError, match=r"--interval must be positive; got '0'"):
        positive_duration("0", "--interval")
    assert positive_duration("1m", "--duration") == 60.0
    assert positive_duration("2.5", "--duration") == 2.5


def test_duration_accepts_a_unit(tmp_path):
    res = _agent(tmp_path / "home", "--duration", "2s", "--interval", "0.5s")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["samples_written"] > 0
