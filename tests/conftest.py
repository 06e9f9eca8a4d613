import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "test-output"
# Debian's Chromium, driven by Playwright (whose own browser download does not exist here)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SHARED_DATA = Path(os.environ.get("WORKBENCH_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"reference data not found at {SHARED_DATA}; set WORKBENCH_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """The whole shipped demo in one home, loaded once per session (read it, don't write to it)."""
    from workbench.demo import load_demo

    home = tmp_path_factory.mktemp("demo-shared")
    load_demo(home)
    return home


# One browser per session for every browser test (the dashboard's and the reports'): Playwright's
# sync API cannot run two at once in one thread.
@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("WORKBENCH_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed: `make test` installs it (scripts/ensure-chromium), "
                    "or set WORKBENCH_CHROMIUM to a Chromium binary")
    return path


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()
