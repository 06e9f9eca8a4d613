"""The agent: the long-running loop that records this machine.

One thread collects and flushes; it never does slow work. Every
``flush_interval`` the buffer becomes one atomic L0 segment, so a ``kill -9``
loses at most that much; SIGINT/SIGTERM flush everything first.

Compaction has two parts, both driven by a second thread so that no file
work ever delays a tick:

* every ``absorb_interval`` (10 s) the agent itself absorbs the one-second L0
  files of open hours into a few larger chunk files
  (:meth:`Compactor.absorb_once`, Parquet reader and writer only), so a
  dashboard reading the last minutes opens a handful of files, not one per
  second of recording;
* every ``compact_interval`` the heavy part (sealing hours and days,
  rollups, expiry) runs in a short-lived child process
  (:mod:`workbench.store._compaction_child`) that imports DuckDB, so the agent
  never does: its hot path needs only psutil and pyarrow's Parquet reader
  and writer, which keeps it near 75 MiB resident instead of ~145 MiB with
  the query engines loaded (docs/benchmarks/agent.md). For the same reason
  nothing here imports pandas.

Both parts write the host's manifest; running them one after the other on
that one thread is what guarantees they never do so at the same time (the
child takes no lock of its own: it works under the agent's host lock).

Alert rules from ``[alerts]`` are evaluated on every sample as it is
collected (:mod:`workbench.detect._live`, imported only when rules exist).

Every ``control_interval`` (1 s) the loop polls the control actions addressed
to ``alerts:<host>`` (:class:`workbench.control.ActionPoller`: a few ``stat``
calls when nothing is new) and applies acks and silences made from any
process or host; with no rules configured they are refused with that reason.

The agent measures itself: its CPU and memory, each collector's cost and
error counts, the samples it wrote, compaction's duration, failures and
peak memory. Those land in the store as ``workbench.agent.*`` metrics and in
``agent-status.json`` for ``workbench status``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa

from workbench._arrow import fixed_width as _fixed_width
from workbench._arrow import strings as _strings
from workbench.catalog import MetricSpec
from workbench.collect import Collector, registry
from workbench.config import Config, check_config, load_config, positive_duration
from workbench.control import ActionPoller, write_json_atomic
from workbench.errors import ConfigError, WorkbenchError
from workbench.store._compact import CompactionPolicy, Compactor
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

# A compaction child that runs longer than this is killed (and counted as a
# failure); it is generous because a first run after a long outage can merge
# hours of files.
_COMPACT_TIMEOUT = 900.0

# WORKBENCH_DEBUG_MODULES=pandas,duckdb,...: the status file also lists which of them are imported.
_DEBUG_MODULES = tuple(m for m in os.environ.get("WORKBENCH_DEBUG_MODULES", "").split(",") if m)

class _Repeated:
    """One kind of failure that may repeat every second (a full disk): logged when it starts or changes, then
    once every ``every`` seconds with the count, and once more when it stops ("recovered")."""

    def __init__(self, what: str, every: float = 60.0, clock=time.monotonic) -> None:
        self.what, self.every, self.clock = what, every, clock
        self.failures = 0
        self.since: float | None = None  # wall time of the first failure of this run of failures
        self.error = ""
        self._first = 0.0
        self._next_log = 0.0

    def failed(self, error: str, detail: str = "", *, exc_info: bool = False) -> None:
        now = self.clock()
        if not self.failures:
            self.since, self._first = time.time(), now
        self.failures += 1
        if error != self.error or now >= self._next_log:
            more = (f" ({self.failures} failures in {now - self._first:.0f} s; while it repeats it is logged "
                    f"every {self.every:g} s)") if self.failures > 1 else ""
            log.error("%s: %s%s%s", self.what, error, detail, more, exc_info=exc_info and self.failures == 1)
            self._next_log = now + self.every
        self.error = error

    def ok(self, detail: str = "") -> None:
        if self.failures:
            log.warning("%s: recovered after %d failure(s) over %.0f s (last error: %s)%s", self.what,
                        self.failures, self.clock() - self._first, self.error, detail)
            self.failures, self.since, self.error = 0, None, ""

    def status(self) -> dict[str, Any] | None:
        return {"error": self.error, "since": self.since, "failures": self.failures} if self.failures else None


@dataclass
class _Slot:
    collector: Collector
    interval: float
    due: float
    failures: int = 0
    last_duration: float = 0.0
    last_error: str = ""


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
        self._compaction: dict[str, Any] = {}
        self._absorb: dict[str, Any] = {"runs": 0, "failures": 0, "absorbed": 0, "merged": 0, "last_error": ""}
        self._alert_errors = 0
        self._rate_window: deque[tuple[float, int]] = deque(maxlen=120)
        # Control actions (acks, silences) are polled this often; None switches polling off
        # (for measuring what it costs, benchmarks/control_latency.py).
        self.control_interval = control_interval
        self._control = None
        self._status_due = False
        self._store_trouble = _Repeated("could not write to the store")
        self._absorb_trouble = _Repeated("absorbing L0 files failed")
        self._status_trouble = _Repeated("could not write the agent status")

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
        compactor = threading.Thread(target=self._compact_loop, name="workbench-compactor", daemon=True)
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
            if slot.failures in (1, 10, 100) or slot.failures % 1000 == 0:
                log.warning("collector %s failed (%d times so far): %s", slot.collector.name, slot.failures, slot.last_error)
            samples = []
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
        except Exception:  # noqa: BLE001 - alerting must not stop recording
            self._alert_errors += 1
            if self._alert_errors in (1, 10, 100) or self._alert_errors % 1000 == 0:
                log.exception("alert evaluation failed (%d times so far)", self._alert_errors)

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
        if self._absorb.get("seconds") is not None:
            rows.append(("workbench.agent.absorb.duration", "", float(self._absorb["seconds"])))
        if self._compaction.get("seconds") is not None:
            rows.append(("workbench.agent.compaction.duration", "", float(self._compaction["seconds"])))
        if self._compaction.get("peak_rss_bytes"):
            rows.append(("workbench.agent.compaction.rss", "", float(self._compaction["peak_rss_bytes"])))
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
        self._rate_window.append((time.monotonic(), self.summary.samples_written))

    def _compact_loop(self) -> None:
        """Absorb every ``absorb_interval``; start a full compaction child every ``compact_interval``.

        One thread runs both, one after the other: that is what keeps the
        agent's absorb step and the child from replacing the manifest at the
        same time.
        """
        full_every = self.config.agent.compact_interval
        compactor = Compactor(self.store.layout, self.host,
                              CompactionPolicy(**self.config.compaction_policy_kwargs()))
        next_full = time.monotonic() + full_every
        while not self._stop.wait(min(self.absorb_interval, full_every)):
            if time.monotonic() >= next_full:
                self._compact_once()
                next_full = time.monotonic() + full_every
            else:
                self._absorb_once(compactor)

    def _absorb_once(self, compactor: Compactor) -> None:
        """One light step in this process; a failure is logged and counted, the files stay in L0."""
        a = self._absorb
        a["runs"] += 1
        try:
            report = compactor.absorb_once()
        except Exception as exc:  # noqa: BLE001 - the next step or the full cycle retries
            a["failures"] += 1
            a["last_error"] = f"{type(exc).__name__}: {exc}"
            # a traceback only for the unexpected: a full disk needs none
            self._absorb_trouble.failed(a["last_error"], "; the files stay in incoming/ and are retried",
                                        exc_info=not isinstance(exc, OSError))
            return
        self._absorb_trouble.ok()
        a.update(at=time.time(), seconds=report.seconds, absorbed=a["absorbed"] + report.absorbed,
                 merged=a["merged"] + report.merged)

    def _compact_once(self) -> None:
        """One compaction cycle in a child process; a failure is logged and counted, data stays in L0."""
        policy = json.dumps(self.config.compaction_policy_kwargs())
        cmd = [sys.executable, "-m", "workbench.store._compaction_child", str(self.store.home), self.host,
               policy, str(os.getpid())]
        # The child must import this very package, even when it runs from a checkout.
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]))
        t0 = time.monotonic()
        error, proc, report = "", None, {}
        try:
            # Own session: a Ctrl-C at the terminal stops the agent, which lets the
            # running cycle finish, instead of interrupting the child midway.
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_COMPACT_TIMEOUT, env=env, check=False,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            error = f"timed out after {_COMPACT_TIMEOUT:g} s and was killed"
        except OSError as exc:
            error = f"could not start the compaction process: {exc}"
        else:
            if proc.returncode == 0:
                try:
                    report = json.loads(proc.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    error = f"printed no report (stdout {proc.stdout[-200:]!r})"
            else:
                tail = proc.stderr.strip().splitlines()[-1:] or ["no message"]
                error = f"exited with status {proc.returncode}: {tail[0]}"
                if self._stop.is_set() and proc.returncode < 0:
                    return  # stopped with the agent; nothing went wrong
        wall = time.monotonic() - t0
        self.summary.compactions += 1
        if error:
            self.summary.compaction_failures += 1
            log.error("compaction failed (%d of %d cycles so far): %s; samples stay in incoming/ and the next "
                      "cycle retries", self.summary.compaction_failures, self.summary.compactions, error)
            if proc is not None and proc.stderr:
                log.debug("compaction stderr:\n%s", proc.stderr)
            self._compaction = {**self._compaction, "last_error": error, "failed_at": time.time(),
                                "failures": self.summary.compaction_failures}
            return
        self._compaction = {
            "at": time.time(), "seconds": report.get("seconds"), "wall_seconds": wall,
            "absorbed": report.get("absorbed"), "sealed_hours": report.get("sealed_hours"),
            "quarantined": report.get("quarantined"), "peak_rss_bytes": report.get("peak_rss_bytes"),
            "runs": self.summary.compactions, "failures": self.summary.compaction_failures,
            "last_error": self._compaction.get("last_error", ""),
        }

    def _write_status(self, slots: list[_Slot], *, running: bool) -> None:
        rate = 0.0
        if len(self._rate_window) >= 2:
            (t0, n0), (t1, n1) = self._rate_window[0], self._rate_window[-1]
            rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
        try:
            with self._proc.oneshot():
                cpu_times = self._proc.cpu_times()
                rss = self._proc.memory_info().rss
        except psutil.Error:
            cpu_times, rss = None, 0
        status = {
            "running": running,
            "pid": os.getpid(),
            "host": self.host,
            "home": str(self.store.home),
            "started": self.summary.started,
            "updated": time.time(),
            "last_flush": self._last_flush,
            "samples_written": self.summary.samples_written,
            "samples_per_second": rate,
            "dropped": self.summary.dropped,
            "buffered": len(self._buf),
            # what `workbench status` needs to tell a stalled agent from a quiet one
            "interval": self.config.agent.interval,
            "flush_interval": self.config.agent.flush_interval,
            "status_interval": self.config.agent.status_interval,
            "store_error": self._store_trouble.status(),
            "cpu_seconds": (cpu_times.user + cpu_times.system) if cpu_times else None,
            "rss_bytes": rss,
            "collectors": {
                s.collector.name: {
                    "interval": s.interval,
                    "last_duration": s.last_duration,
                    "failures": s.failures,
                    "last_error": s.last_error,
                    "errors": dict(s.collector.errors),
                }
                for s in slots
            },
            "compaction": self._compaction,
            "absorb": self._absorb,
            "alerts": self.alerts.status() if self.alerts is not None else None,
            "alert_errors": self._alert_errors,
            "control": self._control.status() if self._control is not None else None,
        }
        if _DEBUG_MODULES:  # which of these modules this process has loaded (benchmarks/agent_memory.py, tests)
            status["debug_modules"] = [m for m in _DEBUG_MODULES if m in sys.modules]
        try:
            write_json_atomic(self.store.layout.status(self.host), status)
        except OSError as exc:  # `workbench status` sees the file grow old and says the agent is stalled
            self._status_trouble.failed(str(exc))
        else:
            self._status_trouble.ok()


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


def read_status(home: str | os.PathLike, host: str | None = None) -> list[dict]:
    """Status of the agent(s) recorded in ``home`` (one entry per host that has one)."""
    from workbench.store import Layout, lock_holder

    layout = Layout(Path(home).resolve())
    out = []
    for h in [host] if host else layout.hosts():
        path = layout.status(h)
        try:
            status = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            status = {"host": h}
        holder = lock_holder(layout, h)
        status["host"] = h
        status["alive"] = holder is not None and holder.get("purpose", "agent") == "agent"
        status["holder"] = holder
        out.append(status)
    return out
