"""Fixtures: the full demo loaded once, and a small copy of the shipped files.

The small copy (the workstation recording and two CloudWatch hosts) is written
from the shipped files themselves and selected with ``WORKBENCH_DEMO_DATA``,
the same override users have, so the CLI and reload tests stay fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.demo import demo_dir, load_demo

SMALL_HOSTS = ("ec2-825cc2", "elb-8c0756")


@pytest.fixture(scope="session")
def shipped() -> dict:
    src = demo_dir()
    return {
        "workstation": pq.read_table(src / "workstation.parquet").to_pandas(),
        "cloudwatch": pq.read_table(src / "cloudwatch.parquet").to_pandas(),
        "anomalies": json.loads((src / "anomalies.json").read_text()),
        "meta": json.loads((src / "meta.json").read_text()),
    }


@pytest.fixture(scope="session")
def loaded(tmp_path_factory) -> dict:
    """The whole demo in one home, compacted as ``workbench demo`` leaves it.

    Compaction seals each closed day in one pass (about ten seconds for the
    whole set here), so the tests read the files users get: day files,
    rollups, and raw samples past retention expired.
    """
    home = tmp_path_factory.mktemp("demo-home")
    before = pd.Timestamp.now("UTC")
    n = load_demo(home)
    return {"home": home, "samples": n, "before": before, "after": pd.Timestamp.now("UTC")}


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory, shipped) -> Path:
    """A copy of data/demo with the workstation and the last two days of SMALL_HOSTS.

    Loading it (compacted or not) takes a few seconds, which keeps the CLI
    and reload tests fast.
    """
    out = tmp_path_factory.mktemp("small-demo")
    shutil.copy(demo_dir() / "workstation.parquet", out / "workstation.parquet")
    cw = shipped["cloudwatch"]
    pq.write_table(pa.Table.from_pandas(cw[cw.host.isin(SMALL_HOSTS) & (cw.offset_ms >= -2 * 86400 * 1000)], preserve_index=False),
                   out / "cloudwatch.parquet")
    meta = json.loads(json.dumps(shipped["meta"]))
    meta["cloudwatch"]["hosts"] = {h: v for h, v in meta["cloudwatch"]["hosts"].items() if h in SMALL_HOSTS}
    (out / "meta.json").write_text(json.dumps(meta))
    (out / "anomalies.json").write_text(json.dumps([a for a in shipped["anomalies"] if a["host"] in SMALL_HOSTS]))
    return out

