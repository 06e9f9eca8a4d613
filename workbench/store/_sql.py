"""SQL fragments the store composes: the rollup, label filters, empty relations.

Fixed text only. Every value that comes from input (times, hosts, labels, a
query's step) is a bound ``?`` parameter; what is formatted in is our own text:
view names, ``read_parquet(?)`` and the tiers' intervals, checked here.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["TIERS", "PARTIALS", "rollup_sql"]

#: rollup tier -> the width of its buckets (DuckDB interval text)
TIERS = {"1m": "1 minute", "1h": "1 hour"}

#: the partial aggregates a rollup row holds after its series key (ROLLUP_SCHEMA)
PARTIALS = ("min", "max", "sum", "count", "last", "last_ts")

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
    interval = TIERS[tier]  # a KeyError here is our bug, never input
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
