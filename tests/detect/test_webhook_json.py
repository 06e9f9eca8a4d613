"""Webhook bodies are strict JSON (RFC 8259): no NaN or Infinity, whatever the alert holds.

A threshold alert has no anomaly score (NaN inside the manager); receivers such as
Slack, PagerDuty or a Go/JavaScript service reject ``NaN`` in a body outright.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from workbench.detect import AlertManager, Notification, Router, WebhookChannel, rule_from_dict


def _refuse(constant: str):
    raise ValueError(f"not JSON: {constant}")


def strict_loads(raw: bytes):
    """Parse as a strict JSON parser would: NaN, Infinity and -Infinity are errors."""
    return json.loads(raw, parse_constant=_refuse)


@pytest.fixture
def raw_receiver():
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", bodies
    server.shutdown()
    server.server_close()


def test_threshold_alert_sends_null_score_not_nan(raw_receiver):
    url, bodies = raw_receiver
    router = Router([WebhookChannel(url, retries=0)])
    mgr = AlertManager([rule_from_dict({"name": "cpu_high", "kind": "threshold", "metric": "cpu", "fire": 90})],
                       clock=lambda: 0.0, router=router)
    mgr.observe(0.0, "h1", "cpu", 99.0)
    assert router.sent == {"webhook": 1}
    body = strict_loads(bodies[0])  # raised "not JSON: NaN" before the fix
    alert = body["alerts"][0]
    assert alert["value"] == 99.0
    assert alert["score"] is None and alert["probability"] is None


def test_every_non_finite_number_becomes_null(raw_receiver):
    url, bodies = raw_receiver
    alerts = ({"alert_id": "a", "host": "h1", "metric": "m", "value": math.inf, "score": -math.inf,
               "probability": np.float32("nan"), "extra": {"nested": [1.5, float("nan")]}},)
    WebhookChannel(url, retries=0).send(Notification("firing", "r", "warning", alerts, ts=1.0))
    alert = strict_loads(bodies[0])["alerts"][0]
    assert (alert["value"], alert["score"], alert["probability"]) == (None, None, None)
    assert alert["extra"] == {"nested": [1.5, None]}
