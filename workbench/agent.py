"""The agent: the long-running loop that records this machine.

One thread collects and flushes; it never does slow work. Every
``flush_interval`` the buffer becomes one atomic L0 segment, so a ``kill -9``
loses at most that much; SIGINT/SIGTERM flush everything first.

Compaction runs on a second thread so that no file work ever delays a tick:
the agent absorbs L0 files itself and starts a child process for the heavy
part (:mod:`workbench._agent_compaction`), so its hot path needs only psutil
and pyarrow's Parquet reader and writer, which keeps it near 75 MiB resident
instead of ~145 MiB with the query engines loaded (docs/benchmarks/agent.md).
For the same reason nothing here imports pandas.

Alert rules from ``[alerts]`` are evaluated on every sample as it is
collected (:mod:`workbench.detect._live`, imported only when rules exist).

Every ``control_interval`` (1 s) the loop polls the control actions addressed
to ``alerts:<host>`` (:class:`workbench.control.ActionPoller`: a few ``stat``
calls when nothing is new) and applies acks and silences made from any
process or host; with no rules configured they are refused with that reason.

The agent measures itself: its CPU and memory, each collector's cost and
error counts, the samples it wrote, compaction's duration, failures and
peak memory. Those land in the store as ``workbench.agent.*`` metrics and in
``agent-status.json`` for ``workbench status`` (:mod:`workbench._agent_status`).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import psutil
import pyarrow as pa

from workbench._agent_compaction import CompactionSupervisor
from workbench._agent_status import StatusFile, read_status
from workbench._arrow import fixed_width as _fixed_width
from workbench._arrow import strings as _strings
from workbench._logthrottle import RepeatedFailure
from workbench.catalog import MetricSpec
from workbench.collect import Collector, registry
from workbench.config import Config, check_config, load_config, positive_duration
from workbench.control import ActionPoller
from workbench.errors import ConfigError, WorkbenchError
from workbench.store._lock import HostLock
from workbench.store._segment import SAMPLE_SCHEMA, TS
from workbench.store._store import Store, unwritable

__all__ = ["Agent", "AgentSummary", "AGENT_METRICS", "read_status"]

log = logging.getLogger("workbench.agent")

AGENT_METRICS = (
    MetricSpec("workbench.agent.cpu.utilization", "1", "gauge", "CPU used by the agent, as a fraction of one core.", "agent"),
    MetricSpec("workbench.agent.memory.rss", "By", "gauge", "Resident memory of the agent process.", "agent"),
    MetricSpec("workbench.agent.samples.written", "{sample}", "counter", "Samples the agent has written since it started.", "agent"),
    MetricSpec("workbench.agent.buffer.size", "{sample}", "gauge", "Samples held in memory waiting for the next flush.", "agent"),
    MetricSpec("workbench.agent.samples.dropped", "{sample}", "counter", "Samples dropped because the buffer overflowed while the store could not be written.", "agent"),
    MetricSpec("workbench.agent.collector.errors", "{error}", "counter", "Errors per collector and kind since the agent started (a failed collect counts as kind=collect).", "agent"),
    MetricSpec("workbench.agent.collector.duration", "s", "gauge", "Wall time of the collector's last collect().", "agent"),
    MetricSpec("workbench.agent.flush.duration", "s", "gauge", "Wall time of the last flush to the store.", "agent"),
    MetricSpec("workbench.agent.compaction.duration", "s", "gauge", "Wall time of the last compaction cycle.", "agent"),
    MetricSpec("workbench.agent.absorb.duration", "s", "gauge", "Wall time of the agent's last absorb step (L0 files into chunks).", "agent"),
    MetricSpec("workbench.agent.compaction.rss", "By", "gauge", "Peak resident memory of the last compaction child process.", "agent"),
    MetricSpec("workbench.agent.compaction.failures", "{failure}", "counter", "Compaction cycles that failed since the agent started.", "agent"),
    MetricSpec("workbench.agent.alerts.firing", "{alert}", "gauge", "Alerts firing now, from the rules the agent evaluates.", "agent"),
)


class _Repeated(RepeatedFailure):
    """A :class:`~workbench._logthrottle.RepeatedFailure` logged as ``workbench.agent``."""

    def __init__(self, what: str, every: float = 60.0, clock=time.monotonic, **kwargs: Any) -> None:
        super().__init__(what, every, clock, logger=log, **kwargs)


@dataclass
class _Slot:
    collector: Collector
    interval: float
    due: float
    failures: int = 0
    last_duration: float = 0.0
    last_error: str = ""
    trouble: RepeatedFailure = field(init=False)

    def __post_init__(self) -> None:
        self.trouble = _Repeated(f"collector {self.collector.name} failed", level=logging.WARNING)


@dataclass
class AgentSummary:
    samples_written: int = 0
    flushes: int = 0
    dropped: int = 0
    compactions: int = 0
    compaction_failures: int = 0
    errors: dict[str, dict[str, int]] = field(default_factory=dict)
    started: float = 0.0
    stopped: float = 0.0


def build_collectors(cfg: Config) -> list[Collector]:
    """The collectors the configuration asks for (defaults on unless disabled)."""
    unknown = set(cfg.collectors) - set(registry.names())
    if unknown:
        raise ConfigError(
            f"Unknown collector(s) {sorted(unknown)} in [collectors]; available: {', '.join(registry.names())}.",
            given=sorted(unknown),
        )
    out = []
    for name in registry.names():
        opts = dict(cfg.collectors.get(name, {}))
        enabled = opts.pop("enabled", name in registry.default_names())
        if not isinstance(enabled, bool):
            raise ConfigError(f"[collectors.{name}] enabled must be true or false; got {enabled!r}.")
        if not enabled:
            continue
        cls = registry.get(name)
        if "interval" not in opts:
            opts["interval"] = max(float(cls.default_interval), cfg.agent.interval)
        else:  # a duration, as every interval in workbench.toml ("5s"; "0" would busy-loop)
            opts["interval"] = positive_duration(opts["interval"], f"[collectors.{name}] interval")
        out.append(registry.create(name, **opts))
    return out


class Agent:
    """Run collectors on their intervals and record what they return."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        collectors: list[Collector] | None = None,
        store: Store | None = None,
        absorb_interval: float | None = None,
        control_interval: float | None = 1.0,
    ) -> None:
        self.config = config or load_config()
        cfg = self.config
        self.store = store or Store(cfg.home, host=cfg.host or None, role="agent")
        self.host = self.store.host
        try:
            self.collectors = collectors if collectors is not None else build_collectors(cfg)
        except ConfigError:
            self.collectors = None  # check_config builds them again and says what is wrong, with the rest
        # The check `workbench config --check` prints: refuse to start on an error, log the warnings.
        problems = check_config(cfg, collectors=self.collectors, catalogue=self.store._catalog())
        errors = [p.message for p in problems if p.level == "error"]
        if errors:
            raise ConfigError("\n".join(errors), errors=errors)
        for p in problems:
            log.warning("%s", p.message)
        self.alerts = _live_alerts(cfg, self.store)
        # Scheduled reports ([reports.NAME] cron): each run is a child process, never waited on.
        self.reports = _report_service(cfg, self.store)
        # Readers of recent data open about absorb_interval seconds of L0 files plus a
        # few chunks; each step costs a few ms, so shorter intervals buy little.
        self.absorb_interval = absorb_interval if absorb_interval is not None else cfg.agent.absorb_interval
        self._stop = threading.Event()
        self._lock: HostLock | None = None
        # (metric, labels, ts_us, value): tuples sort into the order segments are written in
        self._buf: deque[tuple[str, str, int, float]] = deque()
        self._buf_lock = threading.Lock()
        self._proc = psutil.Process()
        self.summary = AgentSummary()
        self._last_flush: float | None = None
        self._last_flush_duration = 0.0
        self._compactor = CompactionSupervisor(self.store, self.host, cfg, absorb_interval=self.absorb_interval,
                                               stop=self._stop, summary=self.summary)
        self._status = StatusFile(self.store.layout.status(self.host))
        self._alert_errors = 0
        # Control actions (acks, silences) are polled this often; None switches polling off
        # (for measuring what it costs, benchmarks/control_latency.py).
        self.control_interval = control_interval
        self._control = None
        self._status_due = False
        self._store_trouble = _Repeated("could not write to the store")
        self._alert_trouble = _Repeated("alert evaluation failed")

    # ------------------------------------------------------------ lifecycle
    def stop(self, *_args: Any) -> None:
        self._stop.set()

    def run(self, duration: float | None = None, *, install_signals: bool = True,
            on_start: Any = None) -> AgentSummary:
        """Record until stopped (or for ``duration`` seconds); ``on_start()`` is called once the host lock is held
        and the catalogue written (so a refused second agent, or one on a full disk, never announces that it
        records)."""
        cfg = self.config.agent
        try:
            self._lock = HostLock(self.store.layout, self.host, purpose="agent").acquire()
        except WorkbenchError:
            raise
        except OSError as exc:  # a new home on a full disk fails here first
            raise unwritable(exc, "the host lock", self.store.layout.host_dir(self.host)) from None
        if self._lock.took_over:
            log.warning("previous agent (pid %s) did not shut down cleanly; its lock was taken over",
                        self._lock.took_over.get("pid"))
        if install_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        try:
            self.store.register_metrics([s for c in self.collectors for s in c.metrics()] + list(AGENT_METRICS))
        except BaseException:
            self._lock.release()
            raise
        if on_start is not None:
            on_start()
        self.summary.started = time.time()
        compactor = threading.Thread(target=self._compactor.run, name="workbench-compactor", daemon=True)
        compactor.start()
        start = time.monotonic()
        deadline = start + duration if duration else None
        slots = [_Slot(c, c.interval, start) for c in self.collectors]
        self_interval = cfg.interval
        next_self = start
        next_flush = start + cfg.flush_interval
        next_status = start
        next_control = start if self.control_interval else float("inf")
        if self.control_interval:
            target = f"alerts:{self.host}"
            self._control = ActionPoller(self.store, target, [target, "alerts:*"], "alerts", catch_all=True)
        self._proc.cpu_percent()  # prime: the first call has nothing to compare with
        log.info("agent recording %d collectors on host %r into %s", len(slots), self.host, self.store.home)
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                for slot in slots:
                    if now >= slot.due:
                        self._tick(slot)
                        slot.due += slot.interval
                        if slot.due < now:  # fell behind (suspend, overload): skip, don't burst
                            slot.due = now + slot.interval
                if now >= next_self:
                    self._self_metrics(slots)
                    next_self += self_interval
                    if next_self < now:
                        next_self = now + self_interval
                if now >= next_flush:
                    self._flush()
                    next_flush = max(next_flush + cfg.flush_interval, now)
                if now >= next_control:
                    self._poll_control()
                    next_control = now + self.control_interval
                if self.alerts is not None:
                    self._guard_alerts(self.alerts.tick)
                if self.reports is not None:
                    self._guard_reports()
                if now >= next_status or self._status_due:
                    self._status_due = False
                    self._write_status(slots, running=True)
                    next_status = now + cfg.status_interval
                wake = min([s.due for s in slots] + [next_self, next_flush, next_status, next_control])
                if deadline is not None:
                    wake = min(wake, deadline)
                self._stop.wait(max(0.0, wake - time.monotonic()))
        finally:
            self._stop.set()
            self._flush()
            if self.alerts is not None:
                self._guard_alerts(self.alerts.close)
            if self.reports is not None:
                self.reports.close()
            compactor.join(timeout=30)
            self.summary.stopped = time.time()
            self._write_status(slots, running=False)
            for c in self.collectors:
                try:
                    c.close()
                except Exception:  # noqa: BLE001 - closing must not hide the real outcome
                    log.exception("closing collector %s", c.name)
            self._lock.release()
        return self.summary

    # ------------------------------------------------------------ work
    def _tick(self, slot: _Slot) -> None:
        ts = time.time_ns() // 1000
        t0 = time.perf_counter()
        try:
            samples = slot.collector.collect()
        except Exception as exc:  # noqa: BLE001 - one failing collector never stops the others
            slot.failures += 1
            slot.last_error = f"{type(exc).__name__}: {exc}"
            slot.trouble.failed(slot.last_error, kind=type(exc).__name__)
            samples = []
        else:
            slot.trouble.ok()
        slot.last_duration = time.perf_counter() - t0
        if samples:
            self._add(ts, [(s.metric, s.labels, float(s.value)) for s in samples])

    def _add(self, ts: int, rows: list[tuple[str, str, float]]) -> None:
        limit = self.config.agent.buffer_limit
        with self._buf_lock:
            self._buf.extend([(m, lab, ts, v) for m, lab, v in rows])
            over = len(self._buf) - limit
            if over > 0:  # the store has been unwritable for a long time: keep the newest
                for _ in range(over):
                    self._buf.popleft()
                self.summary.dropped += over
        if self.alerts is not None:
            self._guard_alerts(self.alerts.observe, ts, self.host, rows)

    def _poll_control(self) -> None:
        """Apply new control actions for this host's alerts (never raises: the poller records refusals)."""
        alerts = self.alerts
        self._control.poll(self._apply_action, replay=alerts.replay_action if alerts is not None else None)

    def _apply_action(self, action) -> str:
        if self.alerts is None:
            from workbench.errors import ActionError

            raise ActionError(f"no alert rules configured on the agent of host {self.host!r} "
                              "([[alerts.rules]] in workbench.toml), so there is nothing to "
                              f"{'acknowledge' if action.action == 'ack' else 'silence'}")
        detail = self.alerts.apply_action(action)
        self._status_due = True  # `workbench status` shows it on the next loop
        return detail

    def _guard_reports(self) -> None:
        try:
            self.reports.poll()
        except Exception:  # noqa: BLE001 - a report problem must not stop recording
            log.exception("report scheduling failed")

    def _guard_alerts(self, fn, *args) -> None:
        """Run one step of alert evaluation; a failure is logged and counted, never fatal."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - alerting must not stop recording
            self._alert_errors += 1
            self._alert_trouble.failed(f"{type(exc).__name__}: {exc}", exc_info=True, kind=type(exc).__name__)
        else:
            self._alert_trouble.ok()

    def _self_metrics(self, slots: list[_Slot]) -> None:
        ts = time.time_ns() // 1000
        rows: list[tuple[str, str, float]] = []
        with self._proc.oneshot():
            rows.append(("workbench.agent.cpu.utilization", "", self._proc.cpu_percent() / 100.0))
            rows.append(("workbench.agent.memory.rss", "", float(self._proc.memory_info().rss)))
        rows.append(("workbench.agent.samples.written", "", float(self.summary.samples_written)))
        rows.append(("workbench.agent.buffer.size", "", float(len(self._buf))))
        rows.append(("workbench.agent.samples.dropped", "", float(self.summary.dropped)))
        rows.append(("workbench.agent.flush.duration", "", self._last_flush_duration))
        absorb, compaction = self._compactor.absorb, self._compactor.compaction
        if absorb.get("seconds") is not None:
            rows.append(("workbench.agent.absorb.duration", "", float(absorb["seconds"])))
        if compaction.get("seconds") is not None:
            rows.append(("workbench.agent.compaction.duration", "", float(compaction["seconds"])))
        if compaction.get("peak_rss_bytes"):
            rows.append(("workbench.agent.compaction.rss", "", float(compaction["peak_rss_bytes"])))
        rows.append(("workbench.agent.compaction.failures", "", float(self.summary.compaction_failures)))
        if self.alerts is not None:
            firing = sum(a.state == "firing" for a in self.alerts.manager.alerts.values())
            rows.append(("workbench.agent.alerts.firing", "", float(firing)))
        for slot in slots:
            name = slot.collector.name
            rows.append(("workbench.agent.collector.duration", f"collector={name}", slot.last_duration))
            errs = dict(slot.collector.errors)
            if slot.failures:
                errs["collect"] = slot.failures
            self.summary.errors[name] = errs
            for kind, n in errs.items():
                rows.append(("workbench.agent.collector.errors", f"collector={name},kind={kind}", float(n)))
        self._add(ts, rows)

    def _flush(self) -> None:
        with self._buf_lock:
            if not self._buf:
                return
            rows = list(self._buf)
        t0 = time.perf_counter()
        n = len(rows)
        # Sorted here, in Python, by series then time (the order segments are
        # written in): for a few hundred rows that is cheaper than Arrow's sort,
        # and this path needs no pyarrow.compute (~9 MiB resident).
        rows.sort(key=itemgetter(0, 1, 2))
        metric, labels, ts, value = zip(*rows, strict=True)
        table = pa.Table.from_arrays(
            [
                _fixed_width(TS, "q", ts),
                _strings([self.host] * n),
                _strings(metric),
                _strings(labels),
                _fixed_width(pa.float64(), "d", value),
            ],
            schema=SAMPLE_SCHEMA,
        )
        try:
            self.store.append_arrow(table, host=self.host, trusted=True, time_range=(min(ts), max(ts)))
        except OSError as exc:  # disk full, permissions: keep the buffer, try again next flush
            self._store_trouble.failed(str(exc), f"; keeping {n} samples in memory (at most "
                                                 f"{self.config.agent.buffer_limit}) and retrying every flush")
            return
        self._store_trouble.ok(f"; {n} samples kept in memory are written")
        with self._buf_lock:  # drop exactly what was written; newer rows stay
            for _ in range(min(n, len(self._buf))):
                self._buf.popleft()
        self.summary.samples_written += n
        self.summary.flushes += 1
        self._last_flush = time.time()
        self._last_flush_duration = time.perf_counter() - t0
        self._status.flushed(self.summary.samples_written)

    def _write_status(self, slots: list[_Slot], *, running: bool) -> None:
        self._status.write(self, slots, running=running)


def _report_service(cfg: Config, store: Store):
    """The report scheduler, or ``None`` without [reports] (imports only the policy and croniter)."""
    if not cfg.reports:
        return None
    from workbench.report._service import report_service

    return report_service(cfg, store.home, store.host)


def _live_alerts(cfg: Config, store: Store):
    """The alert evaluation the configuration asks for, or ``None`` without rules.

    ``workbench.detect`` (and the pandas it needs) is imported only when
    ``[alerts]`` has rules, so an agent without rules stays small.
    """
    if not cfg.alerts:
        return None
    from workbench.detect._live import LiveAlerts

    return LiveAlerts.from_config(cfg.alerts, cfg.notify, store,
                                  state_path=store.layout.alert_state(store.host))
