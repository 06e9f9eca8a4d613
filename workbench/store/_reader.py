"""Reading a home despite compaction and damage: queries on snapshots, retried or answered from the rest.

A query runs on a snapshot of the files (``_snapshot.py``). When files vanish
underneath it (a compaction swapped them) it runs again on a new snapshot.
When a file cannot be read, the damaged one is found, quarantined (or, where
the home is not writable, skipped by this process, with a
:class:`StoreWarning`) and the query answers from the rest, naming what it
left out.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from workbench.errors import QueryError, StoreError
from workbench.store._layout import Layout
from workbench.store._quarantine import StoreWarning, quarantine_file
from workbench.store._segment import check_segment
from workbench.store._snapshot import Snapshot, take_snapshot
from workbench.store._verify import record_files

if TYPE_CHECKING:
    import duckdb

__all__ = ["Reader"]

_RETRIES = 6


class Reader:
    """Runs queries over one home's files for a :class:`Store`; safe to use from several threads.

    ``views`` lists the store's views, for the message of a query that names a wrong one.
    """

    def __init__(self, layout: Layout, views: Callable[[], list[str]], *, threads: int | None = None) -> None:
        self.layout = layout
        self.threads = threads
        self._views = views
        self._local = threading.local()
        self.verified: set[str] = set()  # files this process decoded in full and found sound
        self.skipped: dict[str, dict] = {}  # damaged files left in place (the home was not writable)

    def con(self) -> duckdb.DuckDBPyConnection:
        """This thread's DuckDB connection (one each: a connection is not shared between threads)."""
        con = getattr(self._local, "con", None)
        if con is None:
            import duckdb

            con = duckdb.connect(config={"threads": self.threads} if self.threads else {})
            con.execute("SET TimeZone='UTC'")
            self._local.con = con
        return con

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection, Snapshot], Any],
            hosts: list[str] | None = None) -> tuple[Any, list[dict]]:
        """Run ``fn`` on a fresh snapshot; return its result and the damaged files left out of it.

        Files that vanished underneath the query (a compaction swapped them)
        mean a retry on a new snapshot. Any other failure to read is looked
        into: damaged files are quarantined (or, where the home is not
        writable, skipped by this process) and the query runs again on the
        rest; a failure no file explains is raised as it came.
        """
        import duckdb

        user_errors = _user_errors()  # wrong SQL or data, not a damaged file: raised as they are
        damaged: dict[str, dict] = {}
        last: Exception | None = None
        moved = 0
        while moved < _RETRIES:
            snap = take_snapshot(self.layout, hosts)
            if self.skipped:
                left_out = [p for p in snap.paths() if p in self.skipped]
                for p in left_out:
                    damaged.setdefault(p, self.skipped[p])
                snap = Snapshot([f for f in snap.files if f.path not in self.skipped])
            con = self.con()
            try:
                return fn(con, snap), list(damaged.values())
            except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
                raise QueryError(f"{exc}\nViews: {', '.join(self._views())}.", error=str(exc)) from None
            except user_errors:
                raise
            except (duckdb.Error, pa.ArrowException, OSError) as exc:
                # Undecodable pages raise a bare duckdb.Error ("don't know what
                # type") that names no file; a fatal one may invalidate the connection.
                last = exc
                self._local.con = None
                if any(not os.path.exists(p) for p in snap.paths()):
                    moved += 1
                    continue  # compaction swapped files: take a new snapshot
                found = self._set_aside(snap, str(exc))
                if not found:
                    raise
                damaged.update(found)
        raise StoreError(f"Query kept failing while files changed underneath it: {last}", error=str(last))

    def _set_aside(self, snap: Snapshot, message: str) -> dict[str, dict]:
        """Find the damaged files among those ``snap`` and the record tables read; quarantine or skip each.

        Files the error names are checked first; when none is damaged, every
        file this process has not yet verified is (once: segments never
        change under their name). Returns what was found, by path.
        """
        paths = snap.paths() + [str(p) for p in record_files(self.layout) if str(p) not in self.skipped]
        named = [p for p in paths if p in message]
        found: dict[str, dict] = {}
        for batch in (named, [p for p in paths if p not in named and p not in self.verified]):
            for p in batch:
                try:
                    reason = check_segment(p)
                except FileNotFoundError:
                    continue
                if reason is None:
                    self.verified.add(p)
                else:
                    found[p] = self._quarantine_or_skip(Path(p), reason)
            if found:
                break
        return found

    def _quarantine_or_skip(self, path: Path, reason: str) -> dict:
        """Quarantine a damaged file; where the home is not writable, leave it and skip it in this process."""
        host, rel = _host_and_rel(self.layout, path)
        info = {"path": str(path), "host": host, "reason": reason}
        try:
            dest = quarantine_file(self.layout, host, path, rel, reason)
            return {**info, "action": "quarantined", "moved_to": str(dest)}
        except OSError as exc:
            msg = (
                f"Skipped unreadable segment {rel} of host {host!r} ({reason}): the home is read-only or not "
                f"writable here ({exc.strerror or exc}), so the file stays where it is and queries in this process "
                "answer from the rest. The host's agent quarantines it when it compacts, as does "
                "`workbench verify --quarantine` run where the home is writable."
            )
            warnings.warn(msg, StoreWarning, stacklevel=_outside_store())
            self.skipped[str(path)] = {**info, "action": "skipped"}
            return self.skipped[str(path)]


def _user_errors() -> tuple[type[Exception], ...]:
    import duckdb

    return (duckdb.ConversionException, duckdb.OutOfRangeException, duckdb.TypeMismatchException,
            duckdb.NotImplementedException, duckdb.ConstraintException, duckdb.InterruptException)


def _outside_store() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside ``workbench.store``."""
    here = os.path.dirname(__file__)
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == here:
        frame, level = frame.f_back, level + 1
    return level


def _host_and_rel(layout: Layout, path: Path) -> tuple[str, str]:
    """The host a file belongs to and its name below the host's quarantine directory."""
    parts = path.relative_to(layout.home).parts
    if parts[0] == "tables":  # tables/<table>/<host>/<file>
        return parts[2], f"tables/{parts[1]}/{parts[3]}"
    return parts[1], f"{parts[2]}/{parts[3]}"  # hosts/<host>/<tier>/<file>
