"""The :class:`Store`: append samples and records, query them with DuckDB.

Many processes may read while one agent per host writes and compacts: see
``_manifest.py`` and ``_snapshot.py`` for why a reader never sees a sample
twice or misses one, and ``_reader.py`` for how a query gets past swapped
and damaged files. The catalogue is ``_catalogue.py``'s, the SQL ``_sql.py``'s. Readers run DuckDB in-process over the Parquet files and
get pandas DataFrames (or Arrow tables).

DuckDB, pandas and numpy are imported inside the methods that use them: the
agent writes through this class and must not pay ~60 MiB of resident memory
for query engines it never calls.
"""

from __future__ import annotations

import errno
import itertools
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from workbench._params import Integral, Interval, check_params
from workbench.catalog import MetricSpec, check_metric_names
from workbench.errors import DataError, QueryError, StoreError
from workbench.labels import canonical_labels
from workbench.store._catalogue import (
    BUILTIN_VIEWS,
    MetricCatalogue,
    check_table_name,
    record_tables,
    register_table,
    table_schemas,
)
from workbench.store._layout import Layout, default_host, new_stream_id, safe_host
from workbench.store._quarantine import StoreWarning, list_quarantined
from workbench.store._reader import Reader
from workbench.store._segment import (
    RECORD_WRITE,
    SAMPLE_SCHEMA,
    sort_samples,
    write_atomic,
    write_samples,
)
from workbench.store._snapshot import Snapshot
from workbench.store._sql import (
    AGGREGATIONS,
    EMPTY_PARTIALS,
    EMPTY_SAMPLES,
    INTERVALS,
    RAW_ONLY_AGGS,
    VIEW_COLUMNS,
    label_filter,
    latest_sql,
    raw_sql,
    rollup_sql,
    series_where,
    view_words,
)
from workbench.store._verify import VerifyReport, verify_home

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["Store", "register_table", "AGGREGATIONS", "label_filter", "unwritable"]

log = logging.getLogger("workbench.store")


class Store:
    """DuckDB over the Parquet files of one home.

    ``Store(home)`` is cheap; create one per process (or notebook) and keep it.
    It is safe to use from several threads.

    ``threads`` caps the DuckDB threads of each query (default: one per core). A
    process that asks many small questions (the dashboard: a few files every two
    seconds) spends less CPU with 1, at the same latency.
    """

    _parameter_constraints = {"threads": [None, Interval(Integral, 1, None, closed="left")]}

    def __init__(self, home: str | os.PathLike | None = None, *, host: str | None = None, role: str = "app",
                 threads: int | None = None) -> None:
        check_params(Store, {"threads": threads})
        self.home = Path(home or os.environ.get("WORKBENCH_HOME") or "./data").expanduser().resolve()
        self.host = safe_host(host or os.environ.get("WORKBENCH_HOST") or default_host())
        self.layout = Layout(self.home)
        self._stream = new_stream_id(role)
        self._seq = itertools.count()
        self._catalogue = MetricCatalogue(self.layout)
        self._reader = Reader(self.layout, self.views, threads=threads)

    def __repr__(self) -> str:
        return f"Store(home={str(self.home)!r}, host={self.host!r})"

    # ------------------------------------------------------------------ write
    def append(self, data: pd.DataFrame | pa.Table | Iterable[Mapping[str, Any]], *, host: str | None = None) -> int:
        """Append samples; returns the number of rows written.

        ``data`` has columns ``ts`` (naive values are taken as UTC), ``metric``,
        ``value`` and optionally ``host`` (default: this store's host) and
        ``labels`` (a canonical string or a mapping). Rows whose value is NaN
        are dropped with a :class:`StoreWarning`; anything else that is wrong
        raises :class:`DataError` and writes nothing.
        """
        df = self._validate_samples(data, host)
        if df.empty:
            return 0
        table = pa.Table.from_pandas(df, schema=SAMPLE_SCHEMA, preserve_index=False)
        self._ensure_catalog(df["metric"].unique())
        written = 0
        for h, part in _split_by_host(table):
            written += self.append_arrow(part, host=h, trusted=True)
        return written

    def append_arrow(
        self,
        table: pa.Table,
        *,
        host: str | None = None,
        trusted: bool = False,
        time_range: tuple[int, int] | None = None,
    ) -> int:
        """Fast path for writers that already hold an Arrow table of :data:`SAMPLE_SCHEMA`.

        ``time_range`` (first and last ``ts`` in microseconds) says the caller
        has already sorted the table by host, metric, labels, ts and knows its
        span. The agent passes it so that its hot path never loads
        ``pyarrow.compute`` (about 9 MiB of resident memory for a sort and a
        min/max it can do in Python on a few hundred rows).
        """
        if table.num_rows == 0:
            return 0
        if not trusted:
            return self.append(table, host=host)
        h = safe_host(host or self.host)
        if time_range is None:
            import pyarrow.compute as pc

            table = sort_samples(table)
            ts = table.column("ts").cast(pa.int64())
            tmin, tmax = pc.min(ts).as_py(), pc.max(ts).as_py()
        else:
            tmin, tmax = time_range
        name = f"{self._stream}-{next(self._seq):010d}-{tmin}-{tmax}.parquet"
        write_samples(table, self.layout.incoming(h) / name)
        return table.num_rows

    def _validate_samples(self, data, host) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        if isinstance(data, pa.Table):
            df = data.to_pandas()
        elif isinstance(data, pd.DataFrame):
            df = data.copy()
        else:
            df = pd.DataFrame(list(data))
        required = {"ts", "metric", "value"}
        allowed = required | {"host", "labels"}
        missing = required - set(df.columns)
        if missing:
            raise DataError(
                f"Samples need columns ts, metric, value (and optionally host, labels); missing {sorted(missing)}, "
                f"got {list(df.columns)}.",
                missing=sorted(missing),
            )
        extra = set(df.columns) - allowed
        if extra:
            raise DataError(
                f"Unexpected sample columns {sorted(extra)}: samples have ts, host, metric, labels, value. "
                "Put extra dimensions in labels.",
                extra=sorted(extra),
            )
        if df.empty:
            return df
        try:
            ts = pd.to_datetime(df["ts"], utc=True, errors="coerce")
        except (TypeError, ValueError) as exc:
            raise DataError(f"Column ts cannot be read as timestamps: {exc}") from None
        if ts.isna().any():
            bad = df.loc[ts.isna(), "ts"].head(3).tolist()
            raise DataError(
                f"{int(ts.isna().sum())} rows have a missing or unreadable ts (e.g. {bad}); every sample needs a time.",
                rows=int(ts.isna().sum()),
            )
        values = pd.to_numeric(df["value"], errors="coerce")
        nonnum = values.isna() & df["value"].notna()
        if nonnum.any():
            bad = df.loc[nonnum, "value"].head(3).tolist()
            raise DataError(
                f"{int(nonnum.sum())} values are not numbers (e.g. {bad}); a sample's value must be numeric.",
                rows=int(nonnum.sum()),
            )
        metric = df["metric"].astype(str)
        check_metric_names(metric.unique())
        if "labels" in df.columns:
            labels = df["labels"].map(lambda x: canonical_labels(x if x is not None and x == x else None))
        else:
            labels = pd.Series("", index=df.index)
        hosts = df["host"].map(lambda h: safe_host(str(h))) if "host" in df.columns else safe_host(host or self.host)
        out = pd.DataFrame({"ts": ts.astype("datetime64[us, UTC]"), "host": hosts, "metric": metric, "labels": labels, "value": values.astype("float64")})
        finite = np.isfinite(out["value"].to_numpy())
        if not finite.all():
            n = int((~finite).sum())
            warnings.warn(f"Dropped {n} samples whose value is NaN or infinite (they carry no measurement).", StoreWarning, stacklevel=3)
            out = out[finite]
        return out.reset_index(drop=True)

    def append_records(self, table: str, data: pd.DataFrame | pa.Table | Iterable[Mapping[str, Any]]) -> int:
        """Append rows of any schema to the record table ``table`` (a view in :meth:`sql`)."""
        check_table_name(table)
        if isinstance(data, pa.Table):
            arrow = data
        else:
            import pandas as pd

            df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
            if df.empty:
                return 0
            arrow = pa.Table.from_pandas(df, preserve_index=False)
        if arrow.num_rows == 0:
            return 0
        path = self.layout.table_dir(table, self.host) / f"{self._stream}-{next(self._seq):010d}.parquet"
        write_atomic(arrow, path, **RECORD_WRITE)
        return arrow.num_rows

    def register_metrics(self, specs: Iterable[MetricSpec]) -> None:
        """Record catalogue entries (idempotent; a conflicting unit or kind is refused)."""
        try:
            self._catalogue.register(specs)
        except OSError as exc:  # a full disk, a read-only home: say so; write_bytes_atomic left no .tmp file
            raise unwritable(exc, "the metric catalogue", self.layout.catalog_dir) from None

    def _ensure_catalog(self, names: Iterable[str]) -> None:
        new = self._catalogue.placeholders(names)
        if new:
            self.register_metrics(new)

    def _catalog(self) -> dict[str, dict]:
        """The catalogue's entries by metric name."""
        return self._catalogue.entries()

    # ------------------------------------------------------------------ read
    def metrics(self) -> pd.DataFrame:
        """The metric catalogue: name, unit, kind, description, source."""
        return self._catalogue.frame()

    def check_metric(self, metric: str) -> None:
        self._catalogue.check(metric)

    def hosts(self) -> list[str]:
        return self.layout.hosts()

    def _con(self) -> duckdb.DuckDBPyConnection:
        return self._reader.con()

    def _run(self, fn: Callable[[duckdb.DuckDBPyConnection, Snapshot], Any],
             hosts: list[str] | None = None) -> tuple[Any, list[dict]]:
        return self._reader.run(fn, hosts)

    def views(self) -> list[str]:
        return [*BUILTIN_VIEWS, *record_tables(self.layout)]

    def _make_views(self, con: duckdb.DuckDBPyConnection, snap: Snapshot, query: str | None = None) -> None:
        """(Re)create the views over ``snap``: those ``query`` names, or all of them.

        Creating every view costs ~50 ms with a dozen record tables (each globs its
        files); a query names one or two, and only those need this snapshot's files.
        """
        wanted = None if query is None else view_words(query)

        def want(name: str) -> bool:
            return wanted is None or name.lower() in wanted

        raw = snap.raw()
        if want("samples"):
            if raw:
                con.read_parquet(raw).create_view("samples", replace=True)
            else:
                con.sql(EMPTY_SAMPLES).create_view("samples", replace=True)
        if want("samples_1m") or want("samples_1h") or want("_unrolled"):
            unrolled = snap.unrolled()
            if unrolled:
                con.read_parquet(unrolled).create_view("_unrolled", replace=True)
            else:
                con.sql(EMPTY_SAMPLES).create_view("_unrolled", replace=True)
        for tier in INTERVALS:
            if not (want(f"samples_{tier}") or want(f"_rollup_{tier}")):
                continue
            files = snap.rollup(tier)
            src = f"_rollup_{tier}"
            if files:
                con.read_parquet(files).create_view(src, replace=True)
            else:
                con.sql(EMPTY_PARTIALS).create_view(src, replace=True)
            view = rollup_sql(tier, partials=src, samples="_unrolled", columns=VIEW_COLUMNS, order=False)
            con.sql(view).create_view(f"samples_{tier}", replace=True)
        if want("metrics"):
            con.from_df(self.metrics()).create_view("metrics", replace=True)
        for table in self.views()[len(BUILTIN_VIEWS):]:
            if not want(table):
                continue
            files = sorted(str(p) for p in self.layout.table_dir(table).glob("*/*.parquet") if str(p) not in self._reader.skipped)
            if files:
                con.read_parquet(files, union_by_name=True).create_view(table, replace=True)
            elif table in table_schemas():
                con.from_arrow(table_schemas()[table].empty_table()).create_view(table, replace=True)

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Run DuckDB SQL over the views ``samples``, ``samples_1m``, ``samples_1h``, ``metrics``
        and the record tables. Pass user input as ``params`` (``?`` or ``$name``), never by
        formatting it into ``query``.

        Damaged files left out of the answer are listed in the result's
        ``attrs["damaged_files"]`` (path, host, reason, and ``action``:
        quarantined or skipped), and each is announced once with a
        :class:`StoreWarning`.
        """
        table, damaged = self._sql_arrow(query, params)
        return _with_damage(table.to_pandas(), damaged)

    def to_arrow(self, query: str, params: list | dict | None = None) -> pa.Table:
        """As :meth:`sql`, as an Arrow table; damaged files left out are in its schema metadata
        (``workbench.damaged_files``, JSON)."""
        table, damaged = self._sql_arrow(query, params)
        if damaged:
            meta = dict(table.schema.metadata or {})
            meta[b"workbench.damaged_files"] = json.dumps(damaged).encode()
            table = table.replace_schema_metadata(meta)
        return table

    def _sql_arrow(self, query: str, params) -> tuple[pa.Table, list[dict]]:
        def run(con, snap):
            self._make_views(con, snap, query)
            return con.sql(query, params=params).to_arrow_table()

        return self._run(run)

    def query(
        self,
        metric: str | list[str],
        start: Any = None,
        end: Any = None,
        *,
        labels: Mapping[str, Any] | str | None = None,
        step: Any = None,
        agg: str = "mean",
        host: str | list[str] | None = None,
        tier: str | None = None,
    ) -> pd.DataFrame:
        """Samples of one metric as a DataFrame ``ts, host, metric, labels, value``.

        ``start``/``end`` take datetimes, ISO strings or durations meaning "ago"
        (``"1h"``). With ``step`` (``"1min"``, ``300``...) values are aggregated
        with ``agg`` per bucket, reading the coarsest tier whose resolution
        divides the step: ``1h`` rollups for whole hours, ``1m`` for whole
        minutes (other steps of a minute or more are rounded to whole minutes),
        raw samples below a minute.
        """
        import pandas as pd

        from workbench.store._timeutil import parse_duration, resolve_time, ts_to_us

        metrics = [metric] if isinstance(metric, str) else list(metric)
        for m in metrics:
            self.check_metric(m)
        now = pd.Timestamp.now("UTC").floor("us")  # the store keeps microseconds; no truncation warning
        t0 = resolve_time(start, now=now, what="start")
        t1 = resolve_time(end, now=now, what="end")
        s_us = ts_to_us(t0) if t0 is not None else None
        e_us = ts_to_us(t1) if t1 is not None else None
        if t0 is not None and t0 > now:
            self._future_start(t0, now, hosts=None if host is None else [safe_host(h) for h in (
                [host] if isinstance(host, str) else host)])
        if t0 is not None and t1 is not None and t1 < t0:
            raise QueryError(f"The range ends at {t1:%Y-%m-%d %H:%M:%S} UTC (given {end!r}) before it starts at "
                             f"{t0:%Y-%m-%d %H:%M:%S} UTC (given {start!r}), so nothing can match. End it after "
                             "its start (durations mean 'that long ago': from '2h' until '1h').",
                             start=str(t0), end=str(t1))
        step_s = parse_duration(step, what="step") if step is not None else None
        if step_s is not None and step_s <= 0:
            raise QueryError(f"step must be positive; got {step!r}.")
        if agg not in AGGREGATIONS and agg not in RAW_ONLY_AGGS:
            raise QueryError(f"Unknown aggregation {agg!r}; use one of {', '.join(AGGREGATIONS + tuple(RAW_ONLY_AGGS))}.")
        if tier is None:
            if step_s is None or agg in RAW_ONLY_AGGS or step_s < 60:
                tier = "raw"
            elif step_s % 3600 == 0:
                tier = "1h"
            else:
                tier = "1m"
                step_s = max(60.0, round(step_s / 60) * 60)
        elif tier not in ("raw", "1m", "1h"):
            raise QueryError(f"tier must be 'raw', '1m' or '1h'; got {tier!r}.")
        hosts = None if host is None else [safe_host(h) for h in ([host] if isinstance(host, str) else host)]
        # Stored times are microseconds: rounding the bounds up keeps ``>=`` and
        # ``<`` exact, where to_pydatetime() would truncate (and warn every call).
        where, params = series_where(metric, None if t0 is None else t0.ceil("us").to_pydatetime(),
                                     None if t1 is None else t1.ceil("us").to_pydatetime(),
                                     hosts=hosts, labels=labels)

        def run(con, snap):
            if tier == "raw":
                files = snap.raw(s_us, e_us)
                if not files:
                    return _empty_result()
                if step_s is None:
                    return con.execute(raw_sql(where), [files, *params]).df()
                return con.execute(raw_sql(where, agg), [int(step_s * 1e6), files, *params]).df()
            rfiles = snap.rollup(tier, s_us, e_us)
            ufiles = snap.unrolled(s_us, e_us)
            if not (rfiles or ufiles):
                return _empty_result()
            src = f"read_parquet(?) WHERE {where}"
            args = [int(step_s * 1e6)]
            if rfiles:
                args += [rfiles, *params]
            if ufiles:
                args += [ufiles, *params]
            sql = rollup_sql(tier, partials=src if rfiles else None, samples=src if ufiles else None, agg=agg)
            return con.execute(sql, args).df()

        df, damaged = self._run(run, hosts)
        return _with_damage(_normalise(df), damaged)

    def _future_start(self, t0, now, hosts: list[str] | None) -> None:
        """A start after now matches nothing: say so, and where the data ends, instead of an empty answer."""
        import pandas as pd

        newest, _ = self._run(lambda con, snap: snap.max_tmax(), hosts)
        if newest is None:
            where = f"{self.home} holds no data yet"
        else:
            last = pd.Timestamp(newest, unit="us", tz="UTC")
            where = (f"the newest data in {self.home} is at {last:%Y-%m-%d %H:%M:%S} UTC "
                     f"({_ago((now - last).total_seconds())})")
        raise QueryError(f"The start of the range, {t0:%Y-%m-%d %H:%M:%S} UTC, is in the future (now is "
                         f"{now:%Y-%m-%d %H:%M:%S} UTC), so nothing can match; {where}. Start the range in the "
                         "past: a duration meaning 'that long ago' ('1h', '-1h', '7d') or an earlier time.",
                         start=str(t0), newest=None if newest is None else str(newest))

    def latest(
        self,
        metric: str | None = None,
        *,
        labels: Mapping[str, Any] | str | None = None,
        host: str | None = None,
        within: Any = "5min",
    ) -> pd.DataFrame:
        """The newest sample of every series (of ``metric``), among those seen within ``within``."""
        df, damaged = self._latest(metric, labels, host, within,
                                   lambda con, sql, p: con.execute(sql, p).df(), _empty_result)
        return _with_damage(_normalise(df), damaged)

    def latest_table(
        self,
        metric: str | None = None,
        *,
        labels: Mapping[str, Any] | str | None = None,
        host: str | None = None,
        within: Any = "5min",
    ) -> pa.Table:
        """:meth:`latest` as a ``pyarrow.Table`` of :data:`SAMPLE_SCHEMA`'s columns.

        For callers that ask every few seconds (the dashboard's KPI cards): it
        skips building a DataFrame, which costs more than the query itself
        for the ~200 rows of one host.
        """
        table, _damaged = self._latest(metric, labels, host, within,
                                       lambda con, sql, p: con.sql(sql, params=p).to_arrow_table(),
                                       SAMPLE_SCHEMA.empty_table)
        return table

    def _latest(self, metric, labels, host, within, fetch, empty):
        import pandas as pd

        from workbench.store._timeutil import parse_duration

        if metric is not None:
            self.check_metric(metric)
        window = int(parse_duration(within, what="within") * 1e6)

        def run(con, snap):
            newest = snap.max_tmax()
            if newest is None:
                return empty()
            files = snap.raw(newest - window, None)
            start = pd.Timestamp(newest - window, unit="us", tz="UTC").to_pydatetime()
            where, params = series_where(metric, start, labels=labels)
            return fetch(con, latest_sql(where), [files, *params])

        return self._run(run, [safe_host(host)] if host else None)

    def series(self, metric: str | None = None) -> pd.DataFrame:
        """Distinct (host, metric, labels) with first/last time and sample count."""
        where = "WHERE metric = ?" if metric else ""
        return self.sql(
            f"SELECT host, metric, labels, min(ts) AS first, max(ts) AS last, count(*) AS samples FROM samples {where} "  # noqa: S608 - fixed SQL fragments; every value is bound
            "GROUP BY ALL ORDER BY ALL",
            [metric] if metric else None,
        )

    # ------------------------------------------------------------ maintenance
    def compact(self, *, policy=None, host: str | None = None, clock=None):
        """Run one compaction cycle for ``host`` (default: this host).

        Only one process may compact a host: this takes the host's agent lock
        and raises :class:`AgentRunningError` if an agent holds it (the agent
        compacts on its own).
        """
        from workbench.store._compact import Compactor
        from workbench.store._lock import HostLock
        from workbench.store._timeutil import now_us

        h = safe_host(host or self.host)
        with HostLock(self.layout, h, purpose="compact"):
            comp = Compactor(self.layout, h, policy, clock=clock or now_us)
            try:
                return comp.run_once()
            finally:
                comp.close()

    def verify(self, *, quarantine: bool = False, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Check every file readers would read (every page decoded, every checksum matched).

        Names each damaged file in the returned :class:`VerifyReport`; with
        ``quarantine=True`` moves each aside into ``HOME/quarantine`` (nothing
        is deleted; readers already skip them). Works on a read-only home.
        """
        return verify_home(self.layout, quarantine=quarantine, progress=progress)

    def quarantined(self) -> pd.DataFrame:
        import pandas as pd

        rows = list_quarantined(self.layout)
        return pd.DataFrame(rows, columns=["file", "host", "reason", "at", "path", "bytes"])

    def size_bytes(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.home):
            for f in files:
                try:
                    total += os.path.getsize(os.path.join(root, f))
                except OSError:
                    pass
        return total



def _with_damage(df: pd.DataFrame, damaged: list[dict]) -> pd.DataFrame:
    df.attrs["damaged_files"] = damaged
    return df


def _split_by_host(table: pa.Table):
    hosts = table.column("host").unique().to_pylist()
    if len(hosts) == 1:
        yield hosts[0], table
        return
    for h in hosts:
        import pyarrow.compute as pc

        yield h, table.filter(pc.equal(table.column("host"), h))


def unwritable(exc: OSError, what: str, path: Path) -> StoreError:
    """A clear error for a write into the home that the system refused (a full disk, a read-only home)."""
    hint = (" (the file system holding the home is full). Free some space, or record into another home "
            "(--home DIR or WORKBENCH_HOME)." if exc.errno in (errno.ENOSPC, errno.EDQUOT) else
            ". Check that the home is writable by you, or use another one (--home DIR).")
    return StoreError(f"Cannot write {what} in {path}: {exc.strerror or exc}{hint}", path=str(path), errno=exc.errno)


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _empty_result() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "ts": pd.Series([], dtype="datetime64[us, UTC]"),
            "host": pd.Series([], dtype=object),
            "metric": pd.Series([], dtype=object),
            "labels": pd.Series([], dtype=object),
            "value": pd.Series([], dtype="float64"),
        }
    )


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return _empty_result()
    if "ts" in df and getattr(df["ts"].dt, "tz", None) is None:
        df["ts"] = df["ts"].dt.tz_localize("UTC")
    return df.reset_index(drop=True)
