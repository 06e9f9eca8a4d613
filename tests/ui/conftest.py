"""Fixtures for the dashboard: the demo home, a real Voilà server, a real headless Chromium.

Chromium is Debian's (``make test`` installs it with apt when missing, see
``scripts/ensure-chromium``); Playwright drives it through
``executable_path`` because Playwright's own browser download does not exist
here. Screenshots go to ``test-output/`` at the top of the checkout. The browser
fixtures themselves (``chromium``, ``browser``, ``output_dir``) are in
``tests/conftest.py``: the report tests use the same session browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90.0, proc: subprocess.Popen | None = None) -> int:
    """Poll ``url`` until it answers; returns the status code."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback test server
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError as exc:
            last = exc
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s: {last}")


def start_dashboard(home: Path, *, token: str | None = None, cull_idle: int = 60, preheat: bool = True,
                    log_path: Path | None = None, config: Path | None = None):
    from workbench.ui._serve import DashboardServer

    server = DashboardServer(port=free_port(), home=str(home), cull_idle=cull_idle, preheat=preheat,
                             config=str(config) if config else None)
    env_token = os.environ.pop(server.token_env, None)
    if token:
        os.environ[server.token_env] = token
    try:
        log = open(log_path or os.devnull, "w")  # noqa: SIM115 - closed with the process
        proc = server.start(stdout=log, stderr=subprocess.STDOUT)
    finally:
        os.environ.pop(server.token_env, None)
        if env_token is not None:
            os.environ[server.token_env] = env_token
    wait_http(server.url() + ("?token=" + token if token else ""), proc=proc)
    return server, proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def dashboard(demo_home, output_dir):
    server, proc = start_dashboard(demo_home, log_path=output_dir / "voila.log")
    yield server
    stop(proc)


class PageWatch:
    """Console errors, page errors and every request a page makes."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("websocket", lambda ws: self.requests.append(ws.url))

    def foreign(self) -> list[str]:
        from urllib.parse import urlparse

        return [u for u in self.requests if urlparse(u).hostname not in ("127.0.0.1", None)
                and not u.startswith(("data:", "blob:"))]


def open_dashboard(browser, server, *, width: int = 1280, height: int = 720, dark: bool = False):
    page = browser.new_page(viewport={"width": width, "height": height})
    watch = PageWatch(page)
    page.goto(server.url())
    page.wait_for_selector(".wb-card-value", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.wb-chart.wb-drawn').length >= 3", timeout=60_000)
    if dark:
        page.get_by_role("button", name="Dark").click()
        page.wait_for_selector(".wb-dark")
    return page, watch
