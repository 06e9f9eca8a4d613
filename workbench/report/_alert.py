"""A failed scheduled report raises an alert through the alert rules; the next good run resolves it.

Each run's outcome is one sample of ``workbench.report.failed`` (1 failed,
0 ok; label ``report=NAME``) fed to an :class:`~workbench.detect.AlertManager`
with the rules of ``[alerts]`` that watch that metric, or, when none does,
the built-in rule below. Records go to the ``alerts`` table and
notifications through the ``[notify]`` channels, as for any other alert;
the rules' state (what is firing) is kept in ``reports/.alert_state`` so a
later success resolves the alert a failure raised.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

__all__ = ["METRIC", "DEFAULT_RULE", "report_outcome_alert"]

METRIC = "workbench.report.failed"
DEFAULT_RULE = {"name": "report_failed", "kind": "threshold", "metric": METRIC, "op": ">", "fire": 0.5,
                "severity": "warning"}


def report_outcome_alert(home: str | Path, name: str, result: Any, *, host: str = "",
                         alerts: dict[str, Any] | None = None, notify: dict[str, Any] | None = None) -> int:
    """Feed this run's outcome to the rules; returns how many alert records it wrote (fired, resolved)."""
    from workbench.detect._live import LiveAlerts, router_from_config
    from workbench.detect._manager import AlertManager
    from workbench.detect._rules import rule_from_dict, rules_from_config
    from workbench.store import Store

    failed = result.status != "ok"
    rules = [r for r in rules_from_config(alerts or {}) if r.metric == METRIC] if alerts else []
    detailed = None
    if not rules:
        # The rule stays the same from run to run (its saved state is restored only into an
        # unchanged rule, and a failure is resolved by the next good run); this run's cell and
        # error go into its records and notifications through a copy with them as summary.
        base = rule_from_dict(DEFAULT_RULE)
        rules = [base]
        if failed:
            detailed = dataclasses.replace(base, summary=f"report {name} failed at {result.describe_failure()}"[:500])
    store = Store(home, host=host or None)
    state = Path(home) / "reports" / ".alert_state"
    state.parent.mkdir(parents=True, exist_ok=True)
    live = LiveAlerts(AlertManager(rules), store, router_from_config(notify or {}), state_path=state)
    manager = live.manager

    def use(rule):
        manager.rules = [rule]
        for a in manager.alerts.values():
            a.rule = rule

    if detailed is not None:
        use(detailed)
    live.observe(int(time.time() * 1e6), store.host, [(METRIC, f"report={name}", 1.0 if failed else 0.0)])
    live.tick()
    if detailed is not None:
        use(rules[0])  # the state is saved under the unchanged rule
    live.close()
    return live.records_written
