"""The governor: a pure policy that sets the live concurrency limit.

Shaped like ``distributed/deploy/adaptive_core.py``: the policy (targets, min/max clamp,
hysteresis, a bounded decision log) is kept apart from what applies it. There are no
threads and no clock inside; the executor's sampler passes ``now`` and the measurements
in, so every decision can be replayed in a test from a scripted trace.

Rules, applied at each :meth:`Governor.update`:

* measurements are smoothed with an exponential moving average (``smoothing`` is the
  weight of the newest sample); with a ``predictor`` the larger of the present and the
  predicted value is used, so the limit falls *before* a forecast peak;
* memory above ``mem_target`` (a fraction of ``mem_budget``) or CPU above
  ``cpu_target + hysteresis`` lowers the limit (memory by a quarter, CPU by one);
* the limit rises by one only when there is demand (tasks queued while all slots are
  busy), CPU and memory are below ``target - hysteresis``, **and** the CPU expected at
  one more worker (present CPU scaled by ``(running + 1) / running``) stays within
  ``cpu_target + hysteresis``. That last test is what stops the classic oscillation
  between a limit that is a bit too low and one that is a bit too high;
* changes are at least ``cooldown`` seconds apart (decreases half that), so the effect
  of one change is measured before the next.

Memory-aware admission (:meth:`Governor.admit`) refuses to start a task whose declared
or learned memory, added to the present use and to what running tasks are still
expected to allocate, would pass the memory target. One task may always run, so the
executor never stalls.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from workbench.errors import ConfigError

__all__ = ["Governor", "Decision"]

Predictor = Callable[[float], "tuple[float | None, float | None] | None"]


@dataclass(frozen=True)
class Decision:
    """One entry of the decision log: when, what limit, from what, and why."""

    ts: float
    limit: int
    previous: int
    cpu: float
    mem: float
    reason: str


class Governor:
    """Concurrency policy from CPU and memory against targets.

    Parameters
    ----------
    cpu_target, mem_target:
        Fractions (0-1] of all CPUs and of ``mem_budget`` to stay under.
    min_workers, max_workers:
        Bounds of the limit; ``max_workers=None`` means the CPU count.
    initial_workers:
        Starting limit; ``None`` means ``min(max_workers, cpu count)``.
    smoothing:
        EWMA weight of the newest sample (1 = no smoothing).
    hysteresis:
        Dead band around the CPU and memory targets in which the limit holds.
    cooldown:
        Minimum seconds between two increases (decreases: half of it).
    mem_budget:
        Bytes the memory target is a fraction of; ``None`` = the ``mem_total`` passed in.
    predictor:
        Optional ``f(now) -> (cpu_fraction, mem_bytes)`` giving a short-horizon forecast
        (either may be ``None``); for example a forecaster from :mod:`workbench.forecast`
        fed by the store. Errors from it are logged and ignored.
    log_size:
        Number of decisions kept in :attr:`decisions_`.
    """

    def __init__(
        self,
        cpu_target: float = 0.9,
        mem_target: float = 0.85,
        min_workers: int = 1,
        max_workers: int | None = None,
        initial_workers: int | None = None,
        smoothing: float = 0.5,
        hysteresis: float = 0.05,
        cooldown: float = 1.0,
        mem_budget: float | None = None,
        predictor: Predictor | None = None,
        log_size: int = 256,
    ) -> None:
        self.cpu_target = cpu_target
        self.mem_target = mem_target
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.initial_workers = initial_workers
        self.smoothing = smoothing
        self.hysteresis = hysteresis
        self.cooldown = cooldown
        self.mem_budget = mem_budget
        self.predictor = predictor
        self.log_size = log_size

    # -- state -------------------------------------------------------------------------
    def _check(self) -> None:
        for name in ("cpu_target", "mem_target"):
            value = getattr(self, name)
            if not 0 < value <= 1.5:
                raise ConfigError(
                    f"Governor {name} is a fraction like 0.85; got {value!r}.", **{name: value}
                )
        if self.min_workers < 0 or (self.max_workers is not None and self.max_workers < max(1, self.min_workers)):
            raise ConfigError(
                f"Governor needs 0 <= min_workers <= max_workers and max_workers >= 1; got "
                f"min_workers={self.min_workers!r}, max_workers={self.max_workers!r}.",
                min_workers=self.min_workers,
                max_workers=self.max_workers,
            )
        if not 0 < self.smoothing <= 1:
            raise ConfigError(f"Governor smoothing must be in (0, 1]; got {self.smoothing!r}.", smoothing=self.smoothing)

    @property
    def upper_(self) -> int:
        return self.max_workers if self.max_workers is not None else (os.cpu_count() or 1)

    def _ensure_started(self, now: float) -> None:
        if hasattr(self, "limit_"):
            return
        self._check()
        start = self.initial_workers if self.initial_workers is not None else min(self.upper_, os.cpu_count() or 1)
        self.limit_ = max(self.min_workers, min(self.upper_, start), 1 if self.upper_ >= 1 else 0)
        self.cpu_ = math.nan
        self.mem_ = math.nan  # smoothed fraction of the budget
        self.mem_bytes_ = math.nan  # latest raw bytes, for admission
        self.budget_ = math.nan
        self.reason_ = "initial limit"
        self.holding_ = ""
        self.last_change_ = -math.inf
        self.decisions_: deque[Decision] = deque(maxlen=self.log_size)
        self.learned_memory_: dict[str, float] = {}
        self._recent: dict[str, deque[float]] = {}
        self._refusing = False
        self.decisions_.append(Decision(now, self.limit_, self.limit_, math.nan, math.nan, self.reason_))

    def set_limits(self, **changes: float | int | None) -> None:
        """Change targets or bounds while running; unknown names raise ``TypeError``."""
        allowed = {"cpu_target", "mem_target", "min_workers", "max_workers", "hysteresis", "cooldown", "mem_budget"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"set_limits() got unknown option(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        for key, value in changes.items():
            setattr(self, key, value)
        self._check()
        if hasattr(self, "limit_"):
            clamped = max(self.min_workers, min(self.upper_, self.limit_))
            if clamped != self.limit_:
                self._change(self.last_change_, clamped, f"limits changed: {changes}")

    # -- policy -------------------------------------------------------------------------
    def _change(self, now: float, new: int, reason: str) -> None:
        self.decisions_.append(Decision(now, new, self.limit_, self.cpu_, self.mem_, reason))
        self.limit_ = new
        self.reason_ = reason
        self.last_change_ = now

    def update(
        self,
        now: float,
        cpu: float,
        mem_used: float,
        mem_total: float,
        *,
        running: int,
        queued: int,
    ) -> int:
        """Feed one sample (CPU fraction of all cores, memory bytes); return the limit."""
        self._ensure_started(now)
        budget = float(self.mem_budget or mem_total)
        self.budget_ = budget
        self.mem_bytes_ = float(mem_used)
        mem = mem_used / budget
        a = self.smoothing
        self.cpu_ = cpu if math.isnan(self.cpu_) else a * cpu + (1 - a) * self.cpu_
        self.mem_ = mem if math.isnan(self.mem_) else a * mem + (1 - a) * self.mem_
        cpu_eff, mem_eff, source = self.cpu_, self.mem_, "measured"
        if self.predictor is not None:
            try:
                predicted = self.predictor(now)
            except Exception as exc:  # a broken forecast must not stop the executor
                predicted = None
                self.holding_ = f"predictor failed ({type(exc).__name__}: {exc}); using measurements"
            if predicted:
                p_cpu, p_mem = predicted
                if p_cpu is not None and p_cpu > cpu_eff:
                    cpu_eff, source = p_cpu, "predicted"
                if p_mem is not None and p_mem / budget > mem_eff:
                    mem_eff, source = p_mem / budget, "predicted"

        h = self.hysteresis
        since = now - self.last_change_
        limit = self.limit_
        if mem_eff > self.mem_target and limit > self.min_workers and since >= self.cooldown / 2:
            new = max(self.min_workers, limit - max(1, limit // 4))
            self._change(now, new, f"{source} memory {mem_eff:.0%} of budget > target {self.mem_target:.0%}")
        elif cpu_eff > self.cpu_target + h and limit > self.min_workers and since >= self.cooldown / 2:
            self._change(now, limit - 1, f"{source} CPU {cpu_eff:.0%} > target {self.cpu_target:.0%} + {h:.0%}")
        elif (
            limit < self.upper_
            and queued > 0
            and running >= limit
            and since >= self.cooldown
            and cpu_eff < self.cpu_target - h
            and mem_eff < self.mem_target - h
        ):
            expected = cpu_eff * (running + 1) / running if running else cpu_eff
            if expected <= self.cpu_target + h:
                self._change(now, limit + 1, f"{source} CPU {cpu_eff:.0%} and memory {mem_eff:.0%} below targets, tasks waiting")
            else:
                self.holding_ = f"holding: one more worker would bring CPU to ~{expected:.0%}"
        elif limit < self.min_workers:
            self._change(now, self.min_workers, "raised to min_workers")
        return self.limit_

    def admit(self, need: float | None, outstanding: float, running: int) -> tuple[bool, str]:
        """May a task expected to use ``need`` more bytes start now?

        ``outstanding`` is what already-running tasks are still expected to allocate
        (their estimates minus what they have grown so far).
        """
        if running == 0 or not need or not hasattr(self, "limit_") or math.isnan(self.mem_bytes_):
            return True, "admitted"
        cap = self.mem_target * self.budget_
        projected = self.mem_bytes_ + outstanding + need
        if projected <= cap:
            self._refusing = False
            return True, "admitted"
        reason = (
            f"memory: {projected / 2**20:.0f} MiB projected (used {self.mem_bytes_ / 2**20:.0f} + "
            f"running {outstanding / 2**20:.0f} + task {need / 2**20:.0f}) > target {cap / 2**20:.0f} MiB"
        )
        if not self._refusing:  # log transitions only, the log stays bounded and readable
            self.decisions_.append(Decision(math.nan, self.limit_, self.limit_, self.cpu_, self.mem_, "admission paused: " + reason))
            self._refusing = True
        return False, reason

    # -- learning memory per kind of task ------------------------------------------------
    def learn(self, name: str, peak_bytes: float, keep: int = 20) -> None:
        """Record the memory one run of ``name`` added; the estimate is the recent maximum."""
        self._ensure_started(0.0)
        recent = self._recent.setdefault(name, deque(maxlen=keep))
        recent.append(float(peak_bytes))
        self.learned_memory_[name] = max(recent)

    def estimate(self, name: str | None, declared: float | None) -> float | None:
        """Memory to expect from a task: declared if given, else learned for its name."""
        if declared is not None:
            return float(declared)
        if name is None or not hasattr(self, "learned_memory_"):
            return None
        return self.learned_memory_.get(name)
