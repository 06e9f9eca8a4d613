"""A real agent with a scheduled report: the run is a child process; the agent neither waits nor loads it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.report.conftest import tiny_notebook

pytestmark = pytest.mark.slow

HEAVY = ("pandas", "duckdb", "papermill", "nbconvert", "nbclient", "workbench.detect", "plotly")

_SCRIPT = """
import json, sys, time
from workbench.agent import Agent
from workbench.config import load_config
cfg = load_config(sys.argv[1], home=sys.argv[2], host="h1")
t0 = time.monotonic()
agent = Agent(cfg, collectors=[])
agent.run(duration=3, install_signals=False)
done = (cfg.home / "reports" / "minutely" / "last_run.json").exists()
print(json.dumps({"seconds": time.monotonic() - t0, "started": agent.reports.started_count, "report_done": done,
                  "loaded": [m for m in sys.argv[3].split(",") if m in sys.modules]}))
"""


def test_agent_starts_a_due_report_in_a_child_and_carries_on(tmp_path):
    home = tmp_path / "home"
    (home / "reports").mkdir(parents=True)
    nb = tiny_notebook(tmp_path / "r.ipynb", ["import time\ntime.sleep(8)\nprint('done')"])
    toml = tmp_path / "workbench.toml"
    toml.write_text(f'[reports.minutely]\ncron = "* * * * *"\nnotebook = "{nb}"\n')
    # it last ran two minutes ago: due at once when the agent starts
    (home / "reports" / ".schedule.json").write_text(json.dumps({"last_slots": {"minutely": time.time() - 120},
                                                                  "runs": {}}))
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(toml), str(home), ",".join(HEAVY)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # the agent ran its 3 s and stopped while the report (8 s in one cell) was still running
    assert res["started"] == 1 and not res["report_done"] and res["seconds"] < 8, res
    assert res["loaded"] == [], f"the agent loaded {res['loaded']} for a report"
    last = home / "reports" / "minutely" / "last_run.json"
    deadline = time.monotonic() + 90
    while not last.exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    run = json.loads(last.read_text())
    assert run["status"] == "ok", run
    assert (home / "reports" / "index.html").exists()
