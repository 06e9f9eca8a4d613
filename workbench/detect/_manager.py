"""Alert lifecycle: pending -> firing -> resolved, with acks, silences, escalation, de-dup.

:class:`AlertManager` is a pure policy over an injectable clock: ``observe``
feeds it samples (the agent calls it for every sample it writes, so a rule
with no for-duration fires on the sample itself), ``tick`` advances time
(for-durations, absence of data, escalation, flap recovery). Every state
change becomes a record (a dict; :meth:`drain_records` gives a DataFrame for
the store's ``alerts`` table) carrying its evidence.

The agent runs this on every sample it collects, so the module imports
neither pandas nor the detector registry (scikit-learn through the
IsolationForest detector): pandas is imported by the methods that return
DataFrames or build a history for a forecaster, detectors by the first
anomaly rule that needs one. An agent with threshold rules stays small
(docs/benchmarks/agent.md).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from numbers import Real
from typing import TYPE_CHECKING, Any

from workbench.detect._errors import RuleError
from workbench.detect._notify import Notification, Router
from workbench.detect._rules import SEVERITIES, Rule
from workbench.detect._silence import Silence
from workbench.labels import format_labels, parse_labels

if TYPE_CHECKING:
    import pandas as pd

    from workbench.detect._base import Detector

__all__ = ["Alert", "AlertManager", "Forecaster", "RECORD_COLUMNS"]

#: ``forecaster(history, horizon_seconds, level, op) -> probability`` that the
#: series crosses ``level`` (``op`` '>' or '<') within the horizon. Any
#: forecaster can be adapted to it, so this module does not depend on one.
Forecaster = Callable[["pd.Series", float, float, str], float]

RECORD_COLUMNS = [
    "ts", "alert_id", "rule", "kind", "event", "state", "previous", "host", "metric", "labels",
    "severity", "value", "score", "probability", "silenced", "flapping", "by", "note", "summary",
]


@dataclass
class Alert:
    """The live state of one rule on one series."""

    alert_id: str
    rule: Rule
    host: str
    metric: str
    labels: str
    state: str = "inactive"
    severity: str = ""
    since: float = 0.0
    fired_at: float | None = None
    active: bool = False
    value: float = float("nan")
    score: float = float("nan")
    probability: float = float("nan")
    acked_by: str | None = None
    ack_note: str = ""
    escalated: bool = False
    flapping: bool = False
    last_notified: float | None = None
    fires: deque = field(default_factory=lambda: deque(maxlen=32))


def detector_key(rule: Rule) -> str:
    """Which detector of a series an anomaly rule uses: rules with the same detector and
    parameters share one (and its saved state, see :mod:`workbench.detect._state`)."""
    return f"{rule.detector}{rule.params}"


@dataclass
class _Series:
    history: deque
    last_seen: float
    detectors: dict[str, Detector] = field(default_factory=dict)


class AlertManager:
    """Evaluate rules on samples and run each alert's lifecycle.

    Parameters: ``clock`` (seconds since the epoch; tests pass a fake),
    ``router`` (where notifications go; ``None`` keeps them in
    :attr:`outbox`), ``forecaster`` (needed by ``predicted`` rules),
    ``flap_window``/``flap_limit`` (an alert that fires ``flap_limit`` times
    within ``flap_window`` seconds is *flapping*: its notifications are held
    until it has been quiet for a whole window), ``history`` (samples kept
    per series for rates and forecasts).
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        clock: Callable[[], float] = time.time,
        router: Router | None = None,
        silences: Iterable[Silence] = (),
        forecaster: Forecaster | None = None,
        flap_window: float = 900.0,
        flap_limit: int = 4,
        history: int = 2000,
    ) -> None:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise RuleError(f"Rule names must be unique; got {names}.")
        if forecaster is None and any(r.kind == "predicted" for r in rules):
            raise RuleError(
                "A 'predicted' rule needs a forecaster: AlertManager(rules, forecaster=f) with "
                "f(history, horizon_seconds, level, op) -> probability."
            )
        self.rules = list(rules)
        self.clock = clock
        self.router = router
        self.silences: list[Silence] = list(silences)
        self.forecaster = forecaster
        self.flap_window = flap_window
        self.flap_limit = flap_limit
        self.history = history
        self.alerts: dict[str, Alert] = {}
        self.series: dict[tuple[str, str, str], _Series] = {}
        self.records: list[dict[str, Any]] = []
        self.outbox: list[Notification] = []
        self._pending_notes: list[tuple[str, Alert]] = []

    # -- input ----------------------------------------------------------
    def observe(self, ts: Any, host: str, metric: str, value: float, labels: Any = "") -> list[dict]:
        """Feed one sample; evaluate the rules that select its series. Returns new records."""
        start = len(self.records)
        now = _seconds(ts)
        label_str = format_labels(parse_labels(labels)) if isinstance(labels, str) else format_labels(labels)
        label_map = parse_labels(label_str)
        key = (host, metric, label_str)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = _Series(deque(maxlen=self.history), now)
        value = float(value) if value is not None else float("nan")
        series.history.append((now, value))
        series.last_seen = now
        for rule in self.rules:
            if not rule.selects(host, metric, label_map):
                continue
            alert = self._alert(rule, host, metric, label_str)
            if rule.kind == "absent":
                self._evaluate(alert, False, now)
                continue
            if value != value:  # NaN: nothing to judge
                continue
            active, evidence = self._condition(rule, alert, series, now, value)
            for k, v in evidence.items():
                setattr(alert, k, v)
            self._evaluate(alert, active, now)
        self._flush(now)
        return self.records[start:]

    def tick(self, now: float | None = None) -> list[dict]:
        """Advance time: for-durations, absence, escalation, flap recovery, repeats."""
        start = len(self.records)
        now = self.clock() if now is None else now
        for rule in self.rules:
            if rule.kind != "absent":
                continue
            for (host, metric, labels), series in self.series.items():
                if rule.selects(host, metric, parse_labels(labels)):
                    alert = self._alert(rule, host, metric, labels)
                    alert.value = now - series.last_seen
                    self._evaluate(alert, now - series.last_seen > rule.after_seconds, now)
        for alert in list(self.alerts.values()):
            if alert.state == "pending" and alert.active:
                self._evaluate(alert, True, now)
            if alert.flapping and not any(now - t < self.flap_window for t in alert.fires):
                alert.flapping = False
                self._record(alert, now, "flap_ended", alert.state)
            if alert.state != "firing":
                continue
            rule = alert.rule
            if (
                rule.escalate_after_seconds is not None
                and not alert.escalated
                and alert.acked_by is None
                and now - (alert.fired_at or now) >= rule.escalate_after_seconds
            ):
                alert.escalated = True
                previous = alert.severity
                alert.severity = max(alert.severity, rule.escalate_to, key=SEVERITIES.index)
                self._record(alert, now, "escalated", "firing", note=f"from {previous}")
                self._notify("escalated", alert)
            elif (
                rule.repeat_interval_seconds is not None
                and alert.acked_by is None
                and alert.last_notified is not None
                and now - alert.last_notified >= rule.repeat_interval_seconds
            ):
                self._notify("firing", alert)
        self._flush(now)
        return self.records[start:]

    # -- people ---------------------------------------------------------
    def acknowledge(self, alert_id: str, by: str, note: str = "") -> dict:
        """Mark a firing alert as seen by ``by``; stops escalation and repeats."""
        alert = self.alerts.get(alert_id)
        if alert is None or alert.state not in ("firing", "pending"):
            raise RuleError(
                f"No pending or firing alert {alert_id!r} to acknowledge; current ones: "
                f"{sorted(a.alert_id for a in self.alerts.values() if a.state in ('firing', 'pending'))}.",
                alert_id=alert_id,
            )
        if not by:
            raise RuleError("An acknowledgement needs 'by' (who acknowledges).", alert_id=alert_id)
        alert.acked_by, alert.ack_note = by, note
        return self._record(alert, self.clock(), "acknowledged", alert.state, by=by, note=note)

    def add_silence(self, silence: Silence) -> None:
        self.silences.append(silence)

    def remove_silence(self, silence: Silence) -> bool:
        """Take ``silence`` (the very object given to :meth:`add_silence`) out; True if it was there."""
        for i, s in enumerate(self.silences):
            if s is silence:
                del self.silences[i]
                return True
        return False

    def firing(self) -> pd.DataFrame:
        """Current pending and firing alerts, most severe first."""
        import pandas as pd

        rows = [
            {
                "alert_id": a.alert_id, "rule": a.rule.name, "state": a.state, "severity": a.severity,
                "host": a.host, "metric": a.metric, "labels": a.labels, "since": pd.Timestamp(a.since, unit="s", tz="UTC"),
                "value": a.value, "score": a.score, "probability": a.probability,
                "acked_by": a.acked_by, "flapping": a.flapping,
            }
            for a in self.alerts.values() if a.state in ("pending", "firing")
        ]
        frame = pd.DataFrame(rows, columns=["alert_id", "rule", "state", "severity", "host", "metric", "labels", "since", "value", "score", "probability", "acked_by", "flapping"])
        order = frame["severity"].map(SEVERITIES.index) if len(frame) else frame["severity"]
        return frame.assign(_o=order).sort_values(["_o", "since"], ascending=[False, True]).drop(columns="_o").reset_index(drop=True)

    def drain_records(self) -> pd.DataFrame:
        """Take the records made so far as a DataFrame (for ``store.append_records('alerts', df)``)."""
        import pandas as pd

        rows, self.records = self.records, []
        frame = pd.DataFrame(rows, columns=RECORD_COLUMNS)
        frame["ts"] = pd.to_datetime(frame["ts"], unit="s", utc=True)
        return frame

    def drain_arrow(self):
        """Take the records made so far as an Arrow table (the columns of :data:`RECORD_COLUMNS`).

        The agent's way to the ``alerts`` table: the DataFrame of
        :meth:`drain_records` would load pandas (~45 MiB resident) into the
        agent the first time a rule changes state.
        """
        rows, self.records = self.records, []
        return _records_table(rows)

    # -- internals ------------------------------------------------------
    def _alert(self, rule: Rule, host: str, metric: str, labels: str) -> Alert:
        alert_id = f"{rule.name}|{host}|{metric}|{labels}"
        alert = self.alerts.get(alert_id)
        if alert is None:
            alert = self.alerts[alert_id] = Alert(alert_id, rule, host, metric, labels, severity=rule.severity)
        return alert

    def _condition(self, rule: Rule, alert: Alert, series: _Series, now: float, value: float):
        firing = alert.state == "firing"
        level = rule.resolve if firing else rule.fire
        if rule.kind == "threshold":
            return rule.breached(value, level), {"value": value}
        if rule.kind == "rate":
            past = [(t, v) for t, v in series.history if now - t <= rule.window_seconds and v == v]
            if len(past) < 2 or past[-1][0] <= past[0][0]:
                return firing, {"value": value}
            rate = (past[-1][1] - past[0][1]) / (past[-1][0] - past[0][0])
            return rule.breached(rate, level), {"value": value, "score": rate}
        if rule.kind == "anomaly":
            key = detector_key(rule)
            det = series.detectors.get(key)
            if det is None:
                # The registry loads every detector (scikit-learn, pandas): on first use only.
                from workbench.detect._registry import make_detector

                det = series.detectors[key] = make_detector(rule.detector, **dict(rule.params))
            score = det.update(now, value)
            return rule.breached(score, level), {"value": value, "score": score}
        # predicted
        name = (alert.host, alert.metric, alert.labels)  # lets a forecaster cache per series
        from_samples = getattr(self.forecaster, "from_samples", None)
        if from_samples is not None:  # BreachForecaster: the samples as they are, no pandas in the agent
            prob = float(from_samples(series.history, rule.horizon_seconds, rule.fire, rule.op, name=name))
            return prob >= rule.probability, {"value": value, "probability": prob}
        import pandas as pd

        hist = pd.Series(
            [v for _, v in series.history],
            index=pd.to_datetime([t for t, _ in series.history], unit="s", utc=True),
            name=(alert.host, alert.metric, alert.labels),  # lets a forecaster cache per series
        )
        prob = float(self.forecaster(hist, rule.horizon_seconds, rule.fire, rule.op))
        return prob >= rule.probability, {"value": value, "probability": prob}

    def _evaluate(self, alert: Alert, active: bool, now: float) -> None:
        alert.active = active
        rule, state = alert.rule, alert.state
        if state in ("inactive", "resolved"):
            if active:
                if rule.for_seconds > 0:
                    self._transition(alert, "pending", now)
                else:
                    self._fire(alert, now)
        elif state == "pending":
            if not active:
                self._transition(alert, "inactive", now, event="cancelled")
            elif now - alert.since >= rule.for_seconds:
                self._fire(alert, now)
        elif state == "firing" and not active:
            self._transition(alert, "resolved", now)
            self._notify("resolved", alert)

    def _fire(self, alert: Alert, now: float) -> None:
        alert.fired_at = now
        alert.acked_by, alert.ack_note, alert.escalated = None, "", False
        alert.severity = alert.rule.severity
        alert.fires.append(now)
        self._transition(alert, "firing", now)
        recent = sum(1 for t in alert.fires if now - t < self.flap_window)
        if recent >= self.flap_limit and not alert.flapping:
            alert.flapping = True
            self._record(alert, now, "flapping", "firing")
            self._notify("flapping", alert, force=True)
        self._notify("firing", alert)

    def _transition(self, alert: Alert, state: str, now: float, event: str | None = None) -> None:
        previous = alert.state
        alert.state, alert.since = state, now
        self._record(alert, now, event or state, state, previous=previous)

    def _silenced(self, alert: Alert, now: float) -> bool:
        labels = parse_labels(alert.labels)
        return any(s.matches(alert.rule.name, alert.host, labels, now) for s in self.silences)

    def _record(self, alert: Alert, now: float, event: str, state: str, previous: str | None = None,
                by: str | None = None, note: str | None = None) -> dict:
        row = {
            "ts": now, "alert_id": alert.alert_id, "rule": alert.rule.name, "kind": alert.rule.kind,
            "event": event, "state": state, "previous": previous if previous is not None else state,
            "host": alert.host, "metric": alert.metric, "labels": alert.labels,
            "severity": alert.severity, "value": float(alert.value), "score": float(alert.score),
            "probability": float(alert.probability), "silenced": self._silenced(alert, now),
            "flapping": alert.flapping, "by": by, "note": note, "summary": alert.rule.summary,
        }
        self.records.append(row)
        return row

    def _notify(self, event: str, alert: Alert, force: bool = False) -> None:
        if (alert.flapping and not force) or self._silenced(alert, self.clock()):
            return
        self._pending_notes.append((event, alert))

    def _flush(self, now: float) -> None:
        """Group this evaluation's notifications by (rule, event, severity): one message each."""
        groups: dict[tuple[str, str, str], list[Alert]] = {}
        for event, alert in self._pending_notes:
            group = groups.setdefault((alert.rule.name, event, alert.severity), [])
            if alert not in group:  # de-duplicate within one evaluation
                group.append(alert)
        self._pending_notes.clear()
        for (rule, event, severity), alerts in groups.items():
            note = Notification(
                event, rule, severity,
                tuple(
                    {"alert_id": a.alert_id, "host": a.host, "metric": a.metric, "labels": a.labels,
                     "value": float(a.value), "score": float(a.score), "probability": float(a.probability),
                     "summary": a.rule.summary}
                    for a in alerts
                ),
                ts=now,
            )
            for a in alerts:
                a.last_notified = now
            if self.router is None:
                self.outbox.append(note)
            else:
                self.router.send(note)


#: Arrow types of :data:`RECORD_COLUMNS` as :meth:`AlertManager.drain_arrow` writes them.
_RECORD_TYPES = {
    "ts": "timestamp", "value": "double", "score": "double", "probability": "double",
    "silenced": "bool", "flapping": "bool",
}


def _records_table(rows: list[dict]):
    """Records as an Arrow table, built from raw buffers.

    Not ``pa.array``/``pa.Table.from_pylist``: both probe their input for
    pandas objects and so import pandas.
    """
    import array

    import pyarrow as pa

    n = len(rows)
    columns, fields = [], []
    for name in RECORD_COLUMNS:
        kind = _RECORD_TYPES.get(name, "string")
        values = [r[name] for r in rows]
        if kind == "timestamp":
            type_ = pa.timestamp("us", tz="UTC")
            data = array.array("q", (round(v * 1e6) for v in values))
            col = pa.Array.from_buffers(type_, n, [None, pa.py_buffer(data)])
        elif kind == "double":
            type_ = pa.float64()
            col = pa.Array.from_buffers(type_, n, [None, pa.py_buffer(array.array("d", map(float, values)))])
        elif kind == "bool":
            type_ = pa.bool_()
            bits = bytearray((n + 7) // 8)
            for i, v in enumerate(values):
                if v:
                    bits[i >> 3] |= 1 << (i & 7)
            col = pa.Array.from_buffers(type_, n, [None, pa.py_buffer(bytes(bits))])
        else:
            type_ = pa.string()
            builder = pa.lib.StringBuilder()
            for v in values:
                builder.append(None if v is None else str(v))
            col = builder.finish()
        columns.append(col)
        fields.append(pa.field(name, type_))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _seconds(ts: Any) -> float:
    """Epoch seconds of ``ts``: a number (the agent's hot path, no pandas), a datetime or anything pandas parses."""
    if isinstance(ts, Real):  # int, float and numpy's numbers alike
        return float(ts)
    if isinstance(ts, datetime) and ts.tzinfo is not None:
        return ts.timestamp()
    import pandas as pd

    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.timestamp()


