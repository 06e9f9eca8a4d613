"""Build the shipped demo data set in ``data/demo/`` (re-runnable).

Two steps, each a subcommand:

``record``
    Runs the Workbench agent on this machine for ~20 minutes while a real
    workload runs in phases (CPU, disk I/O, memory, mixed, with idle gaps),
    into a scratch home (default ``/tmp/demo-rec``). The phase schedule is
    written next to it as ``phases.json``.

``build``
    Exports that recording (1 s raw samples, the most useful ~50 series) and
    maps the NAB ``realAWSCloudwatch`` series onto the data model, writing
    ``data/demo/workstation.parquet``, ``data/demo/cloudwatch.parquet``,
    ``data/demo/anomalies.json`` and ``data/demo/meta.json``.

Times in the shipped files are offsets (seconds before the end of the data
set), so ``workbench.demo.load_demo`` can place the history so that it ends
"now" whenever it is loaded.

Usage::

    .venv/bin/python scripts/make_demo_data.py record --home /tmp/demo-rec
    .venv/bin/python scripts/make_demo_data.py build  --home /tmp/demo-rec
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "data" / "demo"

# --------------------------------------------------------------------- record
# Each phase: (name, seconds). The workload code for each kind runs in child
# processes so that it loads the machine the way a real job would.
PHASES = [
    ("idle", 60),
    ("cpu", 180),
    ("idle", 90),
    ("io", 180),
    ("idle", 90),
    ("memory", 180),
    ("idle", 90),
    ("mixed", 210),
    ("idle", 120),
]

_CPU_WORK = r"""
import sys, time, zlib, numpy as np
end = time.time() + float(sys.argv[1]); kind = sys.argv[2]
rng = np.random.default_rng(int(sys.argv[3]))
if kind == "zlib":
    # Compress semi-compressible data (text-like: random words), as a backup job would.
    words = np.array([b"alpha", b"beta", b"gamma", b"delta", b"metric", b"host", b"42", b"\n"])
    data = b" ".join(rng.choice(words, 400_000).tolist())
    while time.time() < end:
        zlib.compress(data, 9)
else:
    a = rng.standard_normal((600, 600)); b = rng.standard_normal((600, 600))
    while time.time() < end:
        a = np.tanh(a @ b)
"""

_IO_WORK = r"""
import os, sys, time
end = time.time() + float(sys.argv[1]); path = sys.argv[2]
block = os.urandom(4 << 20)  # incompressible 4 MiB
while time.time() < end:
    with open(path, "wb") as fh:               # write 384 MiB, fsync every 32 MiB
        for i in range(96):
            fh.write(block)
            if i % 8 == 7:
                fh.flush(); os.fsync(fh.fileno())
            if time.time() > end: break
    fd = os.open(path, os.O_RDONLY)           # evict from the page cache so the read hits the disk
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    while os.read(fd, 4 << 20):
        pass
    os.close(fd)
    time.sleep(2)
os.unlink(path)
"""

_MEM_WORK = r"""
import sys, time, numpy as np
end = time.time() + float(sys.argv[1])
while time.time() < end:
    chunks = []
    for _ in range(16):                        # ramp to 2 GiB, 128 MiB at a time, touching every page
        chunks.append(np.ones(16 << 20, dtype=np.float64))
        time.sleep(1.5)
        if time.time() > end: break
    time.sleep(15)
    chunks.clear()                             # release
    time.sleep(15)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)])


def _run_phase(kind: str, seconds: float, scratch: Path) -> None:
    procs: list[subprocess.Popen] = []
    if kind == "cpu":
        procs = [_spawn(_CPU_WORK, seconds, "zlib", 1), _spawn(_CPU_WORK, seconds, "matmul", 2)]
    elif kind == "io":
        procs = [_spawn(_IO_WORK, seconds, scratch / "io-work.bin")]
    elif kind == "memory":
        procs = [_spawn(_MEM_WORK, seconds)]
    elif kind == "mixed":
        procs = [_spawn(_CPU_WORK, seconds, "matmul", 3), _spawn(_IO_WORK, seconds, scratch / "io-mixed.bin")]
    if not procs:
        time.sleep(seconds)
    for p in procs:
        p.wait()


def record(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    total = sum(s for _, s in PHASES)
    agent = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "--home", str(home), "agent", "--duration", str(total + 300)],
        cwd=REPO,
    )
    time.sleep(10)  # let the agent settle (its first CPU reading is a difference)
    schedule = []
    for name, seconds in PHASES:
        start = time.time()
        print(f"{time.strftime('%H:%M:%S')} phase {name} for {seconds}s", flush=True)
        _run_phase(name, seconds, home)
        schedule.append({"phase": name, "start": start, "end": time.time()})
        (home / "phases.json").write_text(json.dumps(schedule, indent=1))
    agent.send_signal(signal.SIGINT)  # graceful stop: the agent flushes everything first
    agent.wait()
    print(f"recorded into {home}; phases in {home / 'phases.json'}")


# ---------------------------------------------------------------------- build
WORKSTATION = "workstation"
TOP_PROCESSES = 5

# NAB file stem -> (host, metric, labels, converter to our unit). CloudWatch's
# basic monitoring reports one point per 5 minutes: CPUUtilization as a
# percentage (our collector emits a fraction 0..1), DiskWriteBytes, NetworkIn
# and RequestCount as sums over the 5-minute period (we emit per-second rates).
PERIOD_S = 300.0


def _nab_mapping(stem: str):
    """Map a realAWSCloudwatch file name to (host, [(metric, labels, fn)]) or None."""
    if stem.startswith(("ec2_cpu_utilization_", "rds_cpu_utilization_")):
        host = f"{stem[:3]}-{stem.rsplit('_', 1)[1]}"
        # CloudWatch gives busy time only; like our collector's cpu=total series,
        # we emit per-state fractions that sum to 1, with all busy time as user.
        return host, [
            ("system.cpu.utilization", "cpu=total,state=user", lambda v: v / 100.0),
            ("system.cpu.utilization", "cpu=total,state=idle", lambda v: 1.0 - v / 100.0),
        ]
    if stem.startswith("ec2_disk_write_bytes_"):
        host = f"ec2-{stem.rsplit('_', 1)[1]}"
        return host, [("system.disk.io", "device=total,direction=write", lambda v: v / PERIOD_S)]
    if stem.startswith("ec2_network_in_"):
        host = f"ec2-{stem.rsplit('_', 1)[1]}"
        return host, [("system.network.io", "device=total,direction=receive", lambda v: v / PERIOD_S)]
    if stem == "iio_us-east-1_i-a2eb1cd9_NetworkIn":
        return "ec2-a2eb1cd9", [("system.network.io", "device=total,direction=receive", lambda v: v / PERIOD_S)]
    if stem.startswith("elb_request_count_"):
        host = f"elb-{stem.rsplit('_', 1)[1]}"
        return host, [("app.http.requests", "", lambda v: v / PERIOD_S)]
    return None  # grok_asg_anomaly: NAB does not say which quantity it is


def _keep_series(series: pd.DataFrame) -> pd.DataFrame:
    """The ~60 most useful series of the recording (by metric and labels)."""
    from workbench.labels import parse_labels

    def want(metric: str, labels: str) -> bool:
        lab = parse_labels(labels)
        if metric == "system.cpu.utilization":
            states = ("user", "system", "idle", "iowait") + (("steal",) if lab["cpu"] == "total" else ())
            return lab["state"] in states
        if metric == "system.network.io":
            return lab.get("device") == "eth0"
        if metric.startswith("system.disk."):
            return lab.get("device") == "vda"
        if metric == "system.processes.count":
            return lab.get("status") in ("running", "sleeping", "idle")
        return metric in {
            "system.cpu.load_average.1m", "system.cpu.load_average.5m", "system.cpu.load_average.15m",
            "system.filesystem.utilization", "system.memory.limit", "system.memory.usage",
            "system.memory.utilization", "system.paging.usage", "system.pressure.stall",
            "workbench.agent.cpu.utilization", "workbench.agent.memory.rss",
        }

    return series[[want(m, lab) for m, lab in zip(series.metric, series.labels, strict=True)]]


def _machinery(labels: str) -> bool:
    """Processes of the sandbox that ran the recording: not part of the workload, never shipped."""
    return any(s in labels for s in ("binary_backend", "process_api", "/dev/fd/", "firecracker"))


def _workstation(home: Path) -> tuple[pd.DataFrame, dict]:
    from workbench.labels import format_labels, parse_labels
    from workbench.store import Store

    store = Store(home)
    raw = store.sql("SELECT ts, metric, labels, value FROM samples ORDER BY ts")
    series = raw[["metric", "labels"]].drop_duplicates()
    keep = _keep_series(series)
    # Top processes: the 5 with the most CPU time over the recording, then their
    # memory too. The cmdline label is dropped: it may carry paths and arguments
    # of whatever else ran on the machine; name and pid identify the series.
    proc = raw[raw.metric == "process.cpu.utilization"]
    proc = proc[~proc.labels.map(_machinery)]
    top = proc.groupby("labels").value.sum().nlargest(TOP_PROCESSES).index
    pids = {parse_labels(x)["pid"] for x in top}

    def proc_key(labels: str) -> str | None:
        lab = parse_labels(labels)
        if lab.get("pid") not in pids or _machinery(labels):
            return None
        lab.pop("cmdline", None)
        return format_labels(lab)

    procs = raw[raw.metric.isin(["process.cpu.utilization", "process.memory.usage"])].copy()
    procs["labels"] = procs.labels.map(proc_key)
    procs = procs.dropna(subset=["labels"])
    base = raw.merge(keep, on=["metric", "labels"])
    df = pd.concat([base, procs], ignore_index=True)
    end = raw.ts.max()
    out = pd.DataFrame({
        "offset_ms": ((df.ts - end).dt.total_seconds() * 1000).round().astype("int64"),
        "metric": df.metric, "labels": df.labels, "value": df.value,
    }).sort_values(["metric", "labels", "offset_ms"], ignore_index=True)
    phases = json.loads((home / "phases.json").read_text()) if (home / "phases.json").exists() else []
    end_s = end.timestamp()
    meta = {
        "recorded_end_utc": end.isoformat(),
        # The agent may stop a little before the last (idle) phase does: clip to the recording.
        "phases": [{"phase": p["phase"], "start_offset_s": round(p["start"] - end_s, 1),
                    "end_offset_s": round(min(p["end"] - end_s, 0.0), 1)} for p in phases if p["start"] < end_s],
        "catalog": store.metrics().set_index("name").loc[sorted(out.metric.unique())].reset_index()
        .to_dict(orient="records"),
    }
    return out, meta


def _undo_dst_pileup(csv: pd.DataFrame, name: str) -> pd.DataFrame:
    """Put rows that share one timestamp back on the series' grid, or refuse.

    Two NAB files (``ec2_disk_write_bytes_1ef3de``, ``ec2_network_in_5abac7``)
    hold 12 rows stamped ``2014-03-09 03:00:00``, the moment US clocks went
    from 02:00 to 03:00: the readings of the hour that local time skipped were
    clamped to its end. Before them the series stops 65 minutes early
    (01:59, resp. 01:56) and after them it goes on at 03:04 (03:01): the 12
    rows fill, in file order, exactly the 12 five-minute slots of that gap, so
    they are put back there. Anything else that repeats a timestamp is an error.
    """
    ts = csv.timestamp
    if not ts.duplicated().any():
        return csv
    step = ts.diff().mode()[0]
    out = csv.copy()
    for t in ts[ts.duplicated()].unique():
        idx = csv.index[ts == t]
        contiguous = list(idx) == list(range(idx[0], idx[0] + len(idx)))
        prev, nxt = (ts[idx[0] - 1], ts[idx[-1] + 1]) if 0 < idx[0] and idx[-1] + 1 < len(ts) else (None, None)
        if not contiguous or prev is None or nxt != prev + (len(idx) + 1) * step:
            raise SystemExit(f"{name}: {len(idx)} rows at {t} do not fill a gap of the {step} grid; "
                             "look at the file before shipping it")
        out.loc[idx, "timestamp"] = pd.date_range(prev + step, periods=len(idx), freq=step)
        print(f"{name}: {len(idx)} rows stamped {t} put back at {prev + step}..{nxt - step} (every {step})")
    return out


def _cloudwatch(nab: Path) -> tuple[pd.DataFrame, list[dict], dict]:
    windows = json.loads((nab / "labels" / "combined_windows.json").read_text())
    frames, anomalies, hosts = [], [], {}
    for path in sorted((nab / "data" / "realAWSCloudwatch").glob("*.csv")):
        mapped = _nab_mapping(path.stem)
        if mapped is None:
            continue
        host, outputs = mapped
        csv = _undo_dst_pileup(pd.read_csv(path, parse_dates=["timestamp"]), path.name)
        end = csv.timestamp.max()
        offset_ms = ((csv.timestamp - end).dt.total_seconds() * 1000).astype("int64")
        for metric, labels, fn in outputs:
            frames.append(pd.DataFrame({"host": host, "offset_ms": offset_ms, "metric": metric,
                                        "labels": labels, "value": fn(csv.value.astype("float64"))}))
        metric, labels, _ = outputs[0]
        for w0, w1 in windows.get(f"realAWSCloudwatch/{path.name}", []):
            anomalies.append({
                "host": host, "metric": metric, "labels": labels,
                "start_offset_s": (pd.Timestamp(w0) - end).total_seconds(),
                "end_offset_s": (pd.Timestamp(w1) - end).total_seconds(),
                "nab_file": f"realAWSCloudwatch/{path.name}",
            })
        hosts[host] = {"nab_file": f"realAWSCloudwatch/{path.name}", "original_start_utc": csv.timestamp.min().isoformat(),
                       "original_end_utc": end.isoformat(), "points": len(csv)}
    df = pd.concat(frames, ignore_index=True).sort_values(["host", "metric", "labels", "offset_ms"], ignore_index=True)
    return df, anomalies, hosts


def _write(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd", compression_level=19,
                   use_dictionary=[c for c in ("host", "metric", "labels") if c in df.columns],
                   column_encoding={"offset_ms": "DELTA_BINARY_PACKED"})


def build(home: Path, nab: Path, *, cloudwatch_only: bool = False) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if cloudwatch_only:  # keep the shipped recording (it cannot be made again)
        ws = pq.read_table(OUT / "workstation.parquet").to_pandas()
        ws_part = json.loads((OUT / "meta.json").read_text())["workstation"]
    else:
        ws, ws_meta = _workstation(home)
        ws_part = {"host": WORKSTATION, "samples": len(ws), "series": int(ws.groupby(["metric", "labels"]).ngroups),
                   **ws_meta}
        _write(ws, OUT / "workstation.parquet")
    cw, anomalies, cw_hosts = _cloudwatch(nab)
    _write(cw, OUT / "cloudwatch.parquet")
    (OUT / "anomalies.json").write_text(json.dumps(anomalies, indent=1) + "\n")
    meta = {
        "workstation": ws_part,
        "cloudwatch": {"samples": len(cw), "hosts": {h: {**v, "samples": int((cw.host == h).sum())}
                                                      for h, v in cw_hosts.items()}},
    }
    (OUT / "meta.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    for p in sorted(OUT.iterdir()):
        print(f"{p.name:24s} {p.stat().st_size:>10,d} bytes")
    print(f"workstation: {len(ws):,} samples in {meta['workstation']['series']} series; "
          f"cloudwatch: {len(cw):,} samples on {len(cw_hosts)} hosts; {len(anomalies)} anomaly windows")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="record this machine under a phased workload (~20 min)")
    r.add_argument("--home", type=Path, default=Path("/tmp/demo-rec"))
    b = sub.add_parser("build", help="write data/demo/ from the recording and the NAB series")
    b.add_argument("--home", type=Path, default=Path("/tmp/demo-rec"))
    shared = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
    b.add_argument("--nab", type=Path, default=shared / "nab")
    b.add_argument("--cloudwatch-only", action="store_true",
                   help="rebuild only the CloudWatch files, keeping the shipped workstation recording")
    args = p.parse_args(argv)
    if args.cmd == "record":
        record(args.home)
    else:
        build(args.home, args.nab, cloudwatch_only=args.cloudwatch_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
