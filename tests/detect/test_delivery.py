"""Background delivery against a real webhook receiver on 127.0.0.1 that hangs on purpose."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.detect import (
    AlertManager,
    BackgroundRouter,
    CircuitBreaker,
    LogChannel,
    Notification,
    Router,
    ToastQueue,
    WebhookChannel,
    rule_from_dict,
)
from workbench.errors import ConfigError


class HangingReceiver:
    """A real HTTP server whose handler waits for ``release`` (or ``hang`` seconds) before replying."""

    def __init__(self, hang: float = 10.0, status: int = 200) -> None:
        self.bodies: list[dict] = []
        self.arrived = threading.Event()  # set when a request has reached the handler
        self.release = threading.Event()
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.arrived.set()
                outer.release.wait(hang)
                outer.bodies.append(body)
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(**kw):
        made.append(HangingReceiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


def note(i: int) -> Notification:
    return Notification("firing", f"rule{i}", "warning", ({"alert_id": f"rule{i}|h1", "host": "h1", "metric": "cpu"},))


def test_evaluation_never_waits_on_a_hanging_webhook(receiver):
    hook = receiver(hang=10.0)
    toast = ToastQueue()
    router = BackgroundRouter(Router([WebhookChannel(hook.url, timeout=30, retries=0), toast]))
    mgr = AlertManager([rule_from_dict({"name": "cpu_high", "kind": "threshold", "metric": "cpu", "fire": 90})],
                       clock=lambda: 0.0, router=router)
    t0 = time.monotonic()
    mgr.observe(0.0, "h1", "cpu", 99.0)  # fires, notifies
    mgr.tick(1.0)
    assert time.monotonic() - t0 < 0.5  # the receiver hangs for 10 s; evaluation did not wait
    assert hook.arrived.wait(5)  # the webhook is being delivered, on another thread
    assert hook.bodies == []  # ... and has not completed
    assert router.flush(timeout=0.2) is False  # flush waits for in-flight deliveries too
    # the toast of the same alert did not queue behind the hanging webhook
    deadline = time.monotonic() + 5
    while not (toasts := toast.drain()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(toasts) == 1 and toasts[0]["title"].startswith("[WARNING] cpu_high firing")
    # close() waits for the webhook: released after 0.5 s, delivered before close returns
    threading.Timer(0.5, hook.release.set).start()
    t1 = time.monotonic()
    assert router.close(timeout=10) is True
    assert 0.3 < time.monotonic() - t1 < 5
    assert [b["rule"] for b in hook.bodies] == ["cpu_high"]
    assert router.status()["sent"] == {"webhook": 1, "toast": 1}


@pytest.mark.parametrize(("overflow", "delivered"), [("drop-oldest", [0, 3, 4]), ("drop-newest", [0, 1, 2])])
def test_full_queue_drops_counts_and_logs(receiver, caplog, overflow, delivered):
    hook = receiver(hang=10.0)
    router = BackgroundRouter(Router([WebhookChannel(hook.url, timeout=30, retries=0)]), maxsize=2, overflow=overflow)
    caplog.set_level(logging.ERROR, logger="workbench.detect.notify")
    assert router.send(note(0)) == ["webhook"]
    assert hook.arrived.wait(5)  # note 0 is in flight; the queue (size 2) is empty
    took = [router.send(note(i)) for i in range(1, 5)]
    assert took[:2] == [["webhook"], ["webhook"]] and took[2:] == [[], []]
    assert router.status()["dropped"] == {"webhook": 2} and router.status()["queued"] == {"webhook": 2}
    assert sum("dropped because its queue is full" in r.getMessage() for r in caplog.records) == 2
    hook.release.set()
    assert router.close(timeout=10)
    assert [b["rule"] for b in hook.bodies] == [f"rule{i}" for i in delivered]


def test_retries_backoff_and_breaker_still_apply_on_the_worker(receiver):
    hook = receiver(hang=0.0, status=500)
    sleeps = []
    breaker = CircuitBreaker(failures=1, cooldown=60)
    router = BackgroundRouter(Router([WebhookChannel(hook.url, retries=2, backoff=0.1, breaker=breaker,
                                                     sleep=sleeps.append)]))
    router.send(note(0))
    router.send(note(1))  # the breaker opened on note 0: note 1 fails fast, without a request
    assert router.close(timeout=10)
    assert len(hook.bodies) == 3 and len(sleeps) == 2  # back-off with full jitter: up to 0.1 s, then 0.2 s
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2
    assert breaker.state("webhook", time.monotonic()) == "open" and router.status()["failed"] == {"webhook": 2}


def test_close_gives_up_at_its_deadline_and_later_sends_are_dropped(receiver, caplog):
    hook = receiver(hang=10.0)
    router = BackgroundRouter(Router([WebhookChannel(hook.url, timeout=30, retries=0), LogChannel()]))
    caplog.set_level(logging.ERROR, logger="workbench.detect.notify")
    router.send(note(0))
    router.send(note(1))
    assert hook.arrived.wait(5)
    t0 = time.monotonic()
    assert router.close(timeout=0.3) is False
    assert time.monotonic() - t0 < 2
    assert any("1 queued notification(s) dropped and 1 still in flight" in r.getMessage() for r in caplog.records)
    assert router.send(note(2)) == []
    assert router.status()["dropped"]["webhook"] == 2 and router.status()["sent"]["log"] == 2


def test_bad_settings_are_refused_clearly():
    with pytest.raises(ConfigError, match="Unknown notification overflow policy 'drop-all'"):
        BackgroundRouter(Router([LogChannel()]), overflow="drop-all")
    with pytest.raises(ConfigError, match="must be a positive integer; got 0"):
        BackgroundRouter(Router([LogChannel()]), maxsize=0)
