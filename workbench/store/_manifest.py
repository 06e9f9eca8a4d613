"""The per-host manifest: which compacted files are live.

Only the host's compactor writes it (atomically, by rename), so there is
never a write-write race. Readers combine one manifest with one listing of
``incoming/``: an L0 file named in ``absorbed`` is already inside a compacted
file and is skipped; any other L0 file is read directly. Files leave the
manifest before they are deleted, and are deleted only after a grace period,
so a reader holding an older snapshot can still open them; if it is slower
than the grace period, opening fails and the reader retries with a fresh
snapshot (see ``_snapshot.py``). Either way no sample is seen twice or missed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from workbench._atomic import write_bytes_atomic

__all__ = ["FileEntry", "Manifest", "load_manifest", "save_manifest"]

FORMAT = 1


@dataclass
class FileEntry:
    name: str  # relative to the host dir, e.g. "raw/h-....parquet"
    tier: str  # raw | 1m | 1h
    level: str  # chunk | hour | day | month
    tmin: int  # microseconds, inclusive
    tmax: int  # microseconds, inclusive
    rows: int
    bytes: int
    bucket: int = 0  # start (us) of the hour/day/month the file belongs to
    rolled: bool = False  # raw only: its rows are already in the rollup tiers

    def to_json(self) -> dict:
        return self.__dict__.copy()


@dataclass
class Manifest:
    host: str
    generation: int = 0
    files: list[FileEntry] = field(default_factory=list)
    absorbed: dict[str, int] = field(default_factory=dict)  # L0 name -> time absorbed (us)
    obsolete: dict[str, int] = field(default_factory=dict)  # file name -> time retired (us)
    quarantined: list[dict] = field(default_factory=list)

    def tier(self, tier: str) -> list[FileEntry]:
        return [f for f in self.files if f.tier == tier]

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "host": self.host,
            "generation": self.generation,
            "files": [f.to_json() for f in self.files],
            "absorbed": self.absorbed,
            "obsolete": self.obsolete,
            "quarantined": self.quarantined[-1000:],
        }


def load_manifest(path: Path, host: str) -> Manifest:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return Manifest(host=host)
    if raw.get("format") != FORMAT:
        from workbench.errors import StoreError

        raise StoreError(
            f"{path} has manifest format {raw.get('format')!r}; this Workbench reads format {FORMAT}. "
            "Upgrade Workbench or point --home at another directory.",
            path=str(path),
        )
    return Manifest(
        host=raw["host"],
        generation=raw["generation"],
        files=[FileEntry(**f) for f in raw["files"]],
        absorbed={k: int(v) for k, v in raw.get("absorbed", {}).items()},
        obsolete={k: int(v) for k, v in raw.get("obsolete", {}).items()},
        quarantined=list(raw.get("quarantined", [])),
    )


def save_manifest(path: Path, manifest: Manifest) -> None:
    manifest.generation += 1
    write_bytes_atomic(path, json.dumps(manifest.to_json(), separators=(",", ":")))
