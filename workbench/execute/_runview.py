"""What ``workbench run`` shows while it runs.

:class:`LiveView` (a terminal): a ``rich`` live panel of the running jobs with their
last output line, the queue, the limit and the governor's reason, with one line per
finished job printed above it. :class:`PlainView` (a pipe, a file, ``--no-progress``):
one line per job start and end, nothing redrawn.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

__all__ = ["LiveView", "PlainView", "choose_view"]


def _mark(state: str) -> str:
    return {"done": "ok", "failed": "FAILED", "timed_out": "TIMED OUT", "cancelled": "cancelled",
            "rejected": "rejected"}.get(state, state)


def _ended_line(st: Any) -> str:
    run = st.record
    took = "" if run.started is None else f" in {run.ended - run.started:.1f} s"
    tries = f", {run.attempts} tries" if run.attempts > 1 else ""
    why = st.outcome()
    tail = f": {why}" if why else ""
    log = f" (log: {st.log_path})" if run.state != "done" else ""
    return f"{_mark(run.state)} {st.job.name}{took}{tries}{tail}{log}"


def _queue_line(run: Any, stats: dict[str, Any]) -> str:
    waiting = (stats.get("queued") or 0) + (stats.get("blocked") or 0) + (stats.get("delayed") or 0)
    counts = run.counts()
    done = counts.get("done", 0)
    bad = sum(v for k, v in counts.items() if k not in ("done", "waiting", "running"))
    state = "paused" if stats.get("paused") else "running"
    if run.interrupts == 1:
        state = "draining (Ctrl-C again cancels)"
    elif run.interrupts >= 2:
        state = "cancelling"
    return (f"{state}: {stats.get('running', 0)} running, {waiting} waiting, {done} done, {bad} not ok; "
            f"limit {stats.get('limit')} ({stats.get('limit_reason')})")


class PlainView:
    """One line per event, for pipes and logs."""

    def __init__(self, run: Any, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def say(self, text: str) -> None:
        self._print(text)

    def start(self, run: Any) -> None:
        self._print(f"workbench run {run.run_id}: {len(run.states)} job(s) on executor {run.name!r}; "
                    f"logs in {run.log_dir}")

    def update(self, run: Any, stats: Callable[[], dict[str, Any]]) -> None:
        events = run.events
        while events:
            kind, st, attempt, pid = events.popleft()
            if kind == "started":
                again = f"try {attempt} of {st.max_attempts}, " if attempt > 1 else ""
                self._print(f"started {st.job.name} ({again}pid {pid})")
            else:
                self._print(_ended_line(st))


class LiveView(PlainView):
    """A live ``rich`` panel, redrawn a few times a second (terminals)."""

    def __init__(self, run: Any, out: IO[str] | None = None) -> None:
        super().__init__(run, out)
        from rich.console import Console

        self.console = Console(file=self.out)
        self._run = run
        self._stats: dict[str, Any] = {}
        self._live = None
        self._drawn = 0.0
        self._drawn_interrupts = 0

    def __enter__(self) -> LiveView:
        from rich.live import Live

        self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True,
                          redirect_stdout=False, redirect_stderr=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def _print(self, text: str) -> None:
        from rich.markup import escape

        style = "" if text.startswith(("ok ", "started")) else ("bold red" if text.startswith(("FAILED", "TIMED"))
                                                                 else "yellow")
        self.console.print(escape(text), style=style or None, highlight=False)

    def update(self, run: Any, stats: Callable[[], dict[str, Any]]) -> None:
        events = run.events
        while events:
            kind, st, _attempt, _pid = events.popleft()
            if kind == "ended":
                self._print(_ended_line(st))
        now = time.monotonic()
        if now - self._drawn < 0.25 and run.interrupts == self._drawn_interrupts:
            return  # a few redraws a second are enough
        self._drawn, self._drawn_interrupts = now, run.interrupts
        self._stats = stats()
        if self._live is not None:
            self._live.update(self._render())

    def _render(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        run = self._run
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False)
        table.add_column("job", no_wrap=True, style="bold")
        table.add_column("try", no_wrap=True, justify="right")
        table.add_column("time", no_wrap=True, justify="right")
        table.add_column("last output", no_wrap=True, overflow="ellipsis", ratio=1)
        now = time.monotonic()
        shown = 0
        running = [st for st in run.states.values() if st.state == "running" and st.record is None]
        for st in running[:20]:
            took = "" if st.attempt_started is None else f"{now - st.attempt_started:.0f}s"
            table.add_row(st.job.name, f"{st.attempts}/{st.max_attempts}", took, Text(st.last_line or ""))
            shown += 1
        more = len(running) - shown
        head = Text(f"workbench run {run.run_id} · executor {run.name}", style="bold")
        parts = [head, Text(_queue_line(run, self._stats)) if self._stats else Text("starting...")]
        if shown:
            parts.append(table)
        if more > 0:
            parts.append(Text(f"... and {more} more running"))
        return Group(*parts)


def choose_view(progress: str = "auto", out: IO[str] | None = None):
    """A view factory: ``"live"``, ``"plain"`` or ``"auto"`` (live on a terminal)."""
    out = out or sys.stdout
    live = progress == "live" or (progress == "auto" and out.isatty())
    cls = LiveView if live else PlainView

    def make(run: Any):
        view = cls(run, out)
        view.start(run)
        return view

    return make
