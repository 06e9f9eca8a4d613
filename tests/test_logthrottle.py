"""The one log-throttle rule (workbench._logthrottle.RepeatedFailure) beyond the agent's own test."""

from __future__ import annotations

import logging

from workbench._logthrottle import RepeatedFailure

LOG = logging.getLogger("workbench.test.logthrottle")


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOG.name]


def test_a_flapping_failure_is_logged_once_a_minute_not_at_every_start(caplog):
    now = [0.0]
    trouble = RepeatedFailure("collector cpu failed", clock=lambda: now[0], logger=LOG)
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        for _ in range(30):  # fails and recovers every other second
            trouble.failed("RuntimeError: boom")
            now[0] += 1
            trouble.ok()
            now[0] += 1
        assert _messages(caplog) == ["collector cpu failed: RuntimeError: boom",
                                     "collector cpu failed: recovered after 1 failure(s) over 1 s "
                                     "(last error: RuntimeError: boom)"]
        now[0] = 61.0
        trouble.failed("RuntimeError: boom")  # a minute after the last line: logged again
        trouble.failed("OSError: other", kind="OSError")  # another kind: at once
    assert len(_messages(caplog)) == 4


def test_first_n_are_each_logged_then_once_a_minute_with_the_count(caplog):
    now = [0.0]
    drops = RepeatedFailure("notification to channel ops", clock=lambda: now[0], logger=LOG, first=3,
                            unit="dropped", recovery=False)
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        for _ in range(10):
            drops.failed("dropped because its queue is full")
        now[0] = 60.0
        drops.failed("dropped because its queue is full")
        drops.ok()
    messages = _messages(caplog)
    assert len(messages) == 4 and "(11 dropped in 60 s;" in messages[-1]
    assert drops.status() is None


def test_a_traceback_only_on_the_first_line_of_a_run(caplog):
    now = [0.0]
    trouble = RepeatedFailure("alert evaluation failed", clock=lambda: now[0], logger=LOG)
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        for _ in range(3):
            try:
                raise ValueError("bad")
            except ValueError as exc:
                trouble.failed(f"ValueError: {exc}", exc_info=True)
            now[0] += 60
    records = [r for r in caplog.records if r.name == LOG.name]
    assert len(records) == 3 and records[0].exc_info and not records[1].exc_info and not records[2].exc_info
