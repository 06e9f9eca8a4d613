"""StoreSink: writes every TaskRun to the store's ``task_runs`` table.

Kept thin and apart so the executor never depends on the store: records are buffered
and written in batches (each ``append_records`` call makes one Parquet segment), with an
explicit Arrow schema so every segment has the same column types even when a batch
happens to hold only never-started tasks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from workbench.execute._runs import TaskRun

__all__ = ["StoreSink", "TASK_RUNS_SCHEMA"]

_TS = pa.timestamp("us", tz="UTC")
TASK_RUNS_SCHEMA = pa.schema([
    ("id", pa.int64()), ("key", pa.string()), ("name", pa.string()), ("tags", pa.string()),
    ("state", pa.string()), ("priority", pa.float64()), ("submitted", _TS), ("started", _TS),
    ("ended", _TS), ("wait_s", pa.float64()), ("run_s", pa.float64()), ("attempts", pa.int32()),
    ("cpu_time_s", pa.float64()), ("peak_rss_bytes", pa.int64()), ("error", pa.string()),
    ("backend", pa.string()), ("notes", pa.string()),
])


def _us(t: float | None) -> int | None:
    return None if t is None else int(t * 1_000_000)


class StoreSink:
    """Buffer :class:`TaskRun` records and append them to ``store``'s ``task_runs``.

    Flushes when ``batch_size`` records are waiting or ``flush_interval`` seconds have
    passed since the last write, and on :meth:`flush` (the executor calls it at
    shutdown). ``tags`` become one sorted, comma-separated string.
    """

    def __init__(self, store: Any, table: str = "task_runs", batch_size: int = 500, flush_interval: float = 5.0) -> None:
        self.store = store
        self.table = table
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._buf: list[TaskRun] = []
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def write(self, runs: Iterable[TaskRun]) -> None:
        with self._lock:
            self._buf.extend(runs)
            due = len(self._buf) >= self.batch_size or time.monotonic() - self._last >= self.flush_interval
        if due:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            rows, self._buf = self._buf, []
            self._last = time.monotonic()
        if not rows:
            return 0
        cols: dict[str, list] = {f.name: [] for f in TASK_RUNS_SCHEMA}
        for r in rows:
            cols["id"].append(r.id)
            cols["key"].append(r.key)
            cols["name"].append(r.name)
            cols["tags"].append(",".join(sorted(r.tags)))
            cols["state"].append(r.state)
            cols["priority"].append(r.priority)
            cols["submitted"].append(_us(r.submitted))
            cols["started"].append(_us(r.started))
            cols["ended"].append(_us(r.ended))
            cols["wait_s"].append(r.wait_time)
            cols["run_s"].append(None if r.started is None else r.ended - r.started)
            cols["attempts"].append(r.attempts)
            cols["cpu_time_s"].append(r.cpu_time)
            cols["peak_rss_bytes"].append(r.peak_rss)
            cols["error"].append(r.error)
            cols["backend"].append(r.backend)
            cols["notes"].append(r.notes)
        table = pa.table({k: pa.array(v, type=TASK_RUNS_SCHEMA.field(k).type) for k, v in cols.items()},
                         schema=TASK_RUNS_SCHEMA)
        try:
            return self.store.append_records(self.table, table)
        except Exception:
            with self._lock:  # keep the rows for the next flush rather than lose them
                self._buf[:0] = rows
            raise

    close = flush
