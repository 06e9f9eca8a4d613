"""The agent's hot path stays free of the heavy libraries (issue #2: RSS <= 80 MiB).

pandas, DuckDB, pyarrow.compute and pyarrow.dataset together would more than
double the agent's resident memory, and scikit-learn (the IsolationForest
detector) adds ~90 MiB more (docs/benchmarks/agent.md). They are easy to pull
in by accident (``pa.array`` on a list, ``pq.read_table``, a top-level import
in a store or detect module), so these run a real agent -- long enough for
its absorb step to merge L0 files, and for an alert rule to fire and be
written to the ``alerts`` table -- and list what it loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from workbench.store import Store

HEAVY = ("pandas", "duckdb", "pyarrow.compute", "pyarrow.dataset", "workbench.detect", "sklearn")

_SCRIPT = """
import json, sys
from workbench.agent import Agent
from workbench.config import load_config
cfg = load_config(sys.argv[1] or None, home=sys.argv[2], host="h1")
summary = Agent(cfg, absorb_interval=1.0).run(duration=4, install_signals=False)
print(json.dumps({"loaded": [m for m in sys.argv[3].split(",") if m in sys.modules],
                  "modules": sorted(sys.modules)}))
"""

# Two threshold rules, as in the benchmark's variant; the first fires on the
# agent's first self-metrics sample, so the records path runs too.
RULES = """
[[alerts.rules]]
name = "agent_memory_nonzero"
kind = "threshold"
metric = "workbench.agent.memory.rss"
fire = 1

[[alerts.rules]]
name = "cpu_high"
kind = "threshold"
metric = "system.cpu.utilization"
fire = 0.99
"""


def _run_agent(tmp_path, config_text: str, heavy: tuple[str, ...]) -> tuple[list[str], set[str]]:
    config = ""
    if config_text:
        path = tmp_path / "workbench.toml"
        path.write_text(config_text)
        config = str(path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, config, str(tmp_path / "home"), ",".join(heavy)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    manifest = json.loads((tmp_path / "home" / "hosts" / "h1" / "manifest.json").read_text())
    assert manifest["absorbed"], "the agent's absorb step did not run; the test would prove nothing about it"
    return out["loaded"], set(out["modules"])


@pytest.mark.slow
def test_a_running_agent_without_rules_loads_no_query_engine(tmp_path):
    loaded, _ = _run_agent(tmp_path, "", HEAVY)
    assert loaded == [], (
        f"the agent's hot path imported {loaded}; import them lazily where they are used "
        "(see docs/benchmarks/agent.md for what each costs in resident memory)"
    )


@pytest.mark.slow
def test_a_running_agent_with_threshold_rules_loads_no_detector_library(tmp_path):
    # The plug-in registry itself is loaded (channel kinds live on it) but names its detectors
    # as "module:attr" references imported on first use: no detector module may come with it.
    heavy = ("sklearn", "duckdb", "pyarrow.dataset", "workbench.detect._ensemble", "workbench.detect._multivariate",
             "workbench.detect._robust", "workbench.detect._backtest")
    loaded, modules = _run_agent(tmp_path, RULES, heavy)
    assert loaded == [], (
        f"an agent with threshold rules imported {loaded}; workbench.detect must import detectors "
        "(scikit-learn) only when a rule needs one"
    )
    assert "workbench.detect._live" in modules
    alerts = Store(tmp_path / "home").sql("SELECT rule, state FROM alerts WHERE rule = 'agent_memory_nonzero'")
    assert "firing" in set(alerts.state), "the firing rule's record was not written to the alerts table"


@pytest.mark.slow
def test_a_running_agent_with_threshold_rules_loads_no_pandas(tmp_path):
    loaded, _ = _run_agent(tmp_path, RULES, ("pandas",))
    assert loaded == []


PREDICTED = """
[[alerts.rules]]
name = "rss_soon"
kind = "predicted"
metric = "workbench.agent.memory.rss"
level = 1e15
horizon = "10min"
probability = 0.9
"""


@pytest.mark.slow
def test_a_running_agent_with_a_predicted_rule_forecasts_with_numpy_alone(tmp_path):
    # Drift (workbench.forecast) is the model; it must not bring statsmodels, scipy, pandas or sklearn (~130 MiB).
    loaded, modules = _run_agent(tmp_path, PREDICTED, ("pandas", "scipy", "statsmodels", "sklearn", "duckdb"))
    assert loaded == [], f"an agent with a predicted rule imported {loaded}"
    assert "workbench.forecast._baselines" in modules and "workbench.detect._predicted" in modules
