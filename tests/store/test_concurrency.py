"""Readers stay exact while another process writes and a third compacts."""

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from workbench.store import Store

BATCH = 50

WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np, pandas as pd
    from workbench.store import Store
    home, n, batch, recent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "recent"
    s = Store(home, host="h1")
    base = pd.Timestamp.now("UTC").floor("D") - pd.Timedelta("3D")
    for i in range(n):
        if recent:  # as the agent writes: this second, open hours only
            ts = pd.Timestamp.now("UTC") + pd.to_timedelta(np.arange(batch), unit="ms")
        else:  # a backlog: closed hours and days
            ts = base + pd.Timedelta(minutes=10 * i) + pd.to_timedelta(np.arange(batch), unit="s")
        s.append(pd.DataFrame({"ts": ts, "metric": "test.batch", "labels": "", "value": float(i)}))
        time.sleep(0.01)
    """
)

COMPACTOR = textwrap.dedent(
    """
    import sys, time
    from workbench.store import Compactor, CompactionPolicy, Layout
    from pathlib import Path
    home, seconds, mixed = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "mixed"
    c = Compactor(Layout(Path(home).resolve()), "h1", CompactionPolicy(fanout=3, seal_delay_s=0, grace_s=0.2))
    end = time.time() + seconds
    cycles = 0
    while time.time() < end:
        # "mixed" is the agent's schedule: light absorb steps, now and then a full cycle,
        # one after the other on one thread.
        if mixed and cycles % 5:
            c.absorb_once()
        else:
            c.run_once()
        cycles += 1
        time.sleep(0.02)
    print(cycles)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(("data", "schedule"), [("backlog", "full"), ("recent", "mixed")])
def test_reader_never_sees_a_sample_twice_or_misses_one_during_compaction(tmp_path, data, schedule):
    home = tmp_path / "home"
    n_batches = 300
    Store(home, host="h1").append(
        pd.DataFrame({"ts": [pd.Timestamp.now("UTC").floor("D") - pd.Timedelta("4D")], "metric": ["test.batch"], "value": [-1.0]})
    )  # creates the catalogue entry before readers start
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(home), str(n_batches), str(BATCH), data])
    compactor = subprocess.Popen([sys.executable, "-c", COMPACTOR, str(home), "12", schedule], stdout=subprocess.PIPE,
                                 text=True)
    reader = Store(home)
    checks = 0
    last = 0
    q = """
        select (select count(*) from samples where value >= 0) as n,
               (select count(distinct value) from samples where value >= 0) as batches,
               (select coalesce(max(value), -1) from samples) as top,
               (select sum(count) from samples_1m where metric = 'test.batch') - 1 as rolled
    """
    try:
        while writer.poll() is None or checks < 20:
            row = reader.sql(q).iloc[0]
            n, batches, top, rolled = int(row.n), int(row.batches), int(row.top), int(row.rolled)
            assert n == batches * BATCH, f"a batch was split or doubled: {n} rows in {batches} batches"
            assert batches == top + 1, f"batches missing below {top}: saw {batches}"
            assert rolled == n, f"1 min rollups ({rolled}) disagree with raw ({n}) in one snapshot"
            assert n >= last, "a sample disappeared"
            last = n
            checks += 1
    finally:
        writer.wait(60)
    cycles = int(compactor.communicate(timeout=60)[0])
    final = reader.sql("select count(*) n from samples where value >= 0").n[0]
    assert final == n_batches * BATCH
    assert checks > 50 and cycles > 10
    manifest = (home / "hosts" / "h1" / "manifest.json").read_text()
    if data == "backlog":  # compaction really happened: hours and days were sealed while we read
        assert '"level":"day"' in manifest
    else:  # the light steps absorbed L0 files into chunks and merged chunks (fanout 3) while we read
        levels = {f["level"] for f in json.loads(manifest)["files"]}
        assert any(lv.startswith("c") and lv != "c0" for lv in levels), f"no merged chunk: {levels}"
