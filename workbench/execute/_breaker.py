"""Circuit breakers per task group (a tag or a task name), as a pure policy.

closed --(``failures`` in a row, or a failure rate >= ``failure_rate`` over the last
``window`` results)--> open --(``cooldown`` seconds)--> half-open: one trial task runs;
success closes the circuit, failure opens it again. While open, tasks of the group are
rejected without running, which protects a failing dependency and saves the machine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["CircuitBreaker"]


@dataclass
class _Group:
    results: deque = field(default_factory=lambda: deque(maxlen=20))
    consecutive: int = 0
    state: str = "closed"
    opened_at: float = 0.0
    trial_running: bool = False


class CircuitBreaker:
    """Per-group breaker state; ``now`` is passed in. Not thread-safe (the executor locks)."""

    def __init__(self, failures: int = 5, failure_rate: float = 0.5, window: int = 20, cooldown: float = 30.0) -> None:
        self.failures = failures
        self.failure_rate = failure_rate
        self.window = window
        self.cooldown = cooldown
        self._groups: dict[str, _Group] = {}

    def _group(self, name: str) -> _Group:
        g = self._groups.get(name)
        if g is None:
            g = self._groups[name] = _Group(results=deque(maxlen=self.window))
        return g

    def state(self, name: str, now: float) -> str:
        g = self._groups.get(name)
        if g is None:
            return "closed"
        if g.state == "open" and now - g.opened_at >= self.cooldown:
            g.state, g.trial_running = "half_open", False
        return g.state

    def allow(self, groups: list[str], now: float) -> str | None:
        """Return ``None`` if a task of these groups may run, else the name of an open group."""
        for name in groups:
            state = self.state(name, now)
            if state == "open" or (state == "half_open" and self._groups[name].trial_running):
                return name
        for name in groups:
            if self.state(name, now) == "half_open":
                self._groups[name].trial_running = True
        return None

    def record(self, groups: list[str], ok: bool, now: float) -> None:
        for name in groups:
            g = self._group(name)
            g.results.append(ok)
            if ok:
                g.consecutive = 0
                if g.state == "half_open":
                    g.state, g.trial_running = "closed", False
                    g.results.clear()
                continue
            g.consecutive += 1
            rate = g.results.count(False) / len(g.results)
            if g.state == "half_open" or g.consecutive >= self.failures or (
                len(g.results) >= self.window and rate >= self.failure_rate
            ):
                g.state, g.opened_at, g.trial_running = "open", now, False

    def snapshot(self, now: float) -> dict[str, str]:
        return {name: self.state(name, now) for name in self._groups}
