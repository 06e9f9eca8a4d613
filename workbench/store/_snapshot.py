"""A reader's consistent view of the files of every host.

Listing ``incoming/`` *before* reading the manifest is what makes the view
exact: any L0 file seen in the listing is either named in the manifest's
``absorbed`` map (its rows are in a compacted file of that manifest: skip
it) or not (read it). Files that vanish between snapshot and read make the
query fail with a missing-file error, and the caller retries on a fresh
snapshot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from workbench.store._layout import Layout, parse_l0_name
from workbench.store._manifest import load_manifest

__all__ = ["Snapshot", "SnapFile", "take_snapshot"]


@dataclass(frozen=True)
class SnapFile:
    path: str
    tier: str  # raw | 1m | 1h | l0
    tmin: int
    tmax: int
    rolled: bool  # raw rows already present in rollup tiers

    def overlaps(self, start: int | None, end: int | None) -> bool:
        return (start is None or self.tmax >= start) and (end is None or self.tmin < end)


@dataclass
class Snapshot:
    files: list[SnapFile] = field(default_factory=list)

    def raw(self, start: int | None = None, end: int | None = None) -> list[str]:
        """Every sample file (compacted raw and unabsorbed L0) overlapping [start, end)."""
        return [f.path for f in self.files if f.tier in ("raw", "l0") and f.overlaps(start, end)]

    def unrolled(self, start: int | None = None, end: int | None = None) -> list[str]:
        """Sample files whose rows are not yet in the rollup tiers."""
        return [
            f.path
            for f in self.files
            if f.tier in ("raw", "l0") and not f.rolled and f.overlaps(start, end)
        ]

    def rollup(self, tier: str, start: int | None = None, end: int | None = None) -> list[str]:
        return [f.path for f in self.files if f.tier == tier and f.overlaps(start, end)]

    def max_tmax(self) -> int | None:
        raws = [f.tmax for f in self.files if f.tier in ("raw", "l0")]
        return max(raws) if raws else None

    def paths(self) -> list[str]:
        return [f.path for f in self.files]


def _quarantined_names(layout: Layout, host: str) -> set[str]:
    base = layout.quarantine_dir / host
    out: set[str] = set()
    for sub in ("raw", "1m", "1h", "incoming"):
        try:
            out.update(f"{sub}/{n}" for n in os.listdir(base / sub))
        except FileNotFoundError:
            pass
    return out


def take_snapshot(layout: Layout, hosts: list[str] | None = None) -> Snapshot:
    snap = Snapshot()
    for host in hosts if hosts is not None else layout.hosts():
        hdir = layout.host_dir(host)
        try:
            listing = os.listdir(hdir / "incoming")
        except FileNotFoundError:
            listing = []
        manifest = load_manifest(layout.manifest(host), host)
        quarantined = _quarantined_names(layout, host) if layout.quarantine_dir.exists() else set()
        for entry in manifest.files:
            if entry.name in quarantined:
                continue
            snap.files.append(
                SnapFile(str(hdir / entry.name), entry.tier, entry.tmin, entry.tmax, entry.rolled)
            )
        for name in listing:
            if name.startswith(".") or name in manifest.absorbed:
                continue
            parsed = parse_l0_name(name)
            if parsed is None:
                continue
            snap.files.append(SnapFile(str(hdir / "incoming" / name), "l0", parsed.tmin, parsed.tmax, False))
    return snap

