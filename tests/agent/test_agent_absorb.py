"""The agent absorbs its one-second L0 files itself, so readers of recent data open a handful of files.

Without it, every flush between two compaction children (300 s by default)
is one more file that every dashboard query must open (docs/benchmarks/agent.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from workbench.agent import read_status
from workbench.store import Store
from workbench.store._layout import Layout
from workbench.store._snapshot import take_snapshot

_SCRIPT = """
import json, sys
from workbench.agent import Agent
from workbench.config import load_config
cfg = load_config(sys.argv[1], home=sys.argv[2], host="h1")
summary = Agent(cfg, absorb_interval=float(sys.argv[3])).run(duration=float(sys.argv[4]), install_signals=False)
print(json.dumps({"written": summary.samples_written, "compactions": summary.compactions}))
"""

FANOUT = 4
ABSORB_S = 1.0
DURATION_S = 30.0
# What a reader may have to open at any time once the first absorb step has
# run: per chunk generation fewer than FANOUT files (c0, c1, c2 in 30 s), the
# L0 files of about one absorb interval, and the same again for the previous
# hour if the run crosses an hour boundary (its chunks wait for the full
# cycle). Without the agent's absorb step this is one file per second: 30.
MAX_FILES = 20


@pytest.mark.slow
def test_a_live_agents_home_never_makes_readers_open_more_than_a_few_files(tmp_path):
    home = tmp_path / "home"
    config = tmp_path / "workbench.toml"
    config.write_text(f"[store]\nfanout = {FANOUT}\n")  # compact_interval stays 300 s: no child in this run
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(config), str(home), str(ABSORB_S), str(DURATION_S)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    counts: list[tuple[float, int]] = []
    try:
        t0 = time.monotonic()
        while proc.poll() is None:
            time.sleep(0.2)
            if not (home / "hosts" / "h1").exists():
                continue
            counts.append((time.monotonic() - t0, len(take_snapshot(Layout(home)).raw())))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["compactions"] == 0, "a compaction child ran: this test is about the agent's own absorb step"

    settled = [n for t, n in counts if t >= 3 * ABSORB_S + 2]  # start-up, then the first absorb steps
    assert len(settled) > 50
    assert max(settled) <= MAX_FILES, f"readers had to open up to {max(settled)} files (limit {MAX_FILES})"

    status = read_status(home)[0]
    assert status["absorb"]["failures"] == 0, status["absorb"]["last_error"]
    assert status["absorb"]["absorbed"] >= DURATION_S * 0.5  # most one-second files went into chunks
    manifest = json.loads((home / "hosts" / "h1" / "manifest.json").read_text())
    assert any(f["level"] == "c1" for f in manifest["files"]), "chunks were never merged"
    # every sample written is read exactly once, from chunks and the last L0 files
    n = Store(home).sql("SELECT count(*) AS n FROM samples").n[0]
    assert n == summary["written"]
