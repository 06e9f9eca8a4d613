"""--home, --config and -v work after any sub-command too, nested ones included (issue 13, item 7)."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys

import pytest

from workbench.cli import build_parser


def _wb(*args, cwd, timeout=90):
    env = dict(os.environ)
    env.pop("WORKBENCH_HOME", None)
    env.pop("WORKBENCH_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def _subparsers(parser: argparse.ArgumentParser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                yield (*path, name), sp
                yield from _subparsers(sp, (*path, name))


def test_every_subcommand_takes_the_global_options():
    """Including those other modules register (report, run): they come through the same add_parser."""
    names = []
    for path, sp in _subparsers(build_parser()):
        opts = {o for a in sp._actions for o in a.option_strings}
        assert {"--home", "--config", "-v", "--verbose"} <= opts, path
        names.append(" ".join(path))
    assert {"agent", "status", "alerts ack", "executor pause", "up"} <= set(names)


def test_status_and_config_after_the_subcommand(tmp_path):
    home = tmp_path / "h"
    res = _wb("status", "--home", str(home), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr  # was "unrecognized arguments: --home"
    assert json.loads(res.stdout)["home"] == str(home.resolve())
    cfg = tmp_path / "w.toml"
    cfg.write_text('[agent]\ninterval = "7s"\n')
    res = _wb("config", "--config", str(cfg), "--home", str(home), "-v", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout[res.stdout.index("{"):])
    assert data["home"] == str(home) and data["agent"]["interval"] == 7.0


def test_the_later_home_wins(tmp_path):
    res = _wb("--home", str(tmp_path / "a"), "status", "--home", str(tmp_path / "b"), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["home"] == str((tmp_path / "b").resolve())
    res = _wb("--home", str(tmp_path / "a"), "status", "--json", cwd=tmp_path)
    assert json.loads(res.stdout)["home"] == str((tmp_path / "a").resolve())  # not lost by the sub-command


def test_agent_records_into_the_home_given_after_it(tmp_path):
    home = tmp_path / "rec"
    res = _wb("agent", "--home", str(home), "--duration", "1.5s", "-v", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["samples_written"] > 0
    assert list(home.glob("hosts/*")), list(home.iterdir())
    assert not (tmp_path / "data").exists()  # not the default home


def test_nested_subcommands_take_home(tmp_path):
    home = tmp_path / "n"
    res = _wb("alerts", "ack", "nope", "--home", str(home), "--wait", "0", cwd=tmp_path)
    assert res.returncode == 2 and str(home) in res.stderr, res.stderr  # looked in the home given
    assert "unrecognized" not in res.stderr
    res = _wb("executor", "pause", "nightly", "--home", str(home), "--wait", "0", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert str(home) in res.stderr  # "no executor named 'nightly' has run in <home> yet"
    res = _wb("sql", "select count(*) as n from actions", "--home", str(home), "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [{"n": 1}]


def test_up_takes_home_as_make_run_args_passes_it(tmp_path):
    """`make run ARGS="--home X"` runs `workbench up --home X`; a busy port stops it before anything starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        home = tmp_path / "up-home"
        res = _wb("up", "--home", str(home), "--no-demo", "--port", str(port), cwd=tmp_path)
    assert "unrecognized" not in res.stderr
    assert res.returncode == 2 and f"Port {port}" in res.stderr, res.stderr
    assert home.is_dir() and not (tmp_path / "data").exists()


@pytest.mark.parametrize(("argv", "message"), [(["status", "--home"], "--home: expected one argument"),
                                               (["status", "--bogus"], "unrecognized arguments: --bogus")])
def test_bad_global_option_use_is_still_an_argparse_error(tmp_path, argv, message):
    res = _wb(*argv, cwd=tmp_path)
    assert res.returncode == 2 and message in res.stderr, res.stderr
