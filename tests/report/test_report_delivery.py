"""Delivery through the alert channels: e-mail to a real SMTP server on loopback, a webhook to a real HTTP server."""

from __future__ import annotations

import email
import json
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.messages: list[email.message.EmailMessage] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Handler()
    ctl = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=64 * 2**20)
    ctl.start()
    yield handler, port
    ctl.stop()


def _cfg(notify):
    from workbench.config import Config

    return Config(notify=notify)


def _mail(port):
    return {"channels": {"mail": {"kind": "email", "host": "127.0.0.1", "port": port, "to": ["ops@example.org"],
                                  "sender": "workbench@example.org", "starttls": False}}}


@pytest.mark.parametrize("attach", [False, True], ids=["inline", "attached"])
def test_email_carries_the_report_html(smtp, report_run, attach):
    from workbench.report._config import ReportSpec
    from workbench.report._deliver import deliver

    handler, port = smtp
    spec = ReportSpec("daily", deliver=("mail",), attach=attach)
    root = Path(report_run.dir).parent.parent
    assert deliver(spec, report_run, _cfg(_mail(port)), root) == [f"mail: {'attached' if attach else 'inline'}"]
    (msg,) = handler.messages
    assert msg["To"] == "ops@example.org" and msg["Subject"].startswith("Daily test report: ")
    html_part = msg.get_body(preferencelist=("html",)).get_content()
    text_part = msg.get_body(preferencelist=("plain",)).get_content()
    assert str(Path(report_run.html)) in text_part
    page = Path(report_run.html).read_text()
    if attach:
        (att,) = list(msg.iter_attachments())
        assert att.get_filename() == "report.html" and att.get_content_type() == "text/html"
        assert att.get_content() == page  # the whole report, plotly.js and all
    else:
        assert 'id="wb-summary"' in html_part and 'id="wb-fleet"' in html_part
        assert 'data-kpi="cpu"' in html_part or "data-kpi" in html_part
        assert "<script" not in html_part and len(html_part) < len(page) / 4


def test_webhook_gets_the_path_and_url(report_run):
    from workbench.report._config import ReportSpec
    from workbench.report._deliver import deliver

    got: list[dict] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        notify = {"channels": {"hook": {"kind": "webhook", "url": f"http://127.0.0.1:{srv.server_port}/in"}}}
        spec = ReportSpec("daily", deliver=("hook",), url="https://reports.example/{path}")
        root = Path(report_run.dir).parent.parent
        assert deliver(spec, report_run, _cfg(notify), root) == ["hook: sent"]
    finally:
        srv.shutdown()
    (body,) = got
    rel = Path(report_run.html).relative_to(root).as_posix()
    info = body["alerts"][0]
    assert body["event"] == "report" and info["path"] == rel and info["url"] == f"https://reports.example/{rel}"
    assert info["status"] == "ok" and body["title"].startswith("Daily test report")
