"""Alert rules evaluated on the agent's live samples.

The agent hands every batch of samples it collects to :class:`LiveAlerts`.
It feeds the :class:`AlertManager` only samples of metrics that some rule
watches (a rule selects by exact metric name, so the others cannot matter,
and skipping them keeps the cost per tick near zero), advances the manager's
clock once per loop, and writes records to the store's ``alerts`` table as
soon as they are made, so a threshold rule with no for-duration is on disk
within one loop of its sample. Notifications go through a
:class:`BackgroundRouter` (a worker thread per channel): a webhook that takes
seconds to time out must never delay a collection.

Configuration, in ``workbench.toml``::

    [[alerts.rules]]             # parsed by rules_from_config
    name = "cpu_high"
    kind = "threshold"
    metric = "system.cpu.utilization"
    fire = 0.9

    [notify.channels.ops]        # a table per channel; the key is its name
    kind = "webhook"             # log | webhook | email, or a kind registered with register_channel
    url = "https://hooks.example/alerts"
    headers_env = { Authorization = "OPS_WEBHOOK_TOKEN" }   # value read from the environment
    timeout = "5s"               # per try
    attempts = 3                 # every try, the first included (webhook and email; default 3)
    backoff = "500ms"            # before the 2nd try, doubled for each next one, with jitter

``retries = N``, the older key, still works and means ``attempts = N + 1``.
A channel that fails 3 sends in a row is skipped for a minute (its circuit
breaker), then one trial send goes through.

    [[notify.routes]]            # optional; default: every channel gets everything
    channels = ["ops"]
    min_severity = "warning"

With rules but no ``[notify]`` section, notifications go to the agent's log.

Acknowledgements and silences made from other processes arrive as control
actions (:mod:`workbench.control`); the agent hands them to
:meth:`LiveAlerts.apply_action`. An ack is checkpointed at once (the state
file keeps it, and the alert's lifecycle, across a restart); silences are
kept by id and re-applied from the action log when the agent starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from workbench._logthrottle import RepeatedFailure
from workbench.config import positive_duration
from workbench.detect._channels import Channel, LogChannel
from workbench.detect._delivery import BackgroundRouter
from workbench.detect._errors import RuleError
from workbench.detect._manager import AlertManager
from workbench.detect._registry import channels
from workbench.detect._routing import Route, Router
from workbench.detect._rules import SEVERITIES, Matcher, rules_from_config
from workbench.detect._silence import silence_from_dict
from workbench.durations import parse_duration
from workbench.errors import ConfigError, DataError

__all__ = ["LiveAlerts", "alerts_from_config", "router_from_config"]

log = logging.getLogger("workbench.alerts")

_ALERT_KEYS = {"rules", "silences"}
_NOTIFY_KEYS = {"channels", "routes"}
_ROUTE_KEYS = {"channels", "min_severity", "labels", "rules"}


def _channel(name: str, spec: Any) -> Channel:
    """The channel of one ``[notify.channels.<name>]`` table; its kind comes from the channel registry."""
    kinds = channels.ordered_names()
    if not isinstance(spec, Mapping):
        raise RuleError(f"[notify.channels.{name}] must be a table with kind = "
                        f"{' | '.join(repr(k) for k in kinds)}; got {spec!r}.")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in channels:
        raise RuleError(
            f"[notify.channels.{name}] kind must be one of {', '.join(kinds)}; got {kind!r}.",
            channel=name,
        )
    try:
        how = channels.get(kind)
    except ConfigError as exc:  # a third-party kind that cannot be imported
        raise RuleError(f"[notify.channels.{name}]: {exc}", channel=name) from None
    allowed = how.keys | {"kind"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise RuleError(
            f"[notify.channels.{name}] ({kind}): unknown key(s) {unknown}; allowed: {sorted(allowed)}.",
            channel=name,
        )
    opts = {k: v for k, v in spec.items() if k != "kind"}
    # Durations as everywhere in workbench.toml: timeout = "5s" (a string reached urlopen and failed every send).
    if "timeout" in opts:
        opts["timeout"] = positive_duration(opts["timeout"], f"[notify.channels.{name}] timeout", channel=name)
    if "backoff" in opts:  # 0: retry at once
        try:
            opts["backoff"] = parse_duration(opts["backoff"], what=f"[notify.channels.{name}] backoff")
        except DataError as exc:
            raise RuleError(str(exc), channel=name) from None
    if "attempts" in opts and "retries" in opts:
        raise RuleError(f"[notify.channels.{name}]: give attempts (every try, the first included) or retries "
                        f"(the older key: tries after the first), not both.", channel=name)
    for key, least in (("attempts", 1), ("retries", 0), ("port", 0)):
        value = opts.get(key, least)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise RuleError(f"[notify.channels.{name}] {key} must be a whole number >= {least}; got {value!r}.",
                            channel=name)
    try:
        return how.build(name, opts)
    except TypeError as exc:  # a value of the wrong type reached the constructor
        raise RuleError(f"[notify.channels.{name}] ({kind}): {exc}.", channel=name) from None


def alerts_from_config(alerts: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """The rules and silences of the ``[alerts]`` section, validated (a :class:`RuleError` names what is wrong).

    The agent (through :meth:`LiveAlerts.from_config`) and ``workbench config
    --check`` (:func:`workbench.config.check_config`) both read ``[alerts]``
    through this, so they refuse the same things with the same messages.
    """
    unknown = sorted(set(alerts) - _ALERT_KEYS)
    if unknown:
        raise RuleError(f"[alerts]: unknown key(s) {unknown}; allowed: {sorted(_ALERT_KEYS)} "
                        "(rules as [[alerts.rules]] tables).")
    rules = rules_from_config(alerts)
    silences = alerts.get("silences") or []
    if not isinstance(silences, list):
        raise RuleError(f"[alerts] silences must be a list of tables; got {type(silences).__name__}.")
    return rules, [silence_from_dict(s) for s in silences]


def router_from_config(notify: Mapping[str, Any]) -> Router:
    """A :class:`Router` from the ``[notify]`` section (a log channel if it is empty)."""
    unknown = sorted(set(notify) - _NOTIFY_KEYS)
    if unknown:
        raise RuleError(f"[notify]: unknown key(s) {unknown}; allowed: {sorted(_NOTIFY_KEYS)}.")
    raw = notify.get("channels") or {}
    if not isinstance(raw, Mapping):
        raise RuleError("[notify] channels must be a table of channels, e.g. [notify.channels.ops] kind = 'webhook'; "
                        f"got {type(raw).__name__}.")
    channels = [_channel(str(name), spec) for name, spec in raw.items()] or [LogChannel("log")]
    routes = []
    for i, spec in enumerate(notify.get("routes") or []):
        where = f"[[notify.routes]] #{i + 1}"
        if not isinstance(spec, Mapping):
            raise RuleError(f"{where} must be a table; got {spec!r}.")
        unknown = sorted(set(spec) - _ROUTE_KEYS)
        if unknown:
            raise RuleError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_ROUTE_KEYS)}.")
        names = spec.get("channels")
        if not isinstance(names, list) or not names:
            raise RuleError(f"{where}: channels must be a non-empty list of channel names; got {names!r}.")
        severity = spec.get("min_severity", "info")
        if severity not in SEVERITIES:
            raise RuleError(f"{where}: min_severity must be one of {', '.join(SEVERITIES)}; got {severity!r}.")
        routes.append(Route(tuple(map(str, names)), severity, Matcher.from_mapping(spec.get("labels"), where),
                            tuple(map(str, spec.get("rules", ())))))
    return Router(channels, routes or None)


class LiveAlerts:
    """The agent's alert evaluation: rules on live samples, records to the store."""

    def __init__(self, manager: AlertManager, store: Any, router: Router, *,
                 state_path: str | os.PathLike | None = None, checkpoint_interval: float = 60.0) -> None:
        self.manager = manager
        self.store = store
        self.notifier = BackgroundRouter(router)
        manager.router = self.notifier
        self.metrics = frozenset(r.metric for r in manager.rules)
        self.records_written = 0
        self.record_errors = 0
        self._record_trouble = RepeatedFailure("could not write alert records", logger=log)
        self._unsaved: list[Any] = []  # record frames a failed write left behind; retried
        # What the rules have learned survives a restart (see workbench.detect._state):
        # restored here, checkpointed every ``checkpoint_interval`` and on close.
        self.state_path = Path(state_path) if state_path is not None else None
        self.checkpoint_interval = checkpoint_interval
        self.restored: dict[str, int] = {}
        self.checkpoint_errors = 0
        self._next_checkpoint = time.monotonic() + checkpoint_interval
        # silences made by control actions: silence_id -> (Silence, what `status` shows)
        self.control_silences: dict[str, tuple[Any, dict[str, Any]]] = {}
        if self.state_path is not None:
            from workbench.detect._state import restore_state

            self.restored = restore_state(manager, self.state_path)
            if any(self.restored.values()):
                log.info("alert state restored from %s: %s", self.state_path, self.restored)

    @classmethod
    def from_config(cls, alerts: Mapping[str, Any], notify: Mapping[str, Any], store: Any,
                    state_path: str | os.PathLike | None = None) -> LiveAlerts | None:
        """Build from the ``[alerts]`` and ``[notify]`` sections; ``None`` when no rule is configured.

        A bad rule, silence, channel or route raises :class:`RuleError` (a
        ``ConfigError``) naming it, so the agent refuses to start rather than
        run without the alerts someone relies on.
        """
        rules, silences = alerts_from_config(alerts)
        if not rules:
            return None
        forecaster = None
        if any(r.kind == "predicted" for r in rules):
            # pandas and the forecasters are loaded only when a rule asks for them
            from workbench.detect._predicted import BreachForecaster

            forecaster = BreachForecaster()
        manager = AlertManager(rules, silences=silences, forecaster=forecaster)
        return cls(manager, store, router_from_config(notify), state_path=state_path)

    def observe(self, ts_us: int, host: str, rows: Iterable[tuple[str, str, float]]) -> None:
        """Feed one batch of samples taken at ``ts_us`` (microseconds since the epoch)."""
        ts = ts_us / 1e6
        for metric, labels, value in rows:
            if metric in self.metrics:
                self.manager.observe(ts, host, metric, value, labels)
        if self.manager.records:
            self.save()

    def tick(self) -> None:
        """Advance time: for-durations, absence of data, escalation."""
        self.manager.tick()
        if self.control_silences:
            now = time.time()
            for sid in [k for k, (_, info) in self.control_silences.items() if info["until"] <= now]:
                self.manager.remove_silence(self.control_silences.pop(sid)[0])
        if self.manager.records or self._unsaved:
            self.save()
        if self.state_path is not None and time.monotonic() >= self._next_checkpoint:
            self._next_checkpoint = time.monotonic() + self.checkpoint_interval
            self.checkpoint()

    def checkpoint(self) -> None:
        """Save what the rules have learned; a failure is logged and counted, never raised."""
        if self.state_path is None:
            return
        from workbench.detect._state import save_state

        try:
            save_state(self.manager, self.state_path)
        except (OSError, TypeError, ValueError) as exc:  # a full disk, an unpicklable detector
            self.checkpoint_errors += 1
            log.error("could not save alert state to %s (%s); the next checkpoint retries",
                      self.state_path, exc)

    def save(self) -> None:
        """Write pending records to the ``alerts`` table; keep them for a retry if the disk refuses."""
        if self.manager.records:
            self._unsaved.append(self.manager.drain_arrow())  # Arrow, not a DataFrame: no pandas in the agent
        while self._unsaved:
            frame = self._unsaved[0]
            try:
                self.store.append_records("alerts", frame)
            except OSError as exc:
                self.record_errors += 1
                self._record_trouble.failed(str(exc), f" ({len(frame)} record(s) waiting); retrying on the next tick")
                del self._unsaved[:-100]  # bounded: after a long outage keep the newest
                return
            self.records_written += len(frame)
            self._unsaved.pop(0)
        self._record_trouble.ok()

    # -- control actions (workbench.control) ------------------------------
    def apply_action(self, action: Any) -> str:
        """Apply an ``ack``, ``silence`` or ``unsilence`` action; return what was done.

        Raises (the action is then refused with the message) when it cannot apply:
        no such pending or firing alert, an unknown silence id, a silence that ended
        before the agent got to it.
        """
        args = action.args
        if action.action == "ack":
            self.manager.acknowledge(args["alert_id"], by=action.by or "unknown", note=args.get("note", ""))
            self.save()
            self.checkpoint()  # survives a crash, not only a clean stop
            return f"acknowledged {args['alert_id']} for {action.by}"
        if action.action == "silence":
            if args["until"] <= time.time():
                raise RuleError(f"the silence ended at {_iso(args['until'])}, before the agent applied it")
            self._add_silence(action)
            return f"silenced until {_iso(args['until'])} (silence id {action.action_id})"
        if action.action == "unsilence":
            sid = args["silence_id"]
            entry = self.control_silences.pop(sid, None)
            if entry is None:
                raise RuleError(f"no active silence {sid!r} on this agent; active ones: "
                                f"{sorted(self.control_silences) or 'none'} (`workbench alerts silences`)")
            self.manager.remove_silence(entry[0])
            return f"silence {sid} removed"
        raise RuleError(f"unhandled alert action {action.action!r}")

    def replay_action(self, action: Any, outcome: str) -> None:
        """Re-apply a silence (or its removal) that an earlier run of the agent applied."""
        if outcome != "applied":
            return
        if action.action == "silence" and action.args["until"] > time.time():
            self._add_silence(action)
        elif action.action == "unsilence":
            entry = self.control_silences.pop(action.args["silence_id"], None)
            if entry is not None:
                self.manager.remove_silence(entry[0])

    def _add_silence(self, action: Any) -> None:
        m, until = action.args["matchers"], action.args["until"]
        silence = silence_from_dict({
            "rule": m.get("rule"), "host": m.get("host"), "labels": m.get("labels"), "start": None,
            "end": dt.datetime.fromtimestamp(until, tz=dt.UTC), "comment": action.args.get("comment") or action.reason, "created_by": action.by,
        })
        self.manager.add_silence(silence)
        self.control_silences[action.action_id] = (silence, {
            "silence_id": action.action_id, "matchers": m, "until": until, "by": action.by,
            "comment": action.args.get("comment") or action.reason, "created": action.ts,
        })

    def status(self, limit: int = 20) -> dict[str, Any]:
        """What ``workbench status`` shows: rules, pending and firing alerts, delivery counts."""
        active = [a for a in self.manager.alerts.values() if a.state in ("pending", "firing")]
        firing = sorted((a for a in active if a.state == "firing"),
                        key=lambda a: (-SEVERITIES.index(a.severity), a.since))
        return {
            "rules": len(self.manager.rules),
            "pending": sum(a.state == "pending" for a in active),
            "firing_count": len(firing),
            "firing": [
                {"alert_id": a.alert_id, "rule": a.rule.name, "severity": a.severity, "since": a.since,
                 "value": a.value if a.value == a.value else None, "acked_by": a.acked_by}
                for a in firing[:limit]
            ],
            "pending_alerts": [
                {"alert_id": a.alert_id, "rule": a.rule.name, "severity": a.severity, "since": a.since,
                 "value": a.value if a.value == a.value else None, "acked_by": a.acked_by}
                for a in active if a.state == "pending"
            ][:limit],
            "silences": [info for _, info in self.control_silences.values() if info["until"] > time.time()],
            "records_written": self.records_written,
            "record_errors": self.record_errors,
            "state_restored": dict(self.restored),
            "checkpoint_errors": self.checkpoint_errors,
            "notifications": _delivery_status(self.notifier.status()),
        }

    def close(self, timeout: float = 5.0) -> None:
        """Save the last records and the learned state; give queued notifications ``timeout`` seconds."""
        self.save()
        self.checkpoint()
        self.notifier.close(timeout)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _delivery_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """Delivery counts for ``workbench status``: per channel sent/failed, totals of queued/dropped."""
    return {
        "sent": dict(status.get("sent", {})),
        "failed": dict(status.get("failed", {})),
        "queued": sum(status.get("queued", {}).values()),
        "dropped": sum(status.get("dropped", {}).values()),
    }
