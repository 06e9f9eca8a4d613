"""The alert panel: firing, pending and recently resolved alerts with their
evidence; acknowledge and silence with a confirmation and a reason; operator
labels (a real incident or a false alarm, :mod:`workbench.labels`); history.

Acting goes through control records (:mod:`workbench.alerts`): the panel
appends the action, the agent that owns the alert applies it within a couple
of seconds and records the outcome, which the panel then shows.
"""

from __future__ import annotations

import math
import time
from typing import Any

import ipywidgets as W

from workbench.labels import parse_labels
from workbench.ui._base import (
    Panel,
    SentActions,
    ago,
    buttons,
    close_tree,
    esc,
    files_signature,
    fmt_value,
    log,
    sparkline_svg,
)
from workbench.ui._base import ts as _ts
from workbench.ui._widgets import Table

__all__ = ["AlertPanel"]

SILENCE_FOR = ("30min", "1h", "2h", "8h", "1d", "7d")


class AlertPanel(Panel):
    """Alerts of every host (or of ``host`` with ``only_host``), most severe first."""

    title_text = "Alerts"

    def __init__(self, store: Any = None, *, only_host: bool = False, by: str | None = None, **kwargs: Any) -> None:
        self.only_host = only_host
        self.by = by
        self._summary = W.HTML()
        self._list = W.VBox()
        self._list.add_class("wb-alert-list")
        self._confirm = W.VBox(layout=W.Layout(display="none"))
        self._confirm.add_class("wb-confirm")
        self._confirm_text = W.HTML()
        self._reason = W.Text(placeholder="reason (kept in the audit log)", description="Reason",
                              layout=W.Layout(width="100%"))
        self._duration = W.Dropdown(options=SILENCE_FOR, value="2h", description="For")
        self._verdict = W.ToggleButtons(options=[("Real incident", "incident"), ("False alarm", "false_alarm")],
                                        value="incident", style={"button_width": "110px"})
        ok, cancel = buttons([("Confirm", "apply this action", self._do_confirm),
                              ("Cancel", "do nothing", lambda _b: self._hide_confirm())])
        ok.button_style = "primary"
        ok.add_class("wb-confirm-ok")
        self._confirm.children = [self._confirm_text, self._verdict, self._reason, self._duration, W.HBox([ok, cancel])]
        self._status = W.HTML()
        self._note = ""  # what the last label did (labels are written here, no owner to ask)
        self._labelled: dict[str, str] = {}
        self._pending_action: tuple[str, dict] | None = None
        self._sent = SentActions("the agent", "(is an agent running for that host? it applies when the agent starts)")
        self.history = Table(
            columns=[{"key": "ts", "label": "Time (UTC)"}, {"key": "event", "label": "Event"},
                     {"key": "rule", "label": "Rule"}, {"key": "host", "label": "Host"},
                     {"key": "severity", "label": "Severity"}, {"key": "value", "label": "Value", "numeric": True},
                     {"key": "by", "label": "By / note"}],
            sort_by="ts", title="alert history", empty_text="no alert records in the last day",
        )
        self._history_box = W.Accordion(children=[self.history], titles=("History (24 h)",), selected_index=None)
        self._ids: tuple[str, ...] = ()
        self._rows: dict[tuple[str, str], _Row] = {}
        self._empty = W.HTML('<div class="wb-empty">No alerts firing or pending. Rules are set in '
                             '<code>[alerts]</code> of workbench.toml.</div>')
        self._seen: tuple | None = None
        self._labels_seen: tuple | None = None
        self._read_at = -math.inf
        self.active = None
        super().__init__(store, **kwargs)
        self.children = [self._header, self._summary, self._list, self._confirm, self._status, self._history_box]

    # -- reading ---------------------------------------------------------
    def _refresh(self) -> None:
        self._check_outcomes()

    #: re-read unchanged records this often anyway ("since 5 min ago" moves on)
    REREAD_SECONDS = 30.0

    def _refresh_slow(self) -> None:
        from workbench import alerts

        layout = self.store.layout
        sig = (self.host, self.only_host,
               files_signature(layout.table_dir("alerts"), layout.table_dir("operator_labels")))
        if sig == self._seen and time.monotonic() - self._read_at < self.REREAD_SECONDS:
            return  # no alert record or label written since the last read
        self._seen, self._read_at = sig, time.monotonic()
        host = self.host if self.only_host else None
        active = alerts.active(self.store, host=host)
        recent = alerts.recent(self.store, since="1d")
        if host is not None and len(recent):
            recent = recent[recent["host"] == host]
        self.active = active
        firing = int((active["state"] == "firing").sum()) if len(active) else 0
        pending = len(active) - firing
        self._summary.value = (
            f'<div class="wb-alert-summary"><span class="wb-pill wb-crit">{firing} firing</span> '
            f'<span class="wb-pill wb-warn">{pending} pending</span> '
            f'<span class="wb-pill wb-ok">{len(recent)} resolved in 24 h</span></div>')
        ids = tuple(active["alert_id"]) if len(active) else ()
        labels_sig = files_signature(layout.table_dir("operator_labels"))
        if labels_sig != self._labels_seen:  # list_labels costs ~90 ms; labels change rarely
            self._labels_seen = labels_sig
            self._labelled = _verdicts(self.store) if labels_sig else {}
        active_rows = active.to_dict("records") if len(active) else []
        resolved_rows = recent.head(5).to_dict("records") if len(recent) else []
        rows = [self._row(r) for r in active_rows] + [self._resolved_row(r) for r in resolved_rows]
        keys = {("active", r["alert_id"]) for r in active_rows} | {("resolved", r["alert_id"]) for r in resolved_rows}
        self._show_rows(rows or [self._empty], keys)
        self._ids = ids
        hist = alerts.history(self.store, since="1d")
        if host is not None and len(hist):
            hist = hist[hist["host"] == host]
        self.history.set_rows([
            [(str(r["ts"])[:19], str(r["ts"])), (r["event"], r["event"]), (r["rule"], r["rule"]),
             (r["host"], r["host"]), (r["severity"], r["severity"]),
             (fmt_value(r["value"], ""), r["value"]),
             (" ".join(str(x) for x in (r.get("by"), r.get("note")) if x and x == x), "")]
            for r in hist.head(500).to_dict("records")
        ] if len(hist) else [])

    def _evidence(self, r: dict) -> str:
        try:
            since = _epoch(r["since"])
            labels = parse_labels(r["labels"]) if r.get("labels") else None
            frame = self.store.query(r["metric"], _ts(since - 1800), None, step=60, host=r["host"], labels=labels)
            values = frame.groupby("ts")["value"].mean().tolist() if len(frame) else []
        except Exception:  # noqa: BLE001 - evidence is best effort; the row still shows
            values = []
        return sparkline_svg(values, width=140, height=30, label=f"{r['metric']} around the alert")

    # -- rows: one set of widgets per alert, kept while the alert is listed ----------------
    # Rebuilding every row on each read (every 30 s at least) left the old widgets, their
    # layouts and button styles registered with the kernel for ever (an ipywidgets widget lives
    # until closed) and made the browser build new views: the rows are kept by alert and only
    # their texts change; a row whose alert leaves the list is closed with everything in it.
    def _row(self, r: dict) -> W.Widget:
        sev = str(r.get("severity") or "warning")
        state = str(r.get("state"))
        acked = r.get("acked_by")
        score = r.get("score")
        bits = [f"value <b>{esc(fmt_value(r.get('value'), ''))}</b>"]
        if isinstance(score, float) and math.isfinite(score):
            bits.append(f"score {score:.2f}")
        bits.append(f"since {esc(ago(_epoch(r['since'])))}")
        if acked and acked == acked:
            bits.append(f"acknowledged by {esc(acked)}")
        if r.get("silenced") is True:
            bits.append("silenced")
        bits += self._label_bits(r)
        summary = f'<div class="wb-muted wb-small">{esc(r["summary"])}</div>' if r.get("summary") else ""
        html = (f'<div class="wb-alert wb-alert-{esc(state)}" data-alert-id="{esc(r["alert_id"])}">'
                f'<span class="wb-pill wb-{ {"critical": "crit", "warning": "warn"}.get(sev, "info") }">{esc(sev)}</span> '
                f'<b>{esc(r["rule"])}</b> <span class="wb-muted">{esc(state)}</span><br>'
                f'<span class="wb-small">{esc(r["host"])} · {esc(r["metric"])} {esc(r.get("labels") or "")}</span><br>'
                f'<span class="wb-small">{" · ".join(bits)}</span>{summary}</div>')
        row = self._rows.get(("active", r["alert_id"]))
        if row is None:
            rec: dict[str, Any] = {}
            body = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0"))
            spark = W.HTML()
            ack, silence, label = buttons([
                ("Acknowledge", f"acknowledge {r['alert_id']}", lambda _b: self._ask("ack", rec["r"])),
                ("Silence", f"silence {r['rule']} on {r['host']}", lambda _b: self._ask("silence", rec["r"])),
                ("Label", "mark it a real incident or a false alarm",
                 lambda _b: self._ask("label", {**rec["r"], "fired": rec["r"].get("since"), "resolved": None})),
            ])
            ack.add_class("wb-ack")
            label.add_class("wb-label")
            box = W.HBox([body, spark, W.VBox([ack, silence, label])], layout=W.Layout(align_items="center"))
            box.add_class("wb-alert-row")
            row = self._rows[("active", r["alert_id"])] = _Row(box, body, rec, spark=spark, ack=ack)
        row.rec["r"] = r
        row.body.value = html
        row.spark.value = self._evidence(r)
        row.ack.disabled = bool(acked and acked == acked)
        return row.box

    def _resolved_row(self, r: dict) -> W.Widget:
        bits = " · ".join([esc(ago(_epoch(r["resolved"]))), *self._label_bits(r)])
        html = (f'<div class="wb-alert wb-alert-resolved" data-alert-id="{esc(r["alert_id"])}">'
                f'<span class="wb-pill wb-ok">resolved</span> '
                f'<b>{esc(r["rule"])}</b> <span class="wb-small">{esc(r["host"])} · {esc(r["metric"])} · {bits}</span></div>')
        row = self._rows.get(("resolved", r["alert_id"]))
        if row is None:
            rec: dict[str, Any] = {}
            body = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0"))
            (label,) = buttons([("Label", "mark it a real incident or a false alarm",
                                 lambda _b: self._ask("label", rec["r"]))])
            label.add_class("wb-label")
            box = W.HBox([body, label], layout=W.Layout(align_items="center"))
            box.add_class("wb-alert-row")
            row = self._rows[("resolved", r["alert_id"])] = _Row(box, body, rec)
        row.rec["r"] = r
        row.body.value = html
        return row.box

    def _show_rows(self, rows: list[W.Widget], keys: set) -> None:
        """List ``rows``; close the rows of alerts that left the list (and everything in them)."""
        self._list.children = rows
        for key in [k for k in self._rows if k not in keys]:
            close_tree(self._rows.pop(key).box)

    def _label_bits(self, r: dict) -> list[str]:
        verdict = self._labelled.get(str(r.get("alert_id")))
        return [f'<span class="wb-badge">labelled {esc(verdict.replace("_", " "))}</span>'] if verdict else []

    # -- acting ----------------------------------------------------------
    def _ask(self, action: str, r: dict) -> None:
        self._pending_action = (action, r)
        what = {"ack": f"Acknowledge <b>{esc(r['rule'])}</b> on {esc(r['host'])}?",
                "silence": f"Silence notifications of <b>{esc(r['rule'])}</b> on {esc(r['host'])}?",
                "label": f"Label <b>{esc(r['rule'])}</b> on {esc(r['host'])} (kept with your history, used to "
                         "score detectors and rules):"}[action]
        self._confirm_text.value = f'<div class="wb-confirm-q">{what}</div>'
        self._duration.layout.display = "" if action == "silence" else "none"
        self._verdict.layout.display = "" if action == "label" else "none"
        self._reason.value = ""
        self._confirm.layout.display = ""

    def _hide_confirm(self) -> None:
        self._confirm.layout.display = "none"
        self._pending_action = None

    def _do_confirm(self, _b: Any) -> None:
        from workbench import alerts

        if self._pending_action is None:
            return
        action, r = self._pending_action
        reason = self._reason.value.strip()
        if action == "label":
            from workbench import labels

            verdict = self._verdict.value
            labels.label_alert(self.store, r, verdict, note=reason, by=self.by)
            self._labelled[str(r.get("alert_id"))] = verdict
            self._note = (f'<div class="wb-small">labelled {esc(r["rule"])} on {esc(r["host"])} '
                          f'as {"a real incident" if verdict == "incident" else "a false alarm"}</div>')
            self._hide_confirm()
            self._show_status()
            self._seen = None
            self.refresh_slow()
            return
        if action == "ack":
            action_id = alerts.ack(self.store, r["alert_id"], note=reason, by=self.by)
            what = f"acknowledge {r['rule']} on {r['host']}"
        else:
            matcher = {"rule": r["rule"], "host": r["host"]}
            action_id = alerts.silence(self.store, matcher, duration=self._duration.value, reason=reason, by=self.by)
            what = f"silence {r['rule']} on {r['host']} for {self._duration.value}"
        self._sent.add(action_id, what)
        self._hide_confirm()
        self._show_status()

    def _check_outcomes(self) -> None:
        if self._sent and self._sent.poll(self.store):
            self._seen = None
            self.refresh_slow()  # the agent answered: show the alert's new state
        self._show_status()

    def _show_status(self) -> None:
        self._status.value = self._note + self._sent.html()


class _Row:
    """The widgets of one listed alert, and the record its buttons act on (updated each read)."""

    __slots__ = ("box", "body", "rec", "spark", "ack")

    def __init__(self, box: W.Widget, body: W.HTML, rec: dict, *, spark: W.HTML | None = None,
                 ack: W.Button | None = None) -> None:
        self.box, self.body, self.rec, self.spark, self.ack = box, body, rec, spark, ack


def _verdicts(store: Any) -> dict[str, str]:
    """alert id -> the operator's standing verdict on it (from :func:`workbench.labels.list_labels`)."""
    from workbench import labels

    try:
        found = labels.list_labels(store, include_demo=False)
    except Exception:  # noqa: BLE001 - labels are an extra; the alerts still show
        log.exception("alert panel: the operator labels could not be read")
        return {}
    if not len(found) or "alert_id" not in found:
        return {}
    found = found[found["alert_id"].notna()]
    return dict(zip(found["alert_id"].astype(str), found["verdict"].astype(str), strict=True))


def _epoch(ts: Any) -> float:
    import pandas as pd

    try:
        return pd.Timestamp(ts).timestamp()
    except (TypeError, ValueError):
        log.warning("alert panel: bad timestamp %r", ts)
        return math.nan
