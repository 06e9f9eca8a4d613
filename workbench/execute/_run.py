"""``workbench run``: batch commands through a named :class:`ThrottledExecutor`, from a terminal.

Each job becomes a :class:`~workbench.execute.Command` task keyed by its name and tagged
``run:<run-id>``, so ``task_runs`` holds every job exactly once (jobs never started
too: cancelled, or failed because a dependency did). The executor is named (default
``run-<run-id>``), so `workbench executors`, `workbench executor pause NAME` and the
dashboard see and steer the run while it runs.

Output: every line a job writes (stdout and stderr, as they come) goes to
``HOME/runs/<run-id>/<job>.log``, with a ``# workbench run:`` line before each try
and one at the end saying how the job ended. The live view shows the last line.

Signals: the jobs run in sessions of their own, so a Ctrl-C in the terminal reaches
only ``workbench run``. The first SIGINT drains (running jobs finish, nothing else
starts; what waits is cancelled), the second (or a SIGTERM) kills the running jobs'
process trees; nothing they started outlives the run.
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.execute._command import Command, kill_tree
from workbench.execute._executor import PROFILES, ThrottledExecutor
from workbench.execute._governor import Governor
from workbench.execute._jobs import Job
from workbench.execute._record import StoreSink
from workbench.execute._retry import Retry
from workbench.execute._runs import TaskRun

__all__ = ["run_jobs", "RunResult", "JobState", "new_run_id", "EXIT_FAILED", "EXIT_INTERRUPTED"]

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
_TAIL = 240  # characters of a job's last output line kept for the view


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass
class JobState:
    """What the view and the summary know about one job (updated from the executor's threads)."""

    job: Job
    log_path: Path
    state: str = "waiting"  # waiting | running | done | failed | timed_out | cancelled | rejected
    attempts: int = 0
    pid: int | None = None  # of the running try's command
    last_pid: int | None = None
    attempt_started: float | None = None  # time.monotonic()
    last_line: str = ""
    record: TaskRun | None = None
    killed: bool = False
    events: Any = None  # a deque the view drains: ("started" | "ended", self)
    _log: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def max_attempts(self) -> int:
        return self.job.retries + 1

    @property
    def terminal(self) -> bool:
        return self.record is not None

    # called from the command's reader threads
    def line(self, text: str) -> None:
        with self._lock:
            if self._log is not None:
                self._log.write(text)
        stripped = text.rstrip("\r\n")
        if stripped.strip():
            self.last_line = stripped[-_TAIL:]

    def started(self, pid: int) -> None:
        with self._lock:
            self.attempts += 1
            self.pid = self.last_pid = pid
            self.attempt_started = time.monotonic()
            self.state = "running"
            if self._log is None:
                self._log = open(self.log_path, "a", buffering=1, errors="replace")  # noqa: SIM115
            self._log.write(f"# workbench run: {self.job.name} try {self.attempts} of {self.max_attempts}, pid {pid}, "
                            f"started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}: {self.job.describe()}\n")
        if self.events is not None:
            self.events.append(("started", self, self.attempts, pid))

    def ended(self, run: TaskRun) -> None:
        with self._lock:
            self.record = run
            self.state = run.state
            self.pid = None
            log = self._log if self._log is not None else open(self.log_path, "a", errors="replace")  # noqa: SIM115
            self._log = None
            how = self.outcome()
            log.write(f"# workbench run: {self.job.name} ended {run.state} after {run.attempts} "
                      f"tr{'y' if run.attempts == 1 else 'ies'}{': ' + how if how else ''}\n")
            log.close()
        if self.events is not None:
            self.events.append(("ended", self, run.attempts, None))

    def outcome(self) -> str:
        """A short why for a job that did not succeed ('' for one that did)."""
        run = self.record
        if run is None or run.state == "done":
            return ""
        if self.killed:
            return "killed by a second Ctrl-C"
        error = (run.error or "").split("; stderr ends with")[0]
        if run.notes:
            error += f" ({run.notes})"
        return error


class _RunSink:
    """Writes each record to ``task_runs`` and hands it to its job's state."""

    def __init__(self, store: Any, states: dict[str, JobState], all_done: threading.Event) -> None:
        self.store_sink = StoreSink(store)
        self.states = states
        self.all_done = all_done
        self._left = len(states)
        self._lock = threading.Lock()

    def write(self, runs) -> None:
        runs = list(runs)
        self.store_sink.write(runs)
        for run in runs:
            st = self.states.get(run.key)
            if st is not None:
                st.ended(run)
                with self._lock:
                    self._left -= 1
                    if self._left == 0:
                        self.all_done.set()

    def flush(self) -> int:
        return self.store_sink.flush()


@dataclass
class RunResult:
    run_id: str
    name: str
    log_dir: Path
    states: list[JobState]
    interrupted: int  # Ctrl-Cs received (0, 1 drained, 2 cancelled)
    elapsed: float
    drained: bool = False  # from outside (`workbench executor drain`, the dashboard)

    @property
    def failed(self) -> list[JobState]:
        return [s for s in self.states if s.state != "done"]

    @property
    def exit_code(self) -> int:
        if not self.failed:
            return 0
        return EXIT_INTERRUPTED if self.interrupted else EXIT_FAILED


def _command(job: JobState) -> Command:
    j = job.job
    cmd = Command(
        j.cmd if isinstance(j.cmd, str) else list(j.cmd), cwd=j.cwd, env=dict(j.env) or None,
        nice=j.nice, cpu_affinity=list(j.cpu_affinity) if j.cpu_affinity else None, memory_limit=j.memory_limit,
        on_stdout=job.line, on_stderr=job.line, on_start=job.started, shell=j.shell, max_output=64 << 10,
    )
    cmd.__name__ = j.name  # errors then say "command 'build'", not the first word of its shell line
    return cmd


def run_jobs(
    jobs: Sequence[Job],
    *,
    store: Any,
    name: str | None = None,
    profile: str = "mixed",
    max_workers: int | None = None,
    run_id: str | None = None,
    view: Callable[..., Any] | None = None,
    control_interval: float = 1.0,
    install_signals: bool = True,
) -> RunResult:
    """Run ``jobs`` (in dependency order, see :func:`~workbench.execute._jobs.parse_jobs`)
    through a named executor; return when every job has ended.

    ``view`` is a context manager factory ``view(run) -> v`` whose ``v.update(run, stats)``
    (``stats`` the executor's ``stats`` method) is called a few times a second and ``v.say(text)`` for messages (see
    :mod:`workbench.execute._runview`); ``None`` shows nothing.
    """
    from workbench.store import Store

    store = store if isinstance(store, Store) else Store(store)
    run_id = run_id or new_run_id()
    name = name or f"run-{run_id}"
    log_dir = Path(store.home) / "runs" / run_id
    log_dir.mkdir(parents=True, exist_ok=True)
    events: deque = deque()
    states = {j.name: JobState(j, log_dir / f"{j.name}.log", events=events) for j in jobs}
    for st in states.values():
        st.log_path.touch()
    all_done = threading.Event()
    sink = _RunSink(store, states, all_done)
    prof = PROFILES[profile]
    governor = None if max_workers else Governor(cpu_target=prof["cpu_target"], max_workers=prof["workers"]())
    t0 = time.monotonic()
    ex = ThrottledExecutor(max_workers=max_workers, backend="thread", governor=governor, profile=profile,
                           queue_size=max(16, len(states) + 1), sink=sink, name=name, store=store,
                           control_interval=control_interval)
    run = _Run(run_id, name, log_dir, states, ex, events)
    old: dict[int, Any] = {}
    if install_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, run.on_signal)
    try:
        with view(run) if view is not None else _NoView() as v:
            run.view = v
            tag = f"run:{run_id}"
            for st in states.values():
                j = st.job
                retry = Retry(attempts=j.retries + 1, backoff=j.backoff, max_backoff=j.max_backoff,
                              on=(Exception,)) if j.retries else None
                ex.options(key=j.name, name=j.name, tags=(tag,), priority=j.priority, timeout=j.timeout,
                           retry=retry, after=list(j.after)).submit(_command(st))
            run.wait(all_done)
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
        run.kill_leftovers()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return RunResult(run_id, name, log_dir, list(states.values()), run.interrupts, time.monotonic() - t0,
                     run.drained)


class _NoView:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, run, stats) -> None:
        run.events.clear()

    def say(self, text: str) -> None:
        pass


class _Run:
    """The run while it runs: its signal handling and its main loop."""

    def __init__(self, run_id: str, name: str, log_dir: Path, states: dict[str, JobState],
                 ex: ThrottledExecutor, events: deque) -> None:
        self.run_id, self.name, self.log_dir, self.states, self.ex = run_id, name, log_dir, states, ex
        self.events = events  # job starts and ends, in order, for the view
        self.interrupts = 0
        self._handled = 0
        self.drained = False  # by an action from outside
        self.view: Any = None
        self._kill_at: float | None = None

    def on_signal(self, signum: int, frame: Any) -> None:
        # Only note it: the main loop acts (a signal handler must not take the executor's locks).
        self.interrupts = 2 if signum == signal.SIGTERM else min(2, self.interrupts + 1)

    def wait(self, all_done: threading.Event) -> None:
        while not all_done.wait(0.1):
            if self.interrupts > self._handled:
                self._handled = self.interrupts
                if self.interrupts == 1:
                    self.drain()
                else:
                    self.cancel()
            if self._handled or self.drained:
                self.ex.cancel()  # a retry of a job that failed while draining must not wait for ever
            if self._kill_at is not None and time.monotonic() >= self._kill_at:
                self._kill_at = None
                self._kill(signal.SIGKILL)
            control = self.ex._control
            if control is not None and control.draining and not self._handled and not self.drained:
                # `workbench executor drain NAME` or the dashboard: as a Ctrl-C, but the run says who
                self.drained = True
                n = self.ex.cancel()
                self.view.say(f"drained from outside (`workbench executor drain {self.name}`): running jobs "
                              f"finish, {n} waiting job(s) cancelled.")
            self.view.update(self, self.ex.stats)  # the method: a view that shows no stats does not pay for them
        self.view.update(self, self.ex.stats)

    def drain(self) -> None:
        ex = self.ex
        ex.pause()
        if ex._control is not None:
            ex._control.draining = True
        cancelled = ex.cancel()
        running = sum(1 for s in self.states.values() if s.state == "running" and not s.terminal)
        self.view.say(f"Ctrl-C: draining. {running} running job(s) finish, {cancelled} waiting job(s) cancelled; "
                      "press Ctrl-C again to kill the running ones.")

    def cancel(self) -> None:
        self.ex.pause()
        self.ex.cancel()
        n = self._kill(signal.SIGTERM)
        self._kill_at = time.monotonic() + 3.0
        self.view.say(f"cancelling: sent SIGTERM to {n} running job(s) (SIGKILL in 3 s if they are still there).")

    def _kill(self, sig: int) -> int:
        n = 0
        for st in self.states.values():
            pid = st.pid
            if pid is not None and not st.terminal:
                st.killed = True
                kill_tree(pid, sig)
                n += 1
        return n

    def kill_leftovers(self) -> None:
        """Nothing a job started may outlive the run (its command's tree)."""
        for st in self.states.values():
            if st.pid is not None:
                kill_tree(st.pid, signal.SIGKILL)

    # for views
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for st in self.states.values():
            out[st.state] = out.get(st.state, 0) + 1
        return out


def summary(result: RunResult) -> list[str]:
    """Lines saying how the run ended, which jobs failed and why, and where the logs are."""
    n = len(result.states)
    ok = n - len(result.failed)
    lines = [f"workbench run {result.run_id}: {ok} of {n} job(s) succeeded in {result.elapsed:.1f} s "
             f"(executor {result.name!r}; logs in {result.log_dir})."]
    for st in result.failed:
        how = st.outcome()
        lines.append(f"  {st.job.name}: {st.state}{' - ' + how if how else ''} (log: {st.log_path})")
    if result.interrupted == 1 and result.failed:
        lines.append("  (stopped by Ctrl-C: the jobs that were running finished, the others were cancelled)")
    elif result.drained and result.failed:
        lines.append(f"  (drained from outside, `workbench executor drain {result.name}` or the dashboard: the jobs "
                     "that were running finished, the others were cancelled)")
    return lines

