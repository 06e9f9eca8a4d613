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
* Linux PSI, when the sampler can read it (``cpu_pressure``/``mem_pressure``: the share
  of time some runnable task waited for a CPU, or stalled on memory). Utilisation caps at
  100 % and cannot see a run queue, so with another tenant holding a core our workers
  can make every interactive task wait while CPU reads "on target". CPU pressure above
  ``cpu_pressure_target + hysteresis`` lowers the limit by one, memory pressure above
  ``mem_pressure_target`` by a quarter; an increase also needs both below
  ``target - hysteresis``. CPU pressure acts only once it has been measured for
  ``cooldown / 2`` seconds, so a single short interval cannot cut. A cut caused by CPU
  pressure leaves a *ceiling*: the limit may not climb back to the value that caused it
  for ``pressure_hold`` seconds, doubled (up to 16 x) each time a retry at that value is
  cut again. Pressure is a consequence of the limit, not a forecast of it, so without
  this the limit would probe upwards and fall back at every cooldown;
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

from workbench._params import Integral, Interval, Real, check_params
from workbench.errors import ParameterError

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
    cpu_pressure: float = math.nan
    mem_pressure: float = math.nan


def _smooth(previous: float, sample: float | None, weight: float) -> float:
    # A missing sample (no PSI on this platform) forgets the signal rather than freezing it.
    if sample is None or math.isnan(sample):
        return math.nan
    return sample if math.isnan(previous) else weight * sample + (1 - weight) * previous


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
        (either may be ``None``), such as :class:`~workbench.execute.ForecastPredictor`
        (a :mod:`workbench.forecast` model over the executor's recent samples). Errors
        from it are logged and ignored.
    log_size:
        Number of decisions kept in :attr:`decisions_`.
    cpu_pressure_target, mem_pressure_target:
        Share of time (0-1] that tasks may stall waiting for CPU / memory (Linux PSI
        ``some``) before the limit falls; ``None`` ignores that signal. Used only when
        :meth:`update` receives pressure values.
    pressure_hold:
        Seconds a CPU-pressure cut keeps the limit below the value that caused it.
    """

    _parameter_constraints = {
        "cpu_target": [Interval(Real, 0, 1.5, closed="right", doc="a fraction of all CPUs like 0.9")],
        "mem_target": [Interval(Real, 0, 1.5, closed="right", doc="a fraction of the memory budget like 0.85")],
        "min_workers": [Interval(Integral, 0, None, closed="left")],
        "max_workers": [None, Interval(Integral, 1, None, closed="left", doc="None: the CPU count")],
        "initial_workers": [None, Interval(Integral, 0, None, closed="left")],
        "smoothing": [Interval(Real, 0, 1, closed="right", doc="1: no smoothing")],
        "hysteresis": [Interval(Real, 0, None, closed="left")],
        "cooldown": [Interval(Real, 0, None, closed="left", doc="in seconds")],
        "mem_budget": [None, Interval(Real, 0, None, closed="neither", doc="bytes")],
        "predictor": [None, "callable"],
        "log_size": [Interval(Integral, 1, None, closed="left")],
        "cpu_pressure_target": [None, Interval(Real, 0, 1, closed="right",
                                               doc="a share of time like 0.3, or None to ignore CPU pressure")],
        "mem_pressure_target": [None, Interval(Real, 0, 1, closed="right",
                                               doc="a share of time like 0.1, or None to ignore memory pressure")],
        "pressure_hold": [Interval(Real, 0, None, closed="left", doc="in seconds")],
    }

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
        cpu_pressure_target: float | None = 0.3,
        mem_pressure_target: float | None = 0.1,
        pressure_hold: float = 30.0,
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
        self.cpu_pressure_target = cpu_pressure_target
        self.mem_pressure_target = mem_pressure_target
        self.pressure_hold = pressure_hold

    # -- state -------------------------------------------------------------------------
    def _check(self) -> None:
        check_params(self)
        if self.max_workers is not None and self.max_workers < max(1, self.min_workers):
            raise ParameterError(
                f"Governor needs 0 <= min_workers <= max_workers and max_workers >= 1; got "
                f"min_workers={self.min_workers!r}, max_workers={self.max_workers!r}.",
                min_workers=self.min_workers,
                max_workers=self.max_workers,
            )

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
        self.cpu_pressure_ = math.nan  # smoothed PSI shares; nan = not measured
        self.mem_pressure_ = math.nan
        self.pressure_since_ = math.nan  # when the current run of CPU-pressure samples began
        self.ceiling_ = math.inf  # limit a CPU-pressure cut came from ...
        self.ceiling_until_ = -math.inf  # ... which may not be reached again before this
        self._hold = self.pressure_hold
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
        allowed = {"cpu_target", "mem_target", "min_workers", "max_workers", "hysteresis", "cooldown", "mem_budget",
                   "cpu_pressure_target", "mem_pressure_target", "pressure_hold"}
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
        self.decisions_.append(Decision(now, new, self.limit_, self.cpu_, self.mem_, reason,
                                        self.cpu_pressure_, self.mem_pressure_))
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
        cpu_pressure: float | None = None,
        mem_pressure: float | None = None,
    ) -> int:
        """Feed one sample (CPU fraction of all cores, memory bytes); return the limit.

        ``cpu_pressure``/``mem_pressure`` are PSI ``some`` shares (0-1) over the last
        interval, or ``None`` where the platform has no PSI.
        """
        self._ensure_started(now)
        budget = float(self.mem_budget or mem_total)
        self.budget_ = budget
        self.mem_bytes_ = float(mem_used)
        mem = mem_used / budget
        a = self.smoothing
        self.cpu_ = cpu if math.isnan(self.cpu_) else a * cpu + (1 - a) * self.cpu_
        self.mem_ = mem if math.isnan(self.mem_) else a * mem + (1 - a) * self.mem_
        self.cpu_pressure_ = _smooth(self.cpu_pressure_, cpu_pressure, a)
        if math.isnan(self.cpu_pressure_):
            self.pressure_since_ = math.nan
        elif math.isnan(self.pressure_since_):
            self.pressure_since_ = now
        self.mem_pressure_ = _smooth(self.mem_pressure_, mem_pressure, a)
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
        cpu_p, mem_p = self.cpu_pressure_, self.mem_pressure_
        cpu_pt, mem_pt = self.cpu_pressure_target, self.mem_pressure_target
        can_lower = limit > self.min_workers and since >= self.cooldown / 2
        if mem_eff > self.mem_target and can_lower:
            new = max(self.min_workers, limit - max(1, limit // 4))
            self._change(now, new, f"{source} memory {mem_eff:.0%} of budget > target {self.mem_target:.0%}")
        elif mem_pt is not None and mem_p > mem_pt and can_lower:
            new = max(self.min_workers, limit - max(1, limit // 4))
            self._change(now, new, f"memory pressure: tasks stalled {mem_p:.0%} of the time > target {mem_pt:.0%}")
        elif cpu_eff > self.cpu_target + h and can_lower:
            self._change(now, limit - 1, f"{source} CPU {cpu_eff:.0%} > target {self.cpu_target:.0%} + {h:.0%}")
        elif cpu_pt is not None and cpu_p > cpu_pt + h and can_lower and now - self.pressure_since_ >= self.cooldown / 2:
            # (not on the first interval alone: one 0.1 s window of a busy machine is noise)
            # Back-off doubles when the limit that was cut is the one a retry reached again.
            retried = limit == self.ceiling_ and now >= self.ceiling_until_
            self._hold = min(16 * self.pressure_hold, 2 * self._hold) if retried else self.pressure_hold
            self.ceiling_, self.ceiling_until_ = limit, now + self._hold
            self._change(now, limit - 1, (
                f"CPU pressure: runnable tasks waited {cpu_p:.0%} of the time > target {cpu_pt:.0%} + {h:.0%} "
                f"(the run queue is longer than the cores); no return to {limit} for {self._hold:.0f}s"))
        elif (
            limit < self.upper_
            and queued > 0
            and running >= limit
            and since >= self.cooldown
            and cpu_eff < self.cpu_target - h
            and mem_eff < self.mem_target - h
        ):
            expected = cpu_eff * (running + 1) / running if running else cpu_eff
            if expected > self.cpu_target + h:
                self.holding_ = f"holding: one more worker would bring CPU to ~{expected:.0%}"
            elif cpu_pt is not None and cpu_p >= cpu_pt - h:
                self.holding_ = f"holding: CPU pressure {cpu_p:.0%} is not below target {cpu_pt:.0%} - {h:.0%}"
            elif mem_pt is not None and mem_p >= mem_pt - h:
                self.holding_ = f"holding: memory pressure {mem_p:.0%} is not below target {mem_pt:.0%} - {h:.0%}"
            elif limit + 1 >= self.ceiling_ and now < self.ceiling_until_:
                self.holding_ = (f"holding: CPU pressure cut the limit from {self.ceiling_:.0f}; it may "
                                 f"return there in {self.ceiling_until_ - now:.0f}s")
            else:
                why = f"{source} CPU {cpu_eff:.0%} and memory {mem_eff:.0%} below targets"
                if not math.isnan(cpu_p):
                    why += f", CPU pressure {cpu_p:.0%}"
                self._change(now, limit + 1, why + ", tasks waiting")
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
