"""What `workbench run` shows: the live panel and the plain lines, from a run's state."""

from __future__ import annotations

import io
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace

from workbench.execute._jobs import Job
from workbench.execute._run import JobState
from workbench.execute._runs import TaskRun
from workbench.execute._runview import LiveView, PlainView


def _run(tmp_path: Path):
    events: deque = deque()
    states = {n: JobState(Job(n, "true", retries=r), tmp_path / f"{n}.log", events=events)
              for n, r in (("build", 0), ("test", 2), ("lint", 0))}
    run = SimpleNamespace(run_id="r1", name="nightly", log_dir=tmp_path, states=states, events=events, interrupts=0)
    run.counts = lambda: {s.state: 1 for s in states.values()}
    return run


def _record(key, state, attempts, error=None):
    now = time.time()
    return TaskRun(1, key, key, (), state, 0.0, now - 2, now - 1.5, now, attempts, None, None, error, "thread")


STATS = {"queued": 3, "blocked": 1, "delayed": 0, "running": 2, "limit": 2,
         "limit_reason": "cpu 97% > target 85%: 3 -> 2", "paused": False}


def test_the_live_panel_shows_running_jobs_their_last_line_the_queue_limit_and_why(tmp_path):
    run = _run(tmp_path)
    out = io.StringIO()
    view = LiveView(run, out)
    view.console = type(view.console)(file=out, force_terminal=True, width=120, color_system=None)
    run.states["build"].started(4242)
    run.states["build"].line("compiling module 7 of 9\n")
    run.states["test"].started(4243)
    run.states["test"].started(4244)  # a second try
    run.states["test"].line("collected 120 items\n")
    run.states["lint"].started(4245)
    run.states["lint"].ended(_record("lint", "failed", 1, "CommandError: command 'lint' exited with code 1"))
    with view:
        view.update(run, lambda: STATS)
        panel = view._render()
    view.console.print(panel)
    text = out.getvalue()
    assert "executor nightly" in text
    assert "2 running, 4 waiting" in text and "limit 2 (cpu 97% > target 85%: 3 -> 2)" in text
    assert "compiling module 7 of 9" in text and "collected 120 items" in text
    assert "2/3" in text  # test's try 2 of 3
    assert "FAILED lint" in text and "exited with code 1" in text and "lint.log" in text
    assert "\nlint " not in text.split("FAILED lint")[1]  # an ended job is no longer in the running table


def test_the_plain_view_prints_one_line_per_start_and_end(tmp_path):
    run = _run(tmp_path)
    out = io.StringIO()
    view = PlainView(run, out)
    build = run.states["build"]
    build.started(11)
    build.line("hello\n")
    build.ended(_record("build", "done", 1))
    view.update(run, lambda: STATS)
    view.update(run, lambda: STATS)  # nothing new: nothing printed twice
    assert out.getvalue().splitlines() == ["started build (pid 11)", "ok build in 1.5 s"]
    log = (tmp_path / "build.log").read_text().splitlines()
    assert log[0].startswith("# workbench run: build try 1 of 1, pid 11") and log[1] == "hello"
    assert log[2] == "# workbench run: build ended done after 1 try"
