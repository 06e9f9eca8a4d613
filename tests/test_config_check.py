"""`workbench config --check` checks what the agent checks at start, with the same messages, and exits
non-zero when anything is wrong (issue 13, item 12)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.agent import Agent
from workbench.config import check_config, config_from_dict, executor_options, load_config
from workbench.detect import Notification
from workbench.detect._live import router_from_config
from workbench.errors import ConfigError

RULE = '[[alerts.rules]]\nname = "cpu_high"\nkind = "threshold"\nmetric = "system.cpu.utilization"\nfire = 0.9\n'

BAD = {
    "rule without kind": ('[[alerts.rules]]\nname = "r"\nmetric = "system.cpu.utilization"\nfire = 0.9\n',
                          "Rule 'r': 'kind' must be one of threshold, rate, anomaly, absent, predicted; got None."),
    "unknown rule key": (RULE + "firee = 1\n", "Rule 'cpu_high' (threshold): unknown key(s) ['firee']"),
    "bad for": (RULE + 'for = "5 parsecs"\n', "Rule 'cpu_high': 'for' must be a duration like '30s'"),
    "unknown collector": ("[collectors.cpux]\ninterval = 5\n", "Unknown collector(s) ['cpux'] in [collectors]"),
    "collector interval 0": ('[collectors.cpu]\ninterval = "0s"\n', "[collectors.cpu] interval must be positive"),
    "bad channel kind": ('[notify.channels.ops]\nkind = "pager"\n',
                         "[notify.channels.ops] kind must be one of log, webhook, email; got 'pager'."),
    "channel without rules": ('[notify.channels.ops]\nkind = "webhook"\nurl = "https://h.example/x"\ntimeoutt = 5\n',
                              "[notify.channels.ops] (webhook): unknown key(s) ['timeoutt']"),
    "bad webhook timeout": (RULE + '[notify.channels.ops]\nkind = "webhook"\nurl = "https://h.example/x"\n'
                            'timeout = "soon"\n', "[notify.channels.ops] timeout must be a number of seconds"),
    "executor key": ("[executor]\nmax_workerz = 4\n", "Unknown key 'max_workerz' in [executor]. Did you mean "
                                                      "'max_workers'?"),
    "executor value": ('[executor]\nbackpressure = "drop"\n', "[executor] backpressure must be one of 'block', "
                                                              "'reject'; got 'drop'."),
}


def _wb(tmp_path, toml: str, *args, timeout=120):
    (cfg := tmp_path / "workbench.toml").write_text(toml)
    env = dict(os.environ)
    env.pop("WORKBENCH_HOME", None)
    env.pop("WORKBENCH_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(tmp_path / "home"), "--config",
                           str(cfg), *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=tmp_path)


def _load(tmp_path, toml: str):
    (cfg := tmp_path / "workbench.toml").write_text(toml)
    c = load_config(cfg)
    c.home = tmp_path / "home"
    return c


@pytest.mark.parametrize("case", list(BAD))
def test_check_refuses_what_the_agent_refuses_with_the_same_message(tmp_path, case):
    toml, message = BAD[case]
    cfg = _load(tmp_path, toml)
    problems = check_config(cfg)
    assert [p.level for p in problems] == ["error"], problems  # `workbench config` exited 0 on all but one
    assert message in problems[0].message
    with pytest.raises(ConfigError) as err:
        Agent(cfg)
    assert str(err.value) == problems[0].message  # the same words


@pytest.mark.parametrize("case", ["rule without kind", "bad webhook timeout"])
def test_config_check_and_agent_exit_2_with_the_message(tmp_path, case):
    toml, message = BAD[case]
    res = _wb(tmp_path, toml, "config", "--check")
    assert res.returncode == 2, (case, res.stdout, res.stderr)
    assert f"error: {message}" in res.stderr, res.stderr
    assert "the agent would refuse to start" in res.stdout
    agent = _wb(tmp_path, toml, "agent", "--duration", "1")
    assert agent.returncode == 2, (case, agent.stderr)
    assert f"error: {message}" in agent.stderr and "recording host" not in agent.stderr, agent.stderr
    assert "Traceback" not in res.stderr + agent.stderr
    plain = _wb(tmp_path, toml, "config")  # without --check: the configuration, then the same verdict
    assert plain.returncode == 2 and f"error: {message}" in plain.stderr and '"agent"' in plain.stdout


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    toml = "".join(BAD[c][0] for c in ("bad for", "unknown collector", "executor key"))
    res = _wb(tmp_path, toml, "config", "--check")
    assert res.returncode == 2
    for case in ("bad for", "unknown collector", "executor key"):
        assert BAD[case][1] in res.stderr, (case, res.stderr)
    assert "3 error(s)" in res.stdout


def test_a_misspelled_metric_warns_with_the_closest_names(tmp_path, caplog):
    toml = RULE.replace("system.cpu.utilization", "system.cpu.utilisation")
    res = _wb(tmp_path, toml, "config", "--check")
    assert res.returncode == 1, (res.stdout, res.stderr)  # a warning: non-zero, but the agent would start
    assert "warning: Rule 'cpu_high' watches metric 'system.cpu.utilisation'" in res.stderr
    assert "Did you mean 'system.cpu.utilization'" in res.stderr
    with caplog.at_level(logging.WARNING, logger="workbench.agent"):
        agent = Agent(_load(tmp_path, toml))
    assert agent.alerts is not None  # it starts, with its rule
    assert "Rule 'cpu_high' watches metric 'system.cpu.utilisation'" in caplog.text
    agent.alerts.close()


def test_an_application_metric_the_home_has_seen_is_not_a_warning(tmp_path):
    from workbench.catalog import MetricSpec
    from workbench.store import Store

    Store(tmp_path / "home").register_metrics([MetricSpec("app.jobs.latency", "s", "gauge", "Job latency.", "app")])
    res = _wb(tmp_path, RULE.replace("system.cpu.utilization", "app.jobs.latency"), "config", "--check")
    assert res.returncode == 0, res.stderr
    assert "no problems; the agent would start" in res.stdout


def test_a_good_config_passes(tmp_path):
    toml = RULE + ('for = "2min"\n[notify.channels.ops]\nkind = "webhook"\nurl = "https://h.example/x"\n'
                   'timeout = "5s"\nbackoff = "500ms"\n[executor]\nmax_workers = 4\nprofile = "cpu"\n')
    res = _wb(tmp_path, toml, "config", "--check")
    assert res.returncode == 0, res.stderr
    assert not res.stderr


def test_config_says_when_workbench_home_is_unset(tmp_path):
    res = _wb(tmp_path, "", "config")
    assert res.returncode == 0, res.stderr
    assert "WORKBENCH_HOME=''" not in res.stdout and "WORKBENCH_HOME not set; --home given" in res.stdout


@pytest.fixture
def hook():
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/hook", got
    srv.shutdown()
    srv.server_close()


def test_webhook_timeout_is_a_duration_and_sends(hook):
    """timeout = "5s" passed the agent's start and then failed every send; now it is 5 seconds."""
    url, got = hook
    cfg = config_from_dict({"notify": {"channels": {"ops": {"kind": "webhook", "url": url, "timeout": "5s",
                                                            "retries": 0}}}})
    assert check_config(cfg) == []
    router = router_from_config(cfg.notify)
    assert router.channels["ops"].timeout == 5.0
    note = Notification("firing", "cpu_high", "warning", ({"alert_id": "a", "host": "h", "metric": "m",
                                                           "labels": "", "value": 1.0},), ts=1.0)
    assert router.send(note) == ["ops"]
    assert got and got[0]["rule"] == "cpu_high"


def test_channels_made_in_python_take_durations_too():
    from workbench.detect import EmailChannel, WebhookChannel

    assert WebhookChannel("https://h.example/x", timeout="5s").timeout == 5.0
    assert EmailChannel(host="smtp.example", to=["a@example"], sender="b@example", timeout="1min").timeout == 60.0
    with pytest.raises(ConfigError, match="WebhookChannel 'webhook': timeout must be positive"):
        WebhookChannel("https://h.example/x", timeout=0)


def test_executor_options_are_keyword_arguments():
    cfg = config_from_dict({"executor": {"max_workers": 3, "block_timeout": "2min", "backend": "process"}})
    assert executor_options(cfg) == {"max_workers": 3, "block_timeout": 120.0, "backend": "process"}
    with pytest.raises(ConfigError, match=r"\[executor\] max_workers must be a whole number >= 1; got 0"):
        executor_options(config_from_dict({"executor": {"max_workers": 0}}))
