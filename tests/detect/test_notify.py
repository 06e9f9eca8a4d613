"""Notifications against real receivers on 127.0.0.1: HTTP webhooks and an SMTP server."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.detect import (
    AlertManager,
    CircuitBreaker,
    CircuitOpenError,
    EmailChannel,
    LogChannel,
    Notification,
    NotifyError,
    Route,
    Router,
    ToastQueue,
    WebhookChannel,
    rule_from_dict,
)
from workbench.detect._rules import Matcher

SECRET = "s3cr3t-T0ken-do-not-leak"


class Receiver:
    """A real HTTP server; ``mode`` is ok, error (HTTP 500) or slow (sleeps past the timeout)."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.bodies.append(json.loads(body))
                outer.headers.append(dict(self.headers))
                if outer.mode == "slow":
                    time.sleep(0.6)
                code = 500 if outer.mode == "error" else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?token=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(mode="ok"):
        made.append(Receiver(mode))
        return made[-1]

    yield make
    for r in made:
        r.close()


def note(severity="warning", host="h1"):
    return Notification("firing", "cpu_high", severity, ({"alert_id": "cpu_high|h1", "host": host, "metric": "cpu", "labels": "", "value": 97.0},))


def test_webhook_delivers_json_with_secret_header_from_env(receiver, monkeypatch):
    monkeypatch.setenv("WB_TEST_TOKEN", SECRET)
    r = receiver("ok")
    ch = WebhookChannel(r.url, headers_env={"Authorization": "WB_TEST_TOKEN"})
    ch.send(note())
    assert r.bodies[0]["rule"] == "cpu_high" and r.bodies[0]["alerts"][0]["value"] == 97.0
    assert r.headers[0]["Authorization"] == SECRET


def test_webhook_retries_with_backoff_then_breaker_opens(receiver):
    r = receiver("error")
    sleeps = []
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown=30)
    ch = WebhookChannel(r.url, retries=2, backoff=0.1, breaker=breaker, sleep=sleeps.append, clock=lambda: now[0])
    with pytest.raises(NotifyError, match="failed after 3 attempt\\(s\\): HTTP 500"):
        ch.send(note())
    assert len(r.bodies) == 3 and len(sleeps) == 2  # full jitter: up to 0.1 s, then up to 0.2 s
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2
    with pytest.raises(NotifyError):
        ch.send(note())
    assert breaker.state("webhook", now[0]) == "open"
    with pytest.raises(CircuitOpenError, match=r"circuit breaker is open after failed sends \(2 in a row open it\); "
                                               "it lets one trial send through 30s after opening"):
        ch.send(note())
    assert len(r.bodies) == 6  # the open breaker did not touch the receiver
    now[0] = 31  # half-open: one trial goes through and succeeds
    r.mode = "ok"
    ch.send(note())
    assert breaker.state("webhook", now[0]) == "closed" and len(r.bodies) == 7


def test_webhook_timeout(receiver):
    r = receiver("slow")
    ch = WebhookChannel(r.url, timeout=0.2, retries=1, backoff=0.0, sleep=lambda s: None)
    t0 = time.monotonic()
    with pytest.raises(NotifyError, match="failed after 2 attempt"):
        ch.send(note())
    assert time.monotonic() - t0 < 1.5


def test_router_by_severity_and_labels_and_toasts(receiver):
    r = receiver("ok")
    toast = ToastQueue()
    router = Router(
        [WebhookChannel(r.url, name="pager"), toast, LogChannel()],
        routes=[
            Route(("pager",), min_severity="critical", matchers=Matcher.from_mapping({"host": "~db.*"}, "t")),
            Route(("toast", "log")),
        ],
    )
    assert router.send(note("warning", host="db1")) == ["toast", "log"]
    assert router.send(note("critical", host="web1")) == ["toast", "log"]
    assert router.send(note("critical", host="db1")) == ["pager", "toast", "log"]
    assert len(r.bodies) == 1
    toasts = toast.drain()
    assert len(toasts) == 3 and toasts[0]["severity"] == "warning" and toast.drain() == []


def _cert(tmp_path):
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return key, crt


@pytest.mark.slow
def test_email_over_starttls_with_env_credentials_and_no_secret_leak(tmp_path, monkeypatch, caplog, receiver):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    key, crt = _cert(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(crt, key)
    received, logins = [], []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
            received.append(envelope)
            return "250 OK"

    def auth(server, session, envelope, mechanism, data):
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"alerts" and data.password == SECRET.encode())

    with socket.socket() as probe:  # aiosmtpd's Controller needs a concrete port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True,
                     authenticator=auth, auth_require_tls=True)
    ctl.start()
    try:
        monkeypatch.setenv("WB_SMTP_USER", "alerts")
        monkeypatch.setenv("WB_SMTP_PASSWORD", SECRET)
        monkeypatch.setenv("WB_TEST_TOKEN", SECRET)
        client_tls = ssl.create_default_context(cafile=str(crt))
        mail = EmailChannel("127.0.0.1", ["ops@example.org"], "wb@example.org", port=port,
                            username_env="WB_SMTP_USER", password_env="WB_SMTP_PASSWORD", ssl_context=client_tls)
        hook = receiver("error")
        router = Router([mail, LogChannel(), WebhookChannel(hook.url, retries=0, headers_env={"Authorization": "WB_TEST_TOKEN"})])
        caplog.set_level(logging.DEBUG)
        mgr = AlertManager([rule_from_dict({"name": "cpu_high", "kind": "threshold", "metric": "cpu", "fire": 90})],
                           clock=lambda: 0.0, router=router)
        mgr.observe(0.0, "h1", "cpu", 99.0)
        assert len(received) == 1 and b"cpu_high firing" in received[0].content
        assert received[0].rcpt_tos == ["ops@example.org"] and logins == [(b"alerts", SECRET.encode())]
        assert router.sent["email"] == 1 and router.failed["webhook"] == 1
        # a wrong password fails cleanly, without echoing it
        monkeypatch.setenv("WB_SMTP_PASSWORD", "wrong-" + SECRET)
        mgr.observe(1.0, "h1", "cpu", 10.0)
        assert router.failed["email"] == 1
        records = mgr.drain_records()
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "token=abc" not in logged  # webhook URLs are logged without their query
        assert SECRET not in logged
        assert not records.astype(str).apply(lambda col: col.str.contains(SECRET)).any().any()
        assert SECRET not in repr(mail.__dict__) and SECRET not in repr(router.__dict__)
    finally:
        ctl.stop()
