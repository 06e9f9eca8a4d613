"""The agent's hot path stays free of the heavy libraries (issue #2: RSS <= 80 MiB).

pandas, DuckDB, pyarrow.compute and pyarrow.dataset together would more than
double the agent's resident memory (docs/benchmarks/agent.md). They are easy
to pull in by accident (``pa.array`` on a list, ``pq.read_table``, a top-level
import in a store module), so this runs a real agent and lists what it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "duckdb", "pyarrow.compute", "pyarrow.dataset", "workbench.detect", "sklearn")

_SCRIPT = f"""
import json, sys
from workbench.agent import Agent
from workbench.config import load_config
cfg = load_config(home=sys.argv[1])
Agent(cfg).run(duration=3, install_signals=False)
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
"""


@pytest.mark.slow
def test_a_running_agent_without_rules_loads_no_query_engine(tmp_path):
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "home")], capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == [], (
        f"the agent's hot path imported {loaded}; import them lazily where they are used "
        "(see docs/benchmarks/agent.md for what each costs in resident memory)"
    )
