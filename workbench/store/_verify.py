"""A scrub of the whole home: every file readers would read, checked in full.

As ``zpool scrub`` or Prometheus' ``promtool tsdb analyze`` do for theirs,
:func:`verify_home` reads every live Parquet file of a home -- the files in
each host's manifest, the L0 files not yet absorbed, the record tables --
decoding every page and matching every page checksum, and names each one
that fails. It changes nothing unless asked to quarantine, so it runs on a
read-only home and beside a running agent (a file a compaction retires
while the scrub runs is simply gone, not damaged).

Queries do not do this on every read (DuckDB does not verify page
checksums, and decoding a store in full takes time proportional to its
size); compaction does it for every file before merging it, and this scrub
covers the sealed files that compaction no longer touches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.store._layout import Layout
from workbench.store._manifest import load_manifest
from workbench.store._quarantine import quarantine_file
from workbench.store._segment import check_segment
from workbench.store._snapshot import take_snapshot

__all__ = ["Damage", "VerifyReport", "verify_home", "record_files"]


@dataclass
class Damage:
    path: str
    host: str
    name: str  # relative to the home, e.g. hosts/h1/raw/d-....parquet
    reason: str
    moved_to: str | None = None  # where --quarantine put it
    error: str | None = None  # why it could not be quarantined


@dataclass
class VerifyReport:
    checked: int = 0
    bytes: int = 0
    damaged: list[Damage] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.damaged


def record_files(layout: Layout) -> list[Path]:
    """Every file of every record table (``tables/<table>/<host>/*.parquet``)."""
    base = layout.home / "tables"
    try:
        return sorted(p for p in base.glob("*/*/*.parquet") if not p.name.startswith("."))
    except FileNotFoundError:
        return []


def _still_listed(layout: Layout, host: str, path: Path) -> bool:
    """Whether a file that is gone is still named by its host's manifest (then it is missing, not retired)."""
    rel = f"{path.parent.name}/{path.name}"
    if path.parent.name == "incoming":
        return False  # L0 files leave once absorbed
    return any(f.name == rel for f in load_manifest(layout.manifest(host), host).files)


def verify_home(layout: Layout, *, quarantine: bool = False,
                progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Check every live file of the home; see the module docstring."""
    t0 = time.perf_counter()
    report = VerifyReport()
    files: list[tuple[str, Path, str]] = []  # host, path, name below the host's quarantine directory
    for f in take_snapshot(layout).files:
        p = Path(f.path)
        files.append((p.parent.parent.name, p, f"{p.parent.name}/{p.name}"))
    for p in record_files(layout):
        files.append((p.parent.name, p, f"tables/{p.parent.parent.name}/{p.name}"))
    for i, (host, path, rel) in enumerate(files):
        if progress is not None:
            progress(i, len(files))
        try:
            size = os.path.getsize(path)
            reason = check_segment(path)
        except FileNotFoundError:
            if not _still_listed(layout, host, path):
                continue  # retired by a compaction while we ran
            size, reason = 0, "missing: named in manifest.json but not on disk"
        report.checked += 1
        report.bytes += size
        if reason is None:
            continue
        d = Damage(str(path), host, str(path.relative_to(layout.home)), reason)
        if quarantine and size:
            try:
                d.moved_to = str(quarantine_file(layout, host, path, rel, reason))
            except OSError as exc:
                d.error = f"could not move it: {exc.strerror or exc}"
        report.damaged.append(d)
    if progress is not None:
        progress(len(files), len(files))
    report.seconds = time.perf_counter() - t0
    return report
