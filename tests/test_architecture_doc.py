"""The plug-in examples of docs/architecture.md run as written, and do what the page says.

They run in a child interpreter: each registers a plug-in in a global registry,
which must not leak into the contract suites of this process.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

CHECK = textwrap.dedent("""
    import time
    import numpy as np, pandas as pd
    from workbench.collect import registry
    from workbench.detect import Notification, make_detector, score_series
    from workbench.detect._live import router_from_config
    from workbench.errors import ParameterError
    from workbench.execute import ThrottledExecutor
    from workbench.forecast import make_forecaster

    y = pd.Series(np.random.default_rng(0).normal(50, 5, 200), index=pd.date_range("2026", periods=200, freq="h"))
    assert list(make_forecaster("mean").fit(y).predict(3).columns) == ["mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    try:
        make_forecaster("mean", window=0).fit(y)
        raise AssertionError("window=0 was accepted")
    except ParameterError as exc:
        assert "MeanForecaster(window=...) must be an integer of at least 1; got 0." in str(exc)
    scores = score_series(make_detector("zscore"), y)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert [s.metric for s in registry.create("gpu").collect()] == ["gpu.utilization"]
    router = router_from_config({"channels": {"ops": {"kind": "pager", "service": "db"}}})
    note = Notification(event="firing", rule="r", severity="warning",
                        alerts=({"host": "h", "metric": "m", "labels": "", "value": 1.0, "ts": time.time()},))
    assert router.send(note) == ["ops"]
    with ThrottledExecutor(backend="inline", max_workers=2) as ex:
        assert ex.submit(lambda: 6 * 7).result() == 42
    print("ok")
""")


def test_every_python_example_runs_and_the_plugins_work():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 5, "one example each: collector, model, detector, channel, backend"
    script = "\n".join(blocks) + "\n" + CHECK
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_the_entry_point_groups_named_are_the_registries_groups():
    from workbench.collect import registry
    from workbench.detect._registry import channels, detectors
    from workbench.execute._backends import backends
    from workbench.forecast._registry import forecasters

    text = DOC.read_text(encoding="utf-8")
    for reg in (registry, detectors, channels, backends, forecasters):
        assert f"`{reg.group}`" in text, reg.group
