"""Damaged files: truncated, undecodable, or decoding to garbage.

The damage is real bytes changed in real Parquet files written by the store.
Where it lands is found from the file's own metadata (the ``value`` column's
data page), so the tests hit values, not padding or statistics.
"""

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from workbench.store import CompactionPolicy, Compactor, Store, StoreWarning

T0 = pd.Timestamp("2026-11-20T00:00:00Z")
METRIC = "system.cpu.utilization"


def _frame(n, start=T0, seed=0):
    # Random doubles do not compress: zstd stores such pages as raw blocks,
    # so flipped bytes in them decode without error, as garbage values.
    rng = np.random.default_rng(seed)
    ts = start + pd.to_timedelta(np.arange(n), unit="s")
    return pd.DataFrame({"ts": ts, "metric": METRIC, "labels": "cpu=0", "value": rng.normal(50, 10, n)})


def _compact(store, now, **policy):
    comp = Compactor(store.layout, store.host, CompactionPolicy(**policy), clock=lambda: int(now.value // 1000))
    try:
        return comp.run_once()
    finally:
        comp.close()


def _value_pages(path: Path) -> tuple[int, int]:
    """Offset and compressed size of the ``value`` column chunk of the first row group."""
    md = pq.ParquetFile(path).metadata
    rg = md.row_group(0)
    col = next(rg.column(i) for i in range(rg.num_columns) if rg.column(i).path_in_schema == "value")
    assert col.dictionary_page_offset is None  # values are PLAIN: the chunk starts with its data page
    return col.data_page_offset, col.total_compressed_size


def damage(path: Path, how: str) -> None:
    """Damage ``path`` in place: ``truncate``, ``header`` (the value page's header) or ``values`` (its data)."""
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
        return
    offset, size = _value_pages(path)
    start, n = (offset, 6) if how == "header" else (offset + size // 2, 16)
    for i in range(start, start + n):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _host_dir(store):
    return store.home / "hosts" / store.host


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "home", host="h1")


@pytest.fixture
def sealed_and_fresh(store):
    """A sealed hour file (3,600 samples) and an L0 file (100 samples) of another hour."""
    store.append(_frame(3600))
    _compact(store, T0 + pd.Timedelta("3h"))
    fresh = _frame(100, start=T0 + pd.Timedelta("2h"), seed=1)
    store.append(fresh)
    (hour,) = sorted((_host_dir(store) / "raw").glob("h-*.parquet"))
    return hour, fresh


def test_garbage_values_case_really_decodes_without_error(tmp_path, store):
    # The premise of the "garbage values" tests: a plain decoder does not notice.
    store.append(_frame(3600))
    (l0,) = (_host_dir(store) / "incoming").glob("*.parquet")
    before = pq.ParquetFile(l0).read().column("value").to_numpy()
    damage(l0, "values")
    after = pq.ParquetFile(l0).read().column("value").to_numpy()
    assert (before != after).sum() >= 2


@pytest.mark.parametrize("how", ["truncate", "header"])
def test_a_file_that_fails_to_decode_is_quarantined_and_the_query_answers_from_the_rest(store, sealed_and_fresh, how):
    hour, fresh = sealed_and_fresh
    damage(hour, how)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = store.sql("select count(*) n, sum(value) s from samples")
    assert got.n[0] == 100 and got.s[0] == pytest.approx(fresh.value.sum())
    assert any(issubclass(w.category, StoreWarning) and hour.name in str(w.message) for w in caught)
    (bad,) = got.attrs["damaged_files"]
    assert bad["path"] == str(hour) and bad["action"] == "quarantined" and bad["reason"]
    assert not hour.exists() and len(store.quarantined()) == 1
    # every reader entry point keeps answering
    assert len(store.query(METRIC)) == 100
    assert store.sql("select sum(count) n from samples_1m").n[0] == 3600 + 100  # the hour's rollups are intact


# -- compaction never merges damage into what it writes -----------------------------------------

@pytest.mark.parametrize("how", ["values", "header"])
@pytest.mark.parametrize("target", ["chunk", "l0"])
def test_compaction_verifies_inputs_and_never_rolls_up_garbage(store, target, how):
    first = _frame(1800)
    store.append(first)
    if target == "chunk":
        _compact(store, T0 + pd.Timedelta("40min"))  # hour still open: absorbed into a chunk, not rolled up
        (victim,) = (_host_dir(store) / "raw").glob("c0-*.parquet")
    else:
        (victim,) = (_host_dir(store) / "incoming").glob("*.parquet")
    rest = _frame(3600, start=T0 + pd.Timedelta("1h"), seed=2)
    store.append(rest)
    damage(victim, how)
    rep = _compact(store, T0 + pd.Timedelta("1D3h"))  # the day is closed: sealed with its rollups
    assert any(victim.name in q for q in rep.quarantined)
    for view, n, s, hi in (("samples", "count(*)", "sum(value)", "max(value)"),
                           ("samples_1m", "sum(count)", "sum(sum)", "max(max)"),
                           ("samples_1h", "sum(count)", "sum(sum)", "max(max)")):
        got = store.sql(f"select {n} n, {s} s, {hi} hi from {view}")  # noqa: S608 - test constants
        assert got.n[0] == len(rest), view
        assert got.s[0] == pytest.approx(rest.value.sum()), view
        assert got.hi[0] == rest.value.max(), view


# -- workbench verify -------------------------------------------------------------------------

def _cli(home, *args, env=None):
    return subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_verify_passes_a_clean_home(store, sealed_and_fresh):
    store.append_records("task_runs", pd.DataFrame({"id": [1], "state": ["done"]}))
    r = _cli(store.home, "verify")
    assert r.returncode == 0, r.stderr
    assert "no damage" in r.stdout
    assert "checked 5 files" in r.stdout  # the raw hour, its 1 min and 1 h rollups, the L0 file, the record file


@pytest.mark.parametrize("how", ["values", "header", "truncate"])
def test_verify_names_each_damaged_file_and_exits_non_zero(store, sealed_and_fresh, how):
    hour, _ = sealed_and_fresh
    (minute,) = (_host_dir(store) / "1m").glob("*.parquet")
    damage(hour, how)
    damage(minute, "truncate")
    r = _cli(store.home, "verify")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"h1/raw/{hour.name}" in r.stdout and f"h1/1m/{minute.name}" in r.stdout
    assert "2 damaged" in r.stdout
    assert "workbench verify --quarantine" in r.stdout
    assert hour.exists()  # verify alone changes nothing
    r = _cli(store.home, "verify", "--quarantine")
    assert r.returncode == 1 and "quarantined" in r.stdout
    assert not hour.exists() and len(store.quarantined()) == 2
    r = _cli(store.home, "verify")
    assert r.returncode == 0, r.stdout
    assert store.sql("select count(*) n from samples").n[0] == 100


# -- a read-only home -------------------------------------------------------------------------

def _read_only(home: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` with ``home`` bind-mounted read-only over itself (a user namespace: no root needed)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs util-linux unshare to mount the home read-only")
    probe = subprocess.run([unshare, "--user", "--map-root-user", "--mount", "sh", "-c",
                            f"mount --bind -o ro '{home}' '{home}' && ! touch '{home}/.probe' 2>/dev/null"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot bind-mount read-only here: {probe.stderr.strip()}")
    script = f"mount --bind -o ro '{home}' '{home}' && exec \"$@\""
    return subprocess.run([unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", *argv],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "default"})


_READER = """
import json, sys, warnings
from workbench.store import Store
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    s = Store(sys.argv[1])
    df = s.sql("select count(*) n, sum(value) s from samples")
    q = s.query("system.cpu.utilization")
print(json.dumps({"n": int(df.n[0]), "s": float(df.s[0]), "rows": len(q), "attrs": df.attrs,
                  "qattrs": q.attrs, "warnings": [str(x.message) for x in w]}))
"""


@pytest.mark.parametrize("how", ["truncate", "header"])
def test_a_read_only_home_with_a_bad_file_is_read_by_skipping_it(store, sealed_and_fresh, how):
    hour, fresh = sealed_and_fresh
    damage(hour, how)
    r = _read_only(store.home, [sys.executable, "-c", _READER, str(store.home)])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 100 and out["s"] == pytest.approx(fresh.value.sum()) and out["rows"] == 100
    for attrs in (out["attrs"], out["qattrs"]):
        (bad,) = attrs["damaged_files"]
        assert bad["path"] == str(hour) and bad["action"] == "skipped"
    assert any(hour.name in w and "read-only" in w for w in out["warnings"])
    assert hour.exists() and not (store.home / "quarantine").exists()  # nothing was changed
    # the command line: answers, and says so on stderr
    r = _read_only(store.home, [sys.executable, "-m", "workbench.cli", "--home", str(store.home),
                                "sql", "select count(*) as n, sum(value) > 0 as decoded from samples", "--format", "csv"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["n,decoded", "100,True"]  # (count(*) alone never decodes a value page)
    assert hour.name in r.stderr and "read-only" in r.stderr
    assert "Traceback" not in r.stderr
    # where the home is writable, the owner quarantines it
    r = _cli(store.home, "verify", "--quarantine")
    assert r.returncode == 1 and not hour.exists()
