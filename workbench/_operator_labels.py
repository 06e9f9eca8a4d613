"""Operator labels: a person's verdict on an alert or a time window, kept in the home.

A label says "this was a real incident" or "this was a false alarm" about a
window of one host (optionally one series, optionally one alert). Labels are
records in the store's ``operator_labels`` table (append-only, like every
record): from a notebook, the dashboard's alert panel or a script on any host
sharing the home. Withdrawing a label appends a ``withdrawn`` record with the
same ``label_id``; :func:`list_labels` answers with each label's latest record.

The demo's labelled NAB anomaly windows (``demo_anomalies``) are listed as
``incident`` labels too (``source = 'demo'``), so scoring on one's own labelled
history works on a fresh demo home.

Reach these through :mod:`workbench.labels` (``from workbench.labels import add_label``).
"""

from __future__ import annotations

import getpass
import socket
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from workbench.errors import DataError
from workbench.store._store import register_table

__all__ = ["VERDICTS", "LABELS_TABLE", "LABELS_SCHEMA", "add_label", "label_alert", "withdraw_label",
           "list_labels", "incident_windows"]

VERDICTS = ("incident", "false_alarm")
LABELS_TABLE = "operator_labels"
_TS = pa.timestamp("us", tz="UTC")
LABELS_SCHEMA = pa.schema([
    ("label_id", pa.string()), ("labelled_at", _TS), ("by", pa.string()), ("verdict", pa.string()),
    ("host", pa.string()), ("metric", pa.string()), ("labels", pa.string()),
    ("start", _TS), ("end", _TS), ("alert_id", pa.string()), ("note", pa.string()),
])
register_table(LABELS_TABLE, LABELS_SCHEMA)

_COLUMNS = [f.name for f in LABELS_SCHEMA] + ["source"]


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _ts(value: Any, what: str) -> pd.Timestamp:
    from workbench.store._timeutil import resolve_time

    try:
        t = resolve_time(value, now=pd.Timestamp.now("UTC").floor("us"), what=what)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what} must be a time (ISO string, datetime) or a duration ago ('2h'); got {value!r}: {exc}",
                        **{what: str(value)}) from None
    return pd.Timestamp(t).floor("us")


def add_label(
    store: Any,
    verdict: str,
    *,
    host: str,
    start: Any,
    end: Any = None,
    metric: str | None = None,
    labels: Mapping[str, Any] | str | None = None,
    alert_id: str | None = None,
    note: str = "",
    by: str | None = None,
) -> dict[str, Any]:
    """Record a verdict (``incident`` or ``false_alarm``) on ``host`` over ``[start, end]``.

    ``metric``/``labels`` narrow it to one series (the metric is checked against
    the catalogue); ``alert_id`` ties it to an alert. Returns the record written.
    """
    from workbench.labels import canonical_labels

    if verdict not in VERDICTS:
        raise DataError(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}.", verdict=verdict)
    if not host or not isinstance(host, str):
        raise DataError(f"A label needs the host it is about; got host={host!r}.", host=host)
    if metric is not None:
        store.check_metric(metric)
    t0 = _ts(start, "start")
    t1 = _ts(end, "end") if end is not None else t0
    if t1 < t0:
        raise DataError(f"A label's end must not be before its start; got start={t0}, end={t1}.",
                        start=str(t0), end=str(t1))
    record = {
        "label_id": uuid.uuid4().hex, "labelled_at": pd.Timestamp.now("UTC").floor("us"), "by": by or _who(),
        "verdict": verdict, "host": host, "metric": metric, "labels": canonical_labels(labels) if labels else None,
        "start": t0, "end": t1, "alert_id": alert_id, "note": str(note or ""),
    }
    store.append_records(LABELS_TABLE, pa.Table.from_pylist([record], schema=LABELS_SCHEMA))
    return record


def label_alert(store: Any, episode: Mapping[str, Any] | pd.Series, verdict: str, *, note: str = "",
                by: str | None = None) -> dict[str, Any]:
    """Label an alert episode (a row of :func:`workbench.drilldown.incidents` or of a back-test's
    episodes: host, metric, labels, fired, resolved, alert_id)."""
    ep = dict(episode)
    missing = [k for k in ("host", "fired") if k not in ep or pd.isna(ep[k])]
    if missing:
        raise DataError(f"An alert episode needs host and fired; missing {missing} in {sorted(ep)}.", missing=missing)
    end = ep.get("resolved")
    return add_label(store, verdict, host=ep["host"], start=ep["fired"], end=None if end is None or pd.isna(end) else end,
                     metric=ep.get("metric") or None, labels=ep.get("labels") or None, alert_id=ep.get("alert_id"),
                     note=note, by=by)


def withdraw_label(store: Any, label_id: str, *, by: str | None = None, note: str = "") -> None:
    """Take a label back (its latest record becomes ``withdrawn``; nothing is deleted)."""
    found = list_labels(store, include_demo=False)
    row = found[found["label_id"] == label_id]
    if row.empty:
        raise DataError(f"No operator label {label_id!r} in {store.home}; see list_labels(store).", label_id=label_id)
    rec = row.iloc[0].drop("source").to_dict()
    rec.update(labelled_at=pd.Timestamp.now("UTC").floor("us"), by=by or _who(), verdict="withdrawn", note=note)
    rec = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in rec.items()}
    store.append_records(LABELS_TABLE, pa.Table.from_pylist([rec], schema=LABELS_SCHEMA))


def list_labels(store: Any, *, host: str | None = None, metric: str | None = None, verdict: str | None = None,
                include_demo: bool = True) -> pd.DataFrame:
    """Every standing label (withdrawn ones left out), oldest window first.

    A label without a metric applies to every series of its host, so asking
    for ``metric`` returns those too. ``include_demo`` adds the demo's NAB
    anomaly windows (``source = 'demo'``) where the home has them.
    """
    views = store.views()
    parts, params = [], []
    if LABELS_TABLE in views:
        parts.append(f"""
            SELECT label_id, labelled_at, "by", verdict, host, metric, labels, start, "end", alert_id, note, 'operator' AS source
            FROM {LABELS_TABLE} QUALIFY row_number() OVER (PARTITION BY label_id ORDER BY labelled_at DESC) = 1""")  # noqa: S608 - our constant
    if include_demo and "demo_anomalies" in views:
        parts.append("""
            SELECT 'demo:' || nab_file || ':' || row_number() OVER (PARTITION BY nab_file ORDER BY start) AS label_id,
                   NULL::TIMESTAMPTZ AS labelled_at, 'NAB (demo)' AS "by", 'incident' AS verdict, host, metric, labels,
                   start::TIMESTAMPTZ AS start, "end"::TIMESTAMPTZ AS "end", NULL::VARCHAR AS alert_id,
                   'labelled anomaly window of ' || nab_file AS note, 'demo' AS source
            FROM demo_anomalies""")
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in _COLUMNS})
    conds = ["verdict <> 'withdrawn'"]
    if host is not None:
        conds.append("host = ?")
        params.append(host)
    if metric is not None:
        conds.append("(metric IS NULL OR metric = ?)")
        params.append(metric)
    if verdict is not None:
        if verdict not in VERDICTS:
            raise DataError(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}.", verdict=verdict)
        conds.append("verdict = ?")
        params.append(verdict)
    sql = f"SELECT * FROM ({' UNION ALL BY NAME '.join(parts)}) WHERE {' AND '.join(conds)} ORDER BY start, label_id"  # noqa: S608 - constant fragments; values bound
    return store.sql(sql, params)[_COLUMNS]


def incident_windows(store: Any, *, host: str, metric: str | None = None, labels: Mapping[str, Any] | str | None = None,
                     verdict: str = "incident") -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``(start, end)`` of the labels that apply to one series: what back-tests and NAB scoring take."""
    from workbench.labels import canonical_labels

    found = list_labels(store, host=host, metric=metric, verdict=verdict)
    if labels is not None and len(found):
        want = canonical_labels(labels)
        found = found[found["labels"].isna() | (found["labels"] == want)]
    return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in zip(found["start"], found["end"], strict=True)]
