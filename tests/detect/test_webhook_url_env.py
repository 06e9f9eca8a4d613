"""A webhook URL that is itself the secret (Slack-style) comes from the environment
(``url_env``) and never reaches a log line or an error message."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.detect import Notification, NotifyError, RuleError, WebhookChannel
from workbench.detect._live import router_from_config

PATH_SECRET = "B0Zq9sEcReTpAtH"
QUERY_SECRET = "qs-t0ken-do-not-leak"


@pytest.fixture
def server():
    got: list[tuple[str, dict]] = []
    state = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, json.loads(body)))
            self.send_response(state["code"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/services/T0/{PATH_SECRET}?token={QUERY_SECRET}", got, state
    srv.shutdown()
    srv.server_close()


def note():
    return Notification("firing", "cpu_high", "critical", ({"alert_id": "cpu_high|h1", "host": "h1", "metric": "cpu",
                                                             "labels": "", "value": 97.0},), ts=1.0)


def test_url_env_from_config_delivers_to_the_url_in_the_environment(server, monkeypatch):
    url, got, _ = server
    monkeypatch.setenv("WB_TEST_HOOK_URL", url)
    router = router_from_config({"channels": {"ops": {"kind": "webhook", "url_env": "WB_TEST_HOOK_URL", "retries": 0}}})
    assert router.send(note()) == ["ops"]
    assert got[0][0] == f"/services/T0/{PATH_SECRET}?token={QUERY_SECRET}"
    assert got[0][1]["rule"] == "cpu_high"


def test_failed_delivery_logs_and_raises_without_the_urls_secret(server, monkeypatch, caplog):
    url, got, state = server
    state["code"] = 500
    monkeypatch.setenv("WB_TEST_HOOK_URL", url)
    caplog.set_level(logging.DEBUG)
    ch = WebhookChannel(url_env="WB_TEST_HOOK_URL", name="ops", retries=1, backoff=0.0, sleep=lambda s: None)
    with pytest.raises(NotifyError) as err:
        ch.send(note())
    assert len(got) == 2
    text = str(err.value) + "\n" + "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 500" in text and "$WB_TEST_HOOK_URL" in text
    assert PATH_SECRET not in text and QUERY_SECRET not in text


def test_a_url_from_the_file_is_logged_with_its_query_masked(server, caplog):
    url, _, state = server
    state["code"] = 500
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NotifyError) as err:
        WebhookChannel(url, retries=0).send(note())
    text = str(err.value) + "\n" + "\n".join(r.getMessage() for r in caplog.records)
    assert QUERY_SECRET not in text and "token=***" in text


def test_url_env_unset_or_bad_says_what_to_do(monkeypatch):
    monkeypatch.delenv("WB_TEST_HOOK_URL", raising=False)
    ch = WebhookChannel(url_env="WB_TEST_HOOK_URL", name="ops")
    with pytest.raises(NotifyError, match=r"environment variable WB_TEST_HOOK_URL .*is not set"):
        ch.send(note())
    monkeypatch.setenv("WB_TEST_HOOK_URL", f"ftp://hooks.example/{PATH_SECRET}")
    with pytest.raises(NotifyError, match="must start with http:// or https://") as err:
        ch.send(note())
    assert PATH_SECRET not in str(err.value)


def test_exactly_one_of_url_and_url_env():
    with pytest.raises(RuleError, match="either url or url_env"):
        WebhookChannel()
    with pytest.raises(RuleError, match="either url or url_env"):
        WebhookChannel("https://hooks.example/x", url_env="WB_TEST_HOOK_URL")
    with pytest.raises(RuleError, match="url_env"):
        router_from_config({"channels": {"ops": {"kind": "webhook"}}})
