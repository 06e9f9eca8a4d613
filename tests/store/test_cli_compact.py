"""`workbench compact`: every host it may, or those named, and it says what it did."""

import re
import subprocess
import sys

import pandas as pd
import pytest

from workbench.store import HostLock, Store

T0 = pd.Timestamp.now("UTC").floor("D") - pd.Timedelta("3D")


def _cli(home, *args):
    return subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(home), "compact", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    for h in ("h1", "h2", "busy"):
        df = pd.DataFrame({"ts": T0 + pd.to_timedelta(range(0, 7200, 10), unit="s"), "metric": "app.x",
                           "value": 1.0})
        Store(home, host=h).append(df)
    return home


def _absorbed(store: Store, host: str) -> int:
    return len(list((store.layout.host_dir(host) / "raw").glob("*.parquet")))


def test_compact_does_every_host_whose_agent_is_not_running_and_says_so(home):
    store = Store(home)
    with HostLock(store.layout, "busy", purpose="agent"):
        r = _cli(home)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^h1: 1 new files absorbed, 2 hours sealed, 1 days sealed", out, re.M), out
    assert re.search(r"^h2: 1 new files absorbed", out, re.M), out
    assert re.search(r"^busy: skipped: its agent \(pid \d+ on .+\) holds the host lock", out, re.M), out
    assert "compacted 2 of 3 host(s)" in out and "skipped 1 whose agent is running (busy)" in out
    assert _absorbed(store, "h1") and _absorbed(store, "h2") and not _absorbed(store, "busy")
    r = _cli(home, "--all")
    assert r.returncode == 0 and "busy: 1 new files absorbed" in r.stdout
    assert "h1: nothing to do" in r.stdout or "h1: 1 retired files deleted" in r.stdout


def test_compact_host_compacts_only_that_host_and_fails_when_its_agent_runs(home):
    store = Store(home)
    r = _cli(home, "--host", "h2")
    assert r.returncode == 0 and r.stdout.startswith("h2: 1 new files absorbed"), r.stdout
    assert "h1" not in r.stdout and not _absorbed(store, "h1")
    with HostLock(store.layout, "busy", purpose="agent"):
        r = _cli(home, "--host", "busy")
    assert r.returncode == 1 and "busy: skipped" in r.stdout
    r = _cli(home, "--host", "nosuch")
    assert r.returncode == 2
    assert "No host 'nosuch'" in r.stderr and "busy, h1, h2" in r.stderr and "`workbench compact`" in r.stderr
