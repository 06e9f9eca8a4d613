"""The agent's ``[alerts]`` / ``[notify]`` parsing: every mistake is named, with what to write instead."""

from __future__ import annotations

import pytest

from workbench.detect import LogChannel, RuleError, WebhookChannel
from workbench.detect._live import LiveAlerts, router_from_config

_RULE = {"rules": [{"name": "cpu_high", "kind": "threshold", "metric": "system.cpu.utilization", "fire": 0.9}]}


@pytest.mark.parametrize(
    ("alerts", "notify", "message"),
    [
        ({"rulez": []}, {}, "[alerts]: unknown key(s) ['rulez']; allowed: ['rules', 'silences']"),
        (_RULE, {"channels": {"ops": {"kind": "webhook"}}}, "[notify.channels.ops] (webhook) needs url"),
        (_RULE, {"channels": {"ops": {"kind": "webhook", "url": "ftp://x"}}}, "url must start with http:// or https://"),
        (_RULE, {"channels": {"ops": {"kind": "log", "level": "x"}}}, "unknown key(s) ['level']; allowed: ['kind']"),
        (_RULE, {"channels": {"ops": {"kind": "email", "host": "smtp"}}}, "(email) needs 'to'"),
        (_RULE, {"channels": {"ops": {"kind": "log"}}, "routes": [{"channels": ["pager"]}]},
         "A route names channel 'pager', which is not defined; channels: ['ops']"),
        (_RULE, {"routes": [{"channels": ["log"], "min_severity": "loud"}]},
         "min_severity must be one of info, warning, critical; got 'loud'"),
        (_RULE, {"channels": {"ops": {"kind": "webhook", "url": "http://x", "password": "hunter2"}}},
         "unknown key(s) ['password']"),
        ({"rules": _RULE["rules"], "silences": [{"rule": "cpu_high", "until": "tomorrow"}]}, {},
         "Silence: unknown key(s) ['until']"),
    ],
)
def test_bad_alert_configuration_is_refused_with_a_clear_message(alerts, notify, message):
    with pytest.raises(RuleError) as err:
        LiveAlerts.from_config(alerts, notify, store=None)
    assert message in str(err.value)


def test_channels_and_routes_are_built_from_the_notify_section():
    router = router_from_config({
        "channels": {"ops": {"kind": "webhook", "url": "https://hooks.example/x", "timeout": 2,
                             "headers_env": {"Authorization": "OPS_TOKEN"}},
                     "log": {"kind": "log"}},
        "routes": [{"channels": ["ops"], "min_severity": "critical", "rules": ["disk_full"]}],
    })
    ops = router.channels["ops"]
    assert isinstance(ops, WebhookChannel) and ops.timeout == 2 and ops.headers_env == {"Authorization": "OPS_TOKEN"}
    assert isinstance(router.channels["log"], LogChannel)
    (route,) = router.routes
    assert (route.channels, route.min_severity, route.rules) == (("ops",), "critical", ("disk_full",))


def test_no_rules_means_no_evaluation_and_no_notify_section_means_the_log():
    assert LiveAlerts.from_config({}, {}, store=None) is None
    live = LiveAlerts.from_config(_RULE, {}, store=None)
    assert list(live.notifier.router.channels) == ["log"] and live.metrics == {"system.cpu.utilization"}
    live.close(timeout=1)
