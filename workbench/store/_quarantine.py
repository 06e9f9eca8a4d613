"""Moving unreadable files aside, loudly.

A file that cannot be decoded is renamed into ``HOME/quarantine/<host>/...``
with a ``.reason`` note beside it, a warning is logged and raised as a
:class:`StoreWarning`, and the rest of the store stays queryable. Nothing is
deleted: a person can inspect or repair the file.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path

from workbench.store._layout import Layout

__all__ = ["StoreWarning", "quarantine_file", "list_quarantined"]

log = logging.getLogger("workbench.store")


class StoreWarning(UserWarning):
    """Something in the store needed attention but the operation went on."""


def quarantine_file(layout: Layout, host: str, path: Path, rel: str, reason: str) -> Path:
    dest = layout.quarantine_dir / host / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, dest)
    except FileNotFoundError:
        return dest  # someone else quarantined it first
    note = {"file": rel, "host": host, "reason": reason, "at": time.time()}
    dest.with_name(dest.name + ".reason").write_text(json.dumps(note))
    msg = f"Quarantined unreadable segment {rel} of host {host!r} ({reason}); moved to {dest}. The rest of the store stays queryable."
    log.warning(msg)
    warnings.warn(msg, StoreWarning, stacklevel=3)
    return dest


def list_quarantined(layout: Layout) -> list[dict]:
    out = []
    base = layout.quarantine_dir
    if not base.exists():
        return out
    for note in sorted(base.rglob("*.reason")):
        try:
            info = json.loads(note.read_text())
        except (OSError, ValueError):
            continue
        target = note.with_name(note.name[: -len(".reason")])
        info["path"] = str(target)
        info["bytes"] = target.stat().st_size if target.exists() else 0
        out.append(info)
    return out
