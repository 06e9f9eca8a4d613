"""Channels retry and break circuits with the executor's one Retry and CircuitBreaker,
against real receivers on 127.0.0.1: an HTTP server and an SMTP server that fail, then recover."""

from __future__ import annotations

import json
import pickle
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench import _resilience
from workbench.detect import (
    CircuitBreaker,
    CircuitOpenError,
    EmailChannel,
    Notification,
    NotifyError,
    RuleError,
    WebhookChannel,
)
from workbench.detect._live import router_from_config


class FlakyReceiver:
    """A real HTTP server answering with ``codes`` in turn (then 200 for ever)."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(outer.codes.pop(0) if outer.codes else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky():
    made = []

    def make(*codes):
        made.append(FlakyReceiver(*codes))
        return made[-1]

    yield make
    for r in made:
        r.close()


def note() -> Notification:
    return Notification("firing", "cpu_high", "warning", ({"alert_id": "cpu_high|h1", "host": "h1", "metric": "cpu"},))


def no_sleep(seconds: float) -> None:
    pass


def test_one_breaker_one_retry_one_open_error_for_executor_and_channels():
    from workbench import execute

    assert execute.CircuitBreaker is CircuitBreaker is _resilience.CircuitBreaker
    assert execute.Retry is _resilience.Retry and execute.classify is _resilience.classify
    assert execute.CircuitOpenError is CircuitOpenError is _resilience.CircuitOpenError
    err = pickle.loads(pickle.dumps(CircuitOpenError("open", channel="ops")))
    assert type(err) is CircuitOpenError and err.channel == "ops" and str(err) == "open"


def test_a_failing_webhook_then_succeeding_is_retried_until_it_delivers(flaky):
    r = flaky(503, 500)
    ch = WebhookChannel(r.url, attempts=3, backoff=0.0, sleep=no_sleep)
    ch.send(note())
    assert len(r.bodies) == 3 and ch.attempts == 3
    assert ch.breaker.state("webhook", 0.0) == "closed"  # one send, and it succeeded


@pytest.mark.parametrize(("code", "tries"), [(400, 1), (404, 1), (408, 3), (429, 3), (502, 3)])
def test_only_transient_http_failures_are_tried_again(flaky, code, tries):
    r = flaky(code, code, code)
    ch = WebhookChannel(r.url, attempts=3, backoff=0.0, sleep=no_sleep)
    with pytest.raises(NotifyError, match=rf"failed after {tries} attempt\(s\): HTTP {code}\."):
        ch.send(note())
    assert len(r.bodies) == tries


def test_retries_keeps_its_meaning_attempts_counts_the_first_try(flaky):
    assert WebhookChannel("http://127.0.0.1:9/x", retries=0).retry.attempts == 1
    assert WebhookChannel("http://127.0.0.1:9/x", retries=2).retry.attempts == 3
    assert WebhookChannel("http://127.0.0.1:9/x", attempts=2).retry.attempts == 2
    assert WebhookChannel("http://127.0.0.1:9/x").retry.attempts == 3  # the default, as before (retries=2)
    with pytest.raises(RuleError, match="not both"):
        WebhookChannel("http://127.0.0.1:9/x", retries=1, attempts=2)
    with pytest.raises(RuleError, match="attempts must be a whole number >= 1"):
        WebhookChannel("http://127.0.0.1:9/x", attempts=0)


def test_the_backoff_doubles_with_full_jitter(flaky):
    r = flaky(500, 500, 500, 500)
    sleeps: list[float] = []
    ch = WebhookChannel(r.url, attempts=4, backoff=0.2, sleep=sleeps.append)
    with pytest.raises(NotifyError, match="failed after 4 attempt"):
        ch.send(note())
    assert len(sleeps) == 3 and all(0 <= s <= cap for s, cap in zip(sleeps, (0.2, 0.4, 0.8), strict=True))


def test_breaker_opens_after_n_failed_sends_and_half_opens_after_its_cooldown(flaky):
    r = flaky(*[500] * 5)
    now = [100.0]
    ch = WebhookChannel(r.url, name="ops", attempts=1, breaker=CircuitBreaker(failures=3, cooldown=60),
                        sleep=no_sleep, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(NotifyError, match="HTTP 500"):
            ch.send(note())
    assert ch.breaker.state("ops", now[0]) == "open" and len(r.bodies) == 3
    now[0] += 59
    with pytest.raises(CircuitOpenError, match="Channel 'ops': not sent"):
        ch.send(note())
    assert len(r.bodies) == 3  # fails fast: the receiver saw nothing
    now[0] += 1
    assert ch.breaker.state("ops", now[0]) == "half_open"
    with pytest.raises(NotifyError, match="HTTP 500"):  # the trial fails: open again at once
        ch.send(note())
    assert ch.breaker.state("ops", now[0]) == "open" and len(r.bodies) == 4
    with pytest.raises(CircuitOpenError):
        ch.send(note())
    now[0] += 60
    with pytest.raises(NotifyError, match="HTTP 500"):  # the 5th and last 500
        ch.send(note())
    now[0] += 60
    ch.send(note())  # this trial succeeds: closed
    assert ch.breaker.state("ops", now[0]) == "closed" and len(r.bodies) == 6
    ch.send(note())
    assert len(r.bodies) == 7


def test_a_send_counts_once_for_the_breaker_however_many_tries_it_took(flaky):
    r = flaky(500, 500, 500, 500, 500, 500)
    ch = WebhookChannel(r.url, attempts=3, backoff=0.0, sleep=no_sleep, breaker=CircuitBreaker(failures=2))
    with pytest.raises(NotifyError, match="failed after 3 attempt"):
        ch.send(note())
    assert ch.breaker.state("webhook", 0.0) == "closed"  # 3 tries, one failed send
    with pytest.raises(NotifyError):
        ch.send(note())
    assert ch.breaker.state("webhook", 0.0) == "open" and len(r.bodies) == 6


# ---- e-mail retries too (it did not before)

class FlakySMTP:
    """A real SMTP server (aiosmtpd) replying ``codes`` to DATA in turn, then 250."""

    def __init__(self, *codes: str) -> None:
        from aiosmtpd.controller import Controller

        self.codes = list(codes)
        self.tries = 0
        self.received: list = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
                outer.tries += 1
                if outer.codes:
                    return outer.codes.pop(0)
                outer.received.append(envelope)
                return "250 OK"

        self.port = _free_port()
        self.ctl = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.ctl.start()

    def close(self) -> None:
        self.ctl.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    made = []

    def make(*codes):
        made.append(FlakySMTP(*codes))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _mail(port: int, **kw) -> EmailChannel:
    return EmailChannel("127.0.0.1", ["ops@example.org"], "wb@example.org", port=port, starttls=False,
                        sleep=no_sleep, **kw)


def test_email_retries_a_transient_smtp_reply_until_it_is_accepted(smtp):
    server = smtp("451 4.3.0 try again later", "421 4.7.0 busy")
    mail = _mail(server.port, attempts=3, backoff=0.0)
    mail.send(note())
    assert server.tries == 3 and len(server.received) == 1 and mail.attempts == 3


def test_email_does_not_retry_a_permanent_smtp_reply(smtp):
    server = smtp("554 5.7.1 rejected")
    mail = _mail(server.port, attempts=3, backoff=0.0)
    with pytest.raises(NotifyError, match=r"E-mail 'email' via 127.0.0.1:\d+ failed after 1 attempt\(s\): "
                                          r"SMTPDataError\."):
        mail.send(note())
    assert server.tries == 1 and not server.received


def test_email_to_a_closed_port_is_retried_then_its_breaker_opens():
    port = _free_port()  # nothing listens: connection refused
    now = [0.0]
    mail = _mail(port, retries=1, backoff=0.0, breaker=CircuitBreaker(failures=1, cooldown=60),
                 clock=lambda: now[0])
    with pytest.raises(NotifyError, match=r"failed after 2 attempt\(s\): ConnectionRefusedError"):
        mail.send(note())
    assert mail.attempts == 2
    with pytest.raises(CircuitOpenError):
        mail.send(note())
    assert mail.attempts == 2


# ---- workbench.toml keys

def test_config_keys_attempts_retries_and_backoff_for_webhook_and_email():
    router = router_from_config({"channels": {
        "old": {"kind": "webhook", "url": "http://127.0.0.1:9/x", "retries": 0, "backoff": "0"},
        "new": {"kind": "webhook", "url": "http://127.0.0.1:9/x", "attempts": 5, "backoff": "250ms"},
        "mail": {"kind": "email", "host": "127.0.0.1", "to": ["a@b"], "sender": "c@d", "attempts": 2,
                 "backoff": "1s"},
    }})
    assert router.channels["old"].retry.attempts == 1 and router.channels["old"].retry.backoff == 0.0
    assert router.channels["new"].retry.attempts == 5 and router.channels["new"].retry.backoff == 0.25
    assert router.channels["mail"].retry.attempts == 2 and router.channels["mail"].retry.backoff == 1.0
    with pytest.raises(RuleError, match=r"\[notify.channels.x\]: give attempts .* or retries .*not both"):
        router_from_config({"channels": {"x": {"kind": "webhook", "url": "http://h/", "attempts": 2, "retries": 1}}})
    with pytest.raises(RuleError, match=r"\[notify.channels.x\] attempts must be a whole number >= 1; got 0"):
        router_from_config({"channels": {"x": {"kind": "email", "host": "h", "to": ["a"], "sender": "b",
                                               "attempts": 0}}})
    with pytest.raises(RuleError, match=r"\[notify.channels.x\] backoff must be a number of seconds .*'soon'"):
        router_from_config({"channels": {"x": {"kind": "webhook", "url": "http://h/", "backoff": "soon"}}})


def test_channels_stay_light_to_import():
    """The agent sends notifications and must not load the executor (NumPy, multiprocessing)."""
    code = "import sys, workbench.detect._live; print('workbench.execute' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
