"""SQL fragments the store composes: the rollup, raw reads, label filters, empty relations.

Fixed text only. Every value that comes from input (times, hosts, metrics,
labels, a query's step) is a bound ``?`` parameter; what is formatted in is our
own text: view names, ``read_parquet(?)``, conditions built here, and the
tiers' intervals and aggregations, looked up in the tables below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.labels import format_labels

__all__ = [
    "AGGREGATIONS",
    "RAW_ONLY_AGGS",
    "INTERVALS",
    "PARTIALS",
    "VIEW_COLUMNS",
    "EMPTY_SAMPLES",
    "EMPTY_PARTIALS",
    "rollup_sql",
    "raw_sql",
    "latest_sql",
    "series_where",
    "label_filter",
    "view_words",
]

#: what Store.query's ``agg`` may be on every tier
AGGREGATIONS = ("mean", "min", "max", "sum", "count", "last")
#: aggregations that need the raw samples (no rollup partial gives them)
RAW_ONLY_AGGS = {"median": "median(value)", "p95": "quantile_cont(value, 0.95)", "p99": "quantile_cont(value, 0.99)"}
_RAW_AGGS = {**{a: f"{a}(value)" for a in AGGREGATIONS}, "mean": "avg(value)", "last": "arg_max(value, ts)",
             **RAW_ONLY_AGGS}

#: rollup tier -> the width of its buckets (DuckDB interval text)
INTERVALS = {"1m": "1 minute", "1h": "1 hour"}

#: the partial aggregates a rollup row holds after its series key (ROLLUP_SCHEMA)
PARTIALS = ("min", "max", "sum", "count", "last", "last_ts")

#: the columns of the views samples_1m and samples_1h after the series key
VIEW_COLUMNS = ("min", "max", "mean", "last", "count", "sum")

EMPTY_SAMPLES = (
    "SELECT NULL::TIMESTAMPTZ AS ts, NULL::VARCHAR AS host, NULL::VARCHAR AS metric, NULL::VARCHAR AS labels, "
    "NULL::DOUBLE AS value WHERE false"
)
EMPTY_PARTIALS = (
    "SELECT NULL::TIMESTAMPTZ AS ts, NULL::VARCHAR AS host, NULL::VARCHAR AS metric, NULL::VARCHAR AS labels, "
    "NULL::DOUBLE AS min, NULL::DOUBLE AS max, NULL::DOUBLE AS sum, NULL::BIGINT AS count, NULL::DOUBLE AS last, "
    "NULL::TIMESTAMPTZ AS last_ts WHERE false"
)

# Partials merge exactly: how each column of a merged row comes from the rows
# it merges (and ``mean``, which is no partial but follows from two).
_MERGE = {
    "min": "min(min)",
    "max": "max(max)",
    "sum": "sum(sum)",
    "count": "sum(count)::BIGINT",
    "last": "arg_max(last, last_ts)",
    "last_ts": "max(last_ts)",
    "mean": "sum(sum) / sum(count)",
}


def rollup_sql(
    tier: str,
    *,
    partials: str | None = None,
    samples: str | None = None,
    columns: Sequence[str] = PARTIALS,
    agg: str | None = None,
    order: bool = True,
) -> str:
    """One SELECT of ``tier``'s rollup, the only place its SQL is written.

    Rows are partial aggregates per series (``host, metric, labels``) and
    bucket ``ts``, merged from stored partials (``partials``: of ``tier`` or
    of a finer tier, regrouped) and from raw samples not yet rolled up
    (``samples``, aggregated into partials here). Each of the two is what
    follows ``FROM``: one of our views, or ``read_parquet(?)`` with an
    optional ``WHERE`` of bound conditions; either may be ``None``.

    ``columns`` names the merged columns returned after the series key (from
    :data:`PARTIALS` and ``mean``). With ``agg`` (one of those names) the
    buckets are instead a query's step, bound as the first parameter in
    microseconds, and the one column returned is ``value``, ``agg`` of each
    step as a DOUBLE.

    Parameters bind in text order: the step (with ``agg``), then those of
    ``partials``, then those of ``samples``.
    """
    interval = INTERVALS[tier]  # a KeyError here is our bug, never input
    parts = []
    if partials is not None:
        parts.append(f"SELECT ts, host, metric, labels, {', '.join(PARTIALS)} FROM {partials}")  # noqa: S608 - our text; values are bound
    if samples is not None:
        parts.append(
            f"SELECT time_bucket(INTERVAL '{interval}', ts) AS ts, host, metric, labels, min(value) AS min, "  # noqa: S608 - our text; values are bound
            "max(value) AS max, sum(value) AS sum, count(*)::BIGINT AS count, arg_max(value, ts) AS last, "
            f"max(ts) AS last_ts FROM {samples} GROUP BY ALL"
        )
    if not parts:
        raise ValueError("rollup_sql needs partials, samples or both")
    if agg is None:
        bucket = f"INTERVAL '{interval}'"
        merged = ", ".join(f"{_MERGE[c]} AS {c}" for c in columns)
    else:
        bucket = "to_microseconds(?::BIGINT)"
        merged = f"({_MERGE[agg]})::DOUBLE AS value"
    return (
        f"SELECT time_bucket({bucket}, ts) AS ts, host, metric, labels, {merged} "  # noqa: S608 - our text; values are bound
        f"FROM ({' UNION ALL '.join(parts)}) GROUP BY ALL"
        + (" ORDER BY host, metric, labels, ts" if order else "")
    )


def raw_sql(where: str, agg: str | None = None) -> str:
    """Raw samples of ``read_parquet(?)`` matching ``where``; with ``agg``, aggregated per step.

    With ``agg`` the step (microseconds) binds first, then the files, then ``where``'s values.
    """
    if agg is None:
        return f"SELECT ts, host, metric, labels, value FROM read_parquet(?) WHERE {where} ORDER BY host, metric, labels, ts"  # noqa: S608 - our text; values are bound
    return (
        f"SELECT time_bucket(to_microseconds(?::BIGINT), ts) AS ts, host, metric, labels, {_RAW_AGGS[agg]} AS value "  # noqa: S608 - our text; values are bound
        f"FROM read_parquet(?) WHERE {where} GROUP BY ALL ORDER BY host, metric, labels, ts"
    )


def latest_sql(where: str) -> str:
    """The newest sample per series of ``read_parquet(?)`` matching ``where``."""
    return (
        "SELECT max(ts) AS ts, host, metric, labels, arg_max(value, ts) AS value FROM read_parquet(?) "  # noqa: S608 - our text; values are bound
        f"WHERE {where} GROUP BY host, metric, labels ORDER BY host, metric, labels"
    )


def series_where(metric: str | Sequence[str] | None, start: Any = None, end: Any = None, *,
                 hosts: Sequence[str] | None = None,
                 labels: Mapping[str, Any] | str | None = None) -> tuple[str, list]:
    """The WHERE condition (and its bound values) of a read: metric(s), ``start <= ts < end``, hosts, labels.

    ``None`` leaves a part out: any metric, no bound, every host. ``start`` and
    ``end`` are ``datetime``s. With every part left out the condition is ``true``.
    """
    conds: list[str] = []
    params: list = []
    if isinstance(metric, str):
        conds, params = ["metric = ?"], [metric]
    elif metric is not None:
        conds, params = ["list_contains(?, metric)"], [list(metric)]
    if start is not None:
        conds.append("ts >= ?")
        params.append(start)
    if end is not None:
        conds.append("ts < ?")
        params.append(end)
    if hosts is not None:
        conds.append("list_contains(?, host)")
        params.append(list(hosts))
    lf, lp = label_filter(labels)
    if lf:
        conds.append(lf)
        params.extend(lp)
    return " AND ".join(conds) or "true", params


def _re2_escape(text: str) -> str:
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def label_filter(labels: Mapping[str, Any] | str | None) -> tuple[str, list]:
    """SQL condition (with bound parameters) selecting series whose labels match.

    ``{"cpu": "3"}`` matches ``cpu=3,state=user``; a list value matches any
    of its items; ``"*"`` only requires the key to be present.
    """
    if not labels:
        return "", []
    if isinstance(labels, str):
        from workbench.labels import parse_labels

        labels = parse_labels(labels)
    conds, params = [], []
    for key, value in labels.items():
        values = value if isinstance(value, (list, tuple, set)) else [value]
        alts = []
        for v in values:
            if v == "*":
                alts.append(_re2_escape(format_labels({key: "x"})[: -1]) + r"(?:[^,\\]|\\.)*")
            else:
                alts.append(_re2_escape(format_labels({key: v})))
        conds.append("regexp_matches(labels, ?)")
        params.append("(^|,)(" + "|".join(alts) + ")(,|$)")
    return " AND ".join(conds), params


#: the words of a query that could name a view (anything else it names is DuckDB's own)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def view_words(query: str) -> set[str]:
    """The words of ``query`` that could name a view, lower-cased: only those views need creating."""
    return {w.lower() for w in _IDENTIFIER.findall(query)}
