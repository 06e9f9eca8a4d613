"""When scheduled reports run: a pure policy over cron expressions, with the clock passed in.

:class:`SchedulePolicy` holds, per report, the cron expression, the last
slot it ran for and whether a run is going on, and answers one question:
which reports are due *now*? The rules:

* a report fires at each slot of its cron expression (UTC), via croniter;
* a report seen for the first time starts with the next slot (configuring
  a report at 09:00 with ``0 7 * * *`` does not run it at once);
* slots missed while the agent was down are caught up **once**: the latest
  missed slot runs, the ones before it are skipped;
* a report never runs twice at once: while one runs, it is not due, and a
  slot that passes meanwhile is caught up once after it ends.

The agent applies the policy (:mod:`workbench.report._service`); tests drive
it with a fake clock. Nothing here starts a process, reads a file or sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["SchedulePolicy", "next_slot", "prev_slot"]


def next_slot(cron: str, after: float) -> float:
    """The first slot of ``cron`` strictly after ``after`` (UNIX seconds, UTC)."""
    from croniter import croniter

    return float(croniter(cron, datetime.fromtimestamp(after, UTC)).get_next(float))


def prev_slot(cron: str, at: float) -> float:
    """The latest slot of ``cron`` at or before ``at``."""
    from croniter import croniter

    nxt = next_slot(cron, at)
    prev = float(croniter(cron, datetime.fromtimestamp(nxt, UTC)).get_prev(float))
    return prev if prev <= at else float(croniter(cron, datetime.fromtimestamp(prev, UTC)).get_prev(float))


@dataclass
class _Entry:
    cron: str
    last_slot: float | None = None  # the slot the latest run was started for
    running: bool = False


class SchedulePolicy:
    """Due reports from cron expressions, the last slot each ran for, and what is running."""

    def __init__(self, crons: dict[str, str], last_slots: dict[str, float] | None = None) -> None:
        self.entries = {name: _Entry(cron, (last_slots or {}).get(name)) for name, cron in crons.items()}

    def due(self, now: float) -> list[tuple[str, float]]:
        """``(name, slot)`` of every report to start now: its slot has come, and it is not running.

        A report never seen before (no last slot) is given ``now`` as its
        last slot, so its first run is at its next slot.
        """
        out = []
        for name, e in self.entries.items():
            if e.last_slot is None:
                e.last_slot = now
                continue
            if e.running:
                continue
            if next_slot(e.cron, e.last_slot) <= now:
                out.append((name, prev_slot(e.cron, now)))  # the latest slot: missed ones are caught up once
        return out

    def started(self, name: str, slot: float) -> None:
        e = self.entries[name]
        e.running = True
        e.last_slot = slot

    def finished(self, name: str) -> None:
        self.entries[name].running = False

    def next_run(self, name: str, now: float) -> float:
        """When ``name`` runs next (``now`` if it is due)."""
        e = self.entries[name]
        base = e.last_slot if e.last_slot is not None else now
        return max(now, next_slot(e.cron, base)) if not e.running else next_slot(e.cron, max(base, now))

    def wake(self, now: float) -> float:
        """The earliest time anything may become due (for the caller's sleep)."""
        times = [self.next_run(n, now) for n, e in self.entries.items() if not e.running]
        return min(times) if times else float("inf")

    def last_slots(self) -> dict[str, float]:
        return {n: e.last_slot for n, e in self.entries.items() if e.last_slot is not None}
