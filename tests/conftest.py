import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
