"""The shipped demo data set: real recordings loaded into a home, ending now.

``data/demo/`` holds two recordings (see ``data/demo/README.md`` for where
they come from and ``scripts/make_demo_data.py`` for how they were made):

- ``workstation``: a 20-minute recording of a real 2-core machine by the
  Workbench agent at 1 s, under a phased workload (CPU, disk I/O, memory,
  mixed, idle gaps);
- 16 hosts from the NAB ``realAWSCloudwatch`` series (``ec2-24ae8d``,
  ``rds-cc0c53``, ``elb-8c0756``...), about two weeks at 5 minutes each, mapped
  onto our metric names and units.

Times are shipped as offsets before the end of each series, so the history
always ends at load time. :func:`load_demo` writes it through the store like
any writer, registers the catalogue entries of the collectors that emit those
metrics, and compacts each host so the 1-minute and 1-hour rollups exist. The
labelled NAB anomaly windows and the workload phases land in the record
tables ``demo_anomalies`` and ``demo_phases``.

**Placing the history in time.** By default (``align="end"``) every host is
shifted so that its last sample is at ``now``: tests, dashboards and alert
demos need a history that reaches the present, and a shift by whole weeks
(which keeps weekday and time of day) would end the CloudWatch hosts up to a
week before now, or require dropping or wrapping data. ``align="week"``
offers that alternative: each host is shifted by the whole number of weeks
that brings its original end closest to ``now`` without passing it, keeping
day-of-week and time-of-day alignment exactly. Seasonal models (daily period)
are indifferent to the choice; calendar features are not.

**Retention applies.** Compaction uses the store's default policy, so raw
samples older than 7 days are expired just as they would be for an agent's
own data; the 1-minute and 1-hour rollups keep the whole history. Query the
two weeks with a step of a minute or more (``store.query(m, "14d", step="5min")``).

**Loading twice.** The demo hosts are written only into a home that does not
have them yet: a second load raises :class:`DemoExistsError` naming the
hosts, unless ``replace=True``, which deletes those hosts (and their record
rows) first. Nothing else in the home is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from workbench.catalog import MetricSpec
from workbench.errors import DataError, WorkbenchError

__all__ = ["load_demo", "remove_demo", "demo_dir", "demo_hosts", "DemoExistsError", "DEMO_METRICS"]

WORKSTATION = "workstation"
_WEEK_MS = 7 * 86400 * 1000

# Metrics the demo has that no collector emits.
DEMO_METRICS = (
    MetricSpec(
        "app.http.requests",
        "{request}/s",
        "rate",
        "Requests per second served by a load balancer (AWS ELB RequestCount over 5 minutes / 300).",
        source="demo",
    ),
)


class DemoExistsError(WorkbenchError, FileExistsError):
    """The home already holds (some of) the demo hosts."""


def demo_dir() -> Path:
    """Where the shipped files are: ``$WORKBENCH_DEMO_DATA`` or ``<repo>/data/demo``."""
    env = os.environ.get("WORKBENCH_DEMO_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / "demo"


def _meta(src: Path) -> dict:
    try:
        return json.loads((src / "meta.json").read_text())
    except FileNotFoundError:
        raise DataError(
            f"The demo data set is not in {src} (no meta.json). Run from a checkout of the repository, "
            "or point WORKBENCH_DEMO_DATA at a copy of data/demo/.",
            path=str(src),
        ) from None


def demo_hosts(src: Path | None = None) -> list[str]:
    """The hosts :func:`load_demo` writes: ``workstation`` and the CloudWatch hosts."""
    meta = _meta(src or demo_dir())
    return [WORKSTATION, *sorted(meta["cloudwatch"]["hosts"])]


def _known_specs() -> dict[str, MetricSpec]:
    """Catalogue entries of every collector and the agent, so demo metrics carry the same units and kinds."""
    from workbench.agent import AGENT_METRICS
    from workbench.collect import registry

    specs = {s.name: s for s in (*AGENT_METRICS, *DEMO_METRICS)}
    for name in registry.names():
        for spec in registry.get(name).specs:
            specs[spec.name] = spec
    return specs


def _clear(home: Path, hosts: Iterable[str]) -> None:
    from workbench.store._layout import Layout

    layout = Layout(home)
    for h in hosts:
        shutil.rmtree(layout.host_dir(h), ignore_errors=True)
        for table in (home / "tables").glob(f"*/{h}"):
            shutil.rmtree(table, ignore_errors=True)


def _anchor(align: str, offset_end_utc: str, now: pd.Timestamp) -> pd.Timestamp:
    """The time that offset 0 (the host's last sample) is placed at."""
    if align == "end":
        return now
    end = pd.Timestamp(offset_end_utc)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    weeks = (now - end) // pd.Timedelta(weeks=1)
    return end + pd.Timedelta(weeks=weeks)


def load_demo(
    home: str | os.PathLike,
    *,
    progress: bool = False,
    now: str | pd.Timestamp | None = None,
    align: str = "end",
    replace: bool = False,
    compact: bool = True,
) -> int:
    """Load the demo data set into ``home``; returns the number of samples written.

    ``now`` (default: the current time) is where the history ends; ``align``
    is ``"end"`` (every host ends at ``now``) or ``"week"`` (shift by whole
    weeks only, see the module docstring). ``replace=True`` deletes demo hosts
    already in the home instead of refusing. ``compact=False`` skips the
    compaction: the data is then one file per host, which every view and
    query reads as well (rollups are computed on the fly, so dashboards
    over the whole history are slower); compaction adds some ten seconds.
    """
    from workbench.store import CompactionPolicy, Store

    if align not in ("end", "week"):
        raise DataError(f"align must be 'end' or 'week'; got {align!r}.", align=align)
    home = Path(home)
    src = demo_dir()
    meta = _meta(src)
    hosts = demo_hosts(src)
    now_ts = pd.Timestamp.now("UTC") if now is None else pd.Timestamp(now)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    now_ts = now_ts.floor("ms")

    store = Store(home)
    present = sorted(set(store.hosts()) & set(hosts))
    if present and not replace:
        raise DemoExistsError(
            f"{store.home} already holds demo hosts {present[:4]}{'...' if len(present) > 4 else ''}; loading again "
            "would duplicate their samples. Load into another home (--home DIR), delete those host "
            "directories under hosts/, or replace them: `workbench demo --replace` (load_demo(home, replace=True) in "
            "Python).",
            home=str(store.home),
            hosts=present,
        )
    _clear(store.home, present)

    frames = {WORKSTATION: pq.read_table(src / "workstation.parquet").to_pandas()}
    cloud = pq.read_table(src / "cloudwatch.parquet").to_pandas()
    for h, part in cloud.groupby("host", sort=True):
        frames[h] = part.drop(columns="host")
    ends = {WORKSTATION: meta["workstation"]["recorded_end_utc"]}
    ends.update({h: v["original_end_utc"] for h, v in meta["cloudwatch"]["hosts"].items()})

    specs = _known_specs()
    names = set().union(*(set(f.metric.unique()) for f in frames.values()))
    store.register_metrics(specs[n] for n in sorted(names) if n in specs)

    anomalies = pd.DataFrame(json.loads((src / "anomalies.json").read_text()))
    phases = pd.DataFrame(meta["workstation"].get("phases", []))
    clock_us = int(now_ts.value // 1000)
    total = 0
    to_compact = []
    for h in _progress(hosts, progress, len(hosts), "writing"):
        df = frames[h]
        zero = _anchor(align, ends[h], now_ts)
        hs = Store(home, host=h, role="demo")
        total += hs.append(pd.DataFrame({
            "ts": zero + pd.to_timedelta(df.offset_ms.to_numpy(), unit="ms"),
            "metric": df.metric.to_numpy(), "labels": df.labels.to_numpy(), "value": df.value.to_numpy(),
        }))
        rec = anomalies[anomalies.host == h] if h != WORKSTATION else phases.assign(host=h)
        if len(rec):
            table = "demo_anomalies" if h != WORKSTATION else "demo_phases"
            hs.append_records(table, _windows(rec, zero))
        to_compact.append(hs)
    # Compaction seals each closed day of history straight from the loaded
    # file into a raw day file and its 1 min and 1 h rollups (three files per
    # day, not per hour). Hosts are independent (one lock each) and DuckDB
    # releases the GIL, so one thread per core overlaps them. A second cycle,
    # with the clock past the readers' grace period, deletes the inputs the
    # first one retired (readers holding an older snapshot retry, as with any
    # compaction).
    grace_us = int((CompactionPolicy().grace_s + 1) * 1e6)

    def settle(hs) -> None:
        hs.compact(clock=lambda: clock_us)
        hs.compact(clock=lambda: clock_us + grace_us)

    if compact:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            list(_progress(pool.map(settle, to_compact), progress, len(to_compact), "compacting"))
    return total


def _windows(rec: pd.DataFrame, zero: pd.Timestamp) -> pd.DataFrame:
    """Offsets of labelled windows (anomalies, workload phases) as times."""
    out = rec.drop(columns=["start_offset_s", "end_offset_s"]).copy()
    out.insert(1, "start", zero + pd.to_timedelta(rec.start_offset_s.to_numpy(), unit="s"))
    out.insert(2, "end", zero + pd.to_timedelta(rec.end_offset_s.to_numpy(), unit="s"))
    return out.reset_index(drop=True)


def _progress(items: Iterable, enabled: bool, total: int, what: str) -> Iterable:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=f"demo: {what}", unit="host", file=sys.stderr)


def remove_demo(home: str | os.PathLike, src: Path | None = None) -> list[str]:
    """Delete the demo hosts (their samples and record tables) from ``home``; returns those removed.

    Hosts recorded by an agent are never touched: only the names the demo
    writes, which no agent records under (``workstation`` and the CloudWatch ids).
    """
    from workbench.store._layout import Layout

    home = Path(home)
    present = sorted(set(Layout(home).hosts()) & set(demo_hosts(src)))
    _clear(home, present)
    return present
