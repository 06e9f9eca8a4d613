"""Where things live inside a home, and how files are named.

::

    HOME/
      hosts/<host>/
        incoming/   L0 segments from any writer: <stream>-<seq>-<tmin>-<tmax>.parquet
        raw/        compacted samples      } listed in manifest.json, written
        1m/ 1h/     rollup partials        } only by the host's compactor
        manifest.json
        agent.lock, agent-status.json, alerts-state.pkl
      tables/<table>/<host>/   append-only record tables (alerts, task_runs, ...)
      catalog/<stream>.json    metric catalogue entries contributed by writers
      quarantine/              files that could not be read, with a reason
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Layout", "L0Name", "parse_l0_name", "default_host", "new_stream_id", "TIERS"]

TIERS = ("raw", "1m", "1h")
_HOST_OK = re.compile(r"[^A-Za-z0-9_.-]")
_L0 = re.compile(r"^(?P<stream>[A-Za-z0-9_.]+)-(?P<seq>\d+)-(?P<tmin>\d+)-(?P<tmax>\d+)\.parquet$")


def default_host() -> str:
    return safe_host(socket.gethostname() or "localhost")


def safe_host(host: str) -> str:
    """Host names become directory names: keep them to a safe alphabet."""
    cleaned = _HOST_OK.sub("_", host.strip()) or "localhost"
    return cleaned[:128]


def new_stream_id(role: str) -> str:
    return f"{role}_{os.getpid()}_{secrets.token_hex(3)}"


@dataclass(frozen=True)
class L0Name:
    name: str
    stream: str
    seq: int
    tmin: int
    tmax: int


def parse_l0_name(name: str) -> L0Name | None:
    m = _L0.match(name)
    if not m:
        return None
    return L0Name(name, m["stream"], int(m["seq"]), int(m["tmin"]), int(m["tmax"]))


@dataclass(frozen=True)
class Layout:
    home: Path

    @property
    def hosts_dir(self) -> Path:
        return self.home / "hosts"

    def host_dir(self, host: str) -> Path:
        return self.hosts_dir / host

    def incoming(self, host: str) -> Path:
        return self.host_dir(host) / "incoming"

    def tier_dir(self, host: str, tier: str) -> Path:
        return self.host_dir(host) / tier

    def manifest(self, host: str) -> Path:
        return self.host_dir(host) / "manifest.json"

    def lock(self, host: str) -> Path:
        return self.host_dir(host) / "agent.lock"

    def status(self, host: str) -> Path:
        return self.host_dir(host) / "agent-status.json"

    def alert_state(self, host: str) -> Path:
        """What the agent's alert rules have learned (detectors, histories, lifecycles)."""
        return self.host_dir(host) / "alerts-state.pkl"

    def table_dir(self, table: str, host: str | None = None) -> Path:
        base = self.home / "tables" / table
        return base / host if host else base

    @property
    def catalog_dir(self) -> Path:
        return self.home / "catalog"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"

    def hosts(self) -> list[str]:
        try:
            return sorted(p.name for p in self.hosts_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        except FileNotFoundError:
            return []
