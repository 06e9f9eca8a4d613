"""Pure policies: retry back-off, error classification, circuit breaker, errors pickle."""

from __future__ import annotations

import errno
import pickle
import random

import pytest

from workbench.errors import ConfigError, WorkbenchError
from workbench.execute import (
    CircuitBreaker,
    CircuitOpenError,
    CommandError,
    DependencyCycleError,
    QueueFullError,
    Retry,
    RetryBudget,
    TaskTimeoutError,
    WorkerDiedError,
    classify,
)


def test_backoff_is_exponential_capped_and_jittered():
    r = Retry(attempts=10, backoff=0.1, max_backoff=1.0, jitter=False)
    assert [r.delay(n, random.Random(0)) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    rj = Retry(attempts=10, backoff=0.1, max_backoff=1.0, jitter=True)
    rng = random.Random(1)
    draws = [rj.delay(3, rng) for _ in range(200)]
    assert all(0 <= d <= 0.4 for d in draws) and len(set(draws)) > 100  # full jitter spreads retries
    assert not r.should_retry(ConnectionError(), attempt=10)
    assert r.should_retry(ConnectionError(), attempt=1) and not r.should_retry(ValueError(), attempt=1)
    assert Retry(on=KeyError).on == (KeyError,)
    with pytest.raises(ConfigError, match="attempts"):
        Retry(attempts=0)


def test_classification():
    assert classify(OSError(errno.EAGAIN, "again")) == "transient"
    assert classify(OSError(errno.ENOENT, "missing")) == "permanent"
    assert classify(WorkerDiedError("died")) == "transient"
    assert classify(CommandError("x", returncode=75)) == "transient"
    assert classify(CommandError("x", returncode=2)) == "permanent"

    class Flagged(Exception):
        transient = True

    assert classify(Flagged()) == "transient"


def test_retry_budget():
    b = RetryBudget(ratio=0.5, min_retries=1)
    assert [b.allow(submitted=2) for _ in range(3)] == [True, True, False]


def test_breaker_opens_on_failure_rate_and_reopens_after_failed_trial():
    br = CircuitBreaker(failures=100, failure_rate=0.5, window=4, cooldown=10)
    g = ["tag:db"]
    for ok in (True, False, True, False):
        assert br.allow(g, 0) is None
        br.record(g, ok, 0)
    assert br.state("tag:db", 1) == "open" and br.allow(g, 1) == "tag:db"
    assert br.state("tag:db", 11) == "half_open"
    assert br.allow(g, 11) is None  # one trial
    assert br.allow(g, 11) == "tag:db"  # a second one waits for the trial
    br.record(g, False, 11)
    assert br.state("tag:db", 12) == "open"
    assert br.state("tag:db", 22) == "half_open"
    br.allow(g, 22)
    br.record(g, True, 22)
    assert br.state("tag:db", 22) == "closed"


@pytest.mark.parametrize("exc", [
    QueueFullError("full", queue_size=3),
    TaskTimeoutError("slow", key="k", timeout=1.0),
    WorkerDiedError("died", pid=1, exitcode=-9),
    CircuitOpenError("open", group="tag:db"),
    DependencyCycleError("cycle", key="a", after=["b"]),
    CommandError("bad", returncode=3, stderr="x"),
])
def test_errors_pickle_and_subclass_builtins(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and str(back) == str(exc) and back.fields == exc.fields
    assert isinstance(back, WorkbenchError)
    assert isinstance(back, (RuntimeError, TimeoutError, ValueError))
