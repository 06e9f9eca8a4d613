"""Alerts from anywhere: what fires, and acknowledging or silencing it, for notebooks and the UI.

Thin over the store: alert state is read from the ``alerts`` records the
agent writes (the newest record of each alert id is its state), and every
change is a control action (:mod:`workbench.control`) that the agent of the
alert's host applies within about a second, or when it next starts.

>>> from workbench import alerts
>>> alerts.active(store)                        # doctest: +SKIP
>>> alerts.ack(store, "cpu_high|web1|system.cpu.utilization|cpu=3", note="looking")  # doctest: +SKIP
>>> alerts.silence(store, "rule=cpu_high,host=web1", duration="2h", reason="deploy")  # doctest: +SKIP

``ack``/``silence``/``unsilence`` return the action id; ``control.wait(store,
action_id)`` tells whether the agent applied it. A silence's id is the id of
the action that made it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from workbench import control
from workbench.errors import ActionError, DataError, UnknownAlertError
from workbench.store._store import Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["active", "recent", "history", "ack", "silence", "unsilence", "silences", "parse_matcher"]

_ACTIVE_COLUMNS = ["alert_id", "rule", "state", "severity", "host", "metric", "labels", "since", "value", "score",
                   "summary", "acked_by", "silenced"]
_RECENT_COLUMNS = ["alert_id", "rule", "severity", "host", "metric", "labels", "fired", "resolved", "value",
                   "summary", "acked_by"]
_SILENCE_COLUMNS = ["silence_id", "target", "rule", "host", "labels", "until", "by", "reason", "created", "state",
                    "applied_by"]


def _store(store: Store | str | os.PathLike | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


def _has_alerts(store: Store) -> bool:
    return "alerts" in store.views()


def _since_ts(since: Any):
    import pandas as pd

    from workbench.store._timeutil import resolve_time

    return resolve_time(since, now=pd.Timestamp.now("UTC"), what="since").to_pydatetime()


# Newest record per alert, the start of its current state and who acknowledged it since then.
_LATEST = """
WITH ranked AS (
    SELECT *, row_number() OVER (PARTITION BY alert_id ORDER BY ts DESC, event = 'acknowledged' DESC) AS rn
    FROM alerts {where}
), starts AS (
    SELECT a.alert_id, max(a.ts) AS since FROM alerts a JOIN ranked r ON a.alert_id = r.alert_id AND r.rn = 1
    WHERE a.event = r.state GROUP BY a.alert_id
), fired AS (
    SELECT alert_id, max(ts) AS fired FROM alerts WHERE event = 'firing' GROUP BY alert_id
), acks AS (
    SELECT a.alert_id, arg_max(a.by, a.ts) AS acked_by FROM alerts a
    JOIN fired f ON a.alert_id = f.alert_id AND a.ts >= f.fired
    WHERE a.event = 'acknowledged' GROUP BY a.alert_id
)
SELECT r.alert_id, r.rule, r.state, r.severity, r.host, r.metric, r.labels, coalesce(s.since, r.ts) AS since,
       r.ts AS last, f.fired, r.value, r.score, r.summary, k.acked_by, r.silenced
FROM ranked r LEFT JOIN starts s USING (alert_id) LEFT JOIN fired f USING (alert_id)
LEFT JOIN acks k USING (alert_id)
WHERE r.rn = 1
"""


def _latest(store: Store, host: str | None):
    where, params = ("WHERE host = ?", [host]) if host else ("", [])
    return store.sql(_LATEST.format(where=where), params or None)


def active(store: Store | str | os.PathLike | None = None, host: str | None = None) -> pd.DataFrame:
    """Pending and firing alerts with their evidence, most severe and oldest first.

    Columns: alert_id, rule, state, severity, host, metric, labels, since (UTC),
    value, score, summary, acked_by (who acknowledged the current firing, or
    None), silenced (a silence covers it now).
    """
    import pandas as pd

    store = _store(store)
    if not _has_alerts(store):
        return pd.DataFrame(columns=_ACTIVE_COLUMNS)
    df = _latest(store, host)
    df = df[df["state"].isin(["pending", "firing"])].copy()
    sil = silences(store)
    df["silenced"] = [bool(rec) or _covered(sil, r) for rec, r in zip(df["silenced"], df.itertuples(), strict=True)]
    df["acked_by"] = df["acked_by"].astype(object).where(df["acked_by"].notna() & (df["state"] == "firing"), None)
    order = {"critical": 0, "warning": 1, "info": 2}
    df = df.assign(_o=df["severity"].map(order).fillna(3)).sort_values(["_o", "since"]).drop(columns="_o")
    return df[_ACTIVE_COLUMNS].reset_index(drop=True)


def recent(store: Store | str | os.PathLike | None = None, since: Any = "1d") -> pd.DataFrame:
    """Alerts resolved within ``since`` (a duration ago or a time), newest first."""
    import pandas as pd

    store = _store(store)
    if not _has_alerts(store):
        return pd.DataFrame(columns=_RECENT_COLUMNS)
    df = _latest(store, None)
    start = _since_ts(since)
    df = df[(df["state"] == "resolved") & (df["since"] >= pd.Timestamp(start))]
    df = df.rename(columns={"since": "resolved"}).sort_values("resolved", ascending=False)
    df["acked_by"] = df["acked_by"].astype(object).where(df["acked_by"].notna(), None)
    return df[_RECENT_COLUMNS].reset_index(drop=True)


def history(store: Store | str | os.PathLike | None = None, since: Any = "1d") -> pd.DataFrame:
    """Every alert record (state changes, acknowledgements, escalations) within ``since``, oldest first."""
    import pandas as pd

    from workbench.detect._manager import RECORD_COLUMNS

    store = _store(store)
    if not _has_alerts(store):
        return pd.DataFrame(columns=RECORD_COLUMNS)
    return store.sql("SELECT * FROM alerts WHERE ts >= ? ORDER BY ts, alert_id", [_since_ts(since)])


# ------------------------------------------------------------------ acting ---
def ack(store: Store | str | os.PathLike | None, alert_id: str, *, note: str = "", by: str | None = None) -> str:
    """Acknowledge a pending or firing alert (stops its escalation and repeats); returns the action id.

    An id no alert record carries raises :class:`UnknownAlertError`; a resolved
    alert raises :class:`ActionError`.
    """
    store = _store(store)
    latest = _latest(store, None) if _has_alerts(store) else None
    row = None if latest is None else latest[latest["alert_id"] == alert_id]
    if row is None or row.empty:
        current = [] if latest is None else latest.loc[latest["state"].isin(["pending", "firing"]), "alert_id"]
        hint = f" Current ones: {', '.join(list(current)[:5])}." if len(current) else " None is pending or firing now."
        raise UnknownAlertError(f"No alert {alert_id!r} in the alert records of {store.home}; "
                                f"`workbench alerts` lists the ids.{hint}", alert_id=alert_id)
    rec = row.iloc[0]
    if rec["state"] not in ("pending", "firing"):
        raise ActionError(f"Alert {alert_id!r} is {rec['state']} (since {rec['since']}); only pending or firing "
                          "alerts can be acknowledged.", alert_id=alert_id, state=rec["state"])
    return control.act(store, f"alerts:{rec['host']}", "ack", {"alert_id": alert_id, "note": note},
                       reason=note, by=by)


def parse_matcher(matcher: str | Mapping[str, Any]) -> dict[str, Any]:
    """``"rule=cpu_high,host=web1,cpu=3"`` (or a mapping) as ``{"rule":..., "host":..., "labels": {...}}``.

    ``rule`` and ``host`` match those fields; every other key is a label
    (a value starting with ``~`` is a regular expression, e.g. ``device=~sd.*``).
    """
    how = ("write key=value pairs separated by commas, e.g. 'rule=cpu_high,host=web1,cpu=3' "
           "(rule and host match those fields, other keys match labels)")
    if isinstance(matcher, Mapping):
        flat = {k: v for k, v in matcher.items() if k != "labels"}
        labels_in = matcher.get("labels") or {}
        if not isinstance(labels_in, Mapping):
            raise ActionError(f"Matcher {dict(matcher)!r}: 'labels' must be a mapping; {how}.")
        flat.update(labels_in)
    elif isinstance(matcher, str):
        from workbench.labels import parse_labels

        try:
            flat = parse_labels(matcher.strip())
        except DataError:
            raise ActionError(f"Malformed matcher {matcher!r}: {how}.", matcher=matcher) from None
    else:
        raise ActionError(f"A matcher is a string or a mapping; got {matcher!r}: {how}.")
    if not flat:
        raise ActionError(f"Matcher {matcher!r} is empty: {how}.", matcher=matcher)
    out: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for key, value in flat.items():
        key, value = str(key).strip(), "" if value is None else str(value).strip()
        if not key or not value:
            raise ActionError(f"Malformed matcher {matcher!r}: {key or '(empty key)'!r} has no value; {how}.",
                              matcher=matcher)
        if key in ("rule", "host"):
            out[key] = value
        else:
            labels[key] = value
    if labels:
        out["labels"] = labels
    return out


def silence(store: Store | str | os.PathLike | None, matcher: str | Mapping[str, Any], *, duration: Any = "2h",
            until: Any = None, reason: str = "", by: str | None = None) -> str:
    """Mute notifications of alerts that match for ``duration`` (or ``until`` a time); returns the
    action id, which is also the silence's id for :func:`unsilence`.

    A matcher with ``host=`` goes to that host's agent; without, to every agent.
    """
    from workbench.store._timeutil import parse_duration

    store = _store(store)
    m = parse_matcher(matcher)
    now = time.time()
    if until is not None:
        import pandas as pd

        try:
            stamp = pd.Timestamp(until)
        except (TypeError, ValueError):
            raise ActionError(f"until={until!r} is not a time; give e.g. '2026-03-01T18:00Z' or use a duration "
                              "such as --for 2h.") from None
        end = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).timestamp()
        if end <= now:
            raise ActionError(f"until={until!r} is in the past; a silence must end in the future.", until=until)
    else:
        try:
            seconds = parse_duration(duration, what="duration")
        except DataError as exc:
            raise ActionError(f"{exc} (e.g. --for 2h)") from None
        if seconds <= 0:
            raise ActionError(f"A silence's duration must be positive; got {duration!r}. Give e.g. --for 2h.",
                              duration=duration)
        end = now + seconds
    target = f"alerts:{m['host']}" if "host" in m else "alerts:*"
    return control.act(store, target, "silence", {"matchers": m, "until": end, "comment": reason},
                       reason=reason, by=by)


def unsilence(store: Store | str | os.PathLike | None, silence_id: str, *, reason: str = "",
              by: str | None = None) -> str:
    """End a silence made by :func:`silence` early; returns the action id."""
    store = _store(store)
    record = control.find_action(store, silence_id)
    if record is None or record.get("action") != "silence":
        active_ids = list(silences(store)["silence_id"])
        raise ActionError(f"No silence {silence_id!r} in {store.home}; `workbench alerts silences` lists them"
                          + (f" ({', '.join(active_ids[:5])})." if active_ids else " (there are none)."),
                          silence_id=silence_id)
    return control.act(store, record["target"], "unsilence", {"silence_id": silence_id}, reason=reason, by=by)


def silences(store: Store | str | os.PathLike | None = None) -> pd.DataFrame:
    """Silences made by :func:`silence` that have not ended or been removed.

    ``state`` is ``active`` once an agent applied it (``applied_by`` says which),
    ``pending`` while no agent has answered yet (it applies when one runs).
    Refused silences are left out.
    """
    import pandas as pd

    store = _store(store)
    rows = store.sql(
        "SELECT a.action_id, a.ts, a.by, a.target, a.action, a.args, a.reason, "
        "list(r.owner) FILTER (WHERE r.outcome = 'applied') AS applied, "
        "list(r.owner) FILTER (WHERE r.outcome = 'refused') AS refused "
        "FROM actions a LEFT JOIN action_results r USING (action_id) "
        "WHERE a.action IN ('silence', 'unsilence') GROUP BY ALL ORDER BY a.ts"
    )
    now = time.time()
    out: dict[str, dict] = {}
    for r in rows.itertuples():
        try:
            args = json.loads(r.args)
        except (TypeError, ValueError):
            continue
        if not isinstance(args, dict):
            continue
        applied = [o for o in (r.applied if r.applied is not None else []) if o]
        refused = [o for o in (r.refused if r.refused is not None else []) if o]
        if r.action == "unsilence":
            if applied:
                out.pop(str(args.get("silence_id")), None)
            continue
        until = args.get("until")
        m = args.get("matchers") or {}
        if not isinstance(until, (int, float)) or until <= now or not isinstance(m, dict) or (refused and not applied):
            continue
        out[r.action_id] = {
            "silence_id": r.action_id, "target": r.target, "rule": m.get("rule"), "host": m.get("host"),
            "labels": ",".join(f"{k}={v}" for k, v in sorted((m.get("labels") or {}).items())),
            "until": pd.Timestamp(until, unit="s", tz="UTC"), "by": r.by, "reason": r.reason,
            "created": r.ts, "state": "active" if applied else "pending", "applied_by": ",".join(applied),
            "_labels": m.get("labels") or {},
        }
    frame = pd.DataFrame(list(out.values()), columns=[*_SILENCE_COLUMNS, "_labels"])
    frame.attrs["matchers"] = list(frame.pop("_labels"))
    return frame


def _covered(sil: pd.DataFrame, alert: Any) -> bool:
    """Whether an active silence in ``sil`` (from :func:`silences`) matches ``alert``'s rule, host and labels."""
    if sil.empty:
        return False
    from workbench.labels import parse_labels

    labels = parse_labels(alert.labels)
    for s, m in zip(sil.itertuples(), sil.attrs.get("matchers", []), strict=False):
        if s.state != "active" or (s.rule and s.rule != alert.rule) or (s.host and s.host != alert.host):
            continue
        ok = True
        for key, value in m.items():
            got = labels.get(key)
            if value.startswith("~"):
                ok = got is not None and re.fullmatch(value[1:], got) is not None
            else:
                ok = got == value
            if not ok:
                break
        if ok:
            return True
    return False
