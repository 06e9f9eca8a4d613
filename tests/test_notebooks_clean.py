"""The notebooks in the repository carry no large outputs and no secrets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
SECRET = re.compile(
    r"(?i)(password|passwd|secret|api[_-]?key|access[_-]?key|token)\s*[:=]\s*['\"]?[A-Za-z0-9_\-./+]{8,}"
    r"|[?&](token|sig|key|password)=[^&\s\"']{6,}"
    r"|AKIA[0-9A-Z]{16}|xox[abp]-[0-9A-Za-z-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"dashboard.ipynb", "explore.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small_and_holds_no_secret(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        size = len(json.dumps(cell.get("outputs", [])))
        assert size < 1_000_000, f"{path.name} cell {i} carries {size:,} bytes of output; clear outputs before committing"
    text = path.read_text()
    hit = SECRET.search(text)
    assert hit is None, f"{path.name} looks like it holds a secret near {hit.group(0)[:12]!r}…"


def test_the_secret_check_can_fail():
    assert SECRET.search('"url": "https://hooks.example/x?token=abcdef123456"')
    assert SECRET.search("password = 'hunter2hunter2'")
    assert not SECRET.search("password_env = \"SMTP_PASSWORD\"")


def test_status_lists_demo_hosts_as_imported_data(demo_home):
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(demo_home), "status"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "17 demo hosts (imported data, no agent" in out
    assert "host ec2-825cc2: agent not running" not in out
