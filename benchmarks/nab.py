"""NAB benchmark for workbench.detect detectors.

Two halves, usable separately on any NAB-layout folder::

    python benchmarks/nab.py detect --data DIR --detector NAME --out OUT
    python benchmarks/nab.py score --data DIR --windows FILE --results OUT

``detect`` runs one detector over every ``DIR/<category>/<file>.csv`` (one
pass, in order, no look-ahead) and writes ``OUT/<category>/<file>.csv`` with
``timestamp,value,anomaly_score``. ``score`` applies NAB's rules (our own
scorer, ``workbench.detect.score_nab``) and prints the three profiles; the
last line is ``standard=... reward_low_FP_rate=... reward_low_FN_rate=...``.

``python benchmarks/nab.py all`` runs every registered detector over the
shared reference data and prints our figures beside the published ones.
``python benchmarks/nab.py sensitivity`` reruns the default detector with one
parameter changed at a time, to show how sharp the chosen parameter set is.
``python benchmarks/nab.py cost`` measures memory per watched series and CPU
per sample of live use, beside a plain rolling z-score in the same run;
``cost --against REV`` also times the default of another git revision and of
this tree alternately and prints the ratio (the figure a busy machine keeps).
``python benchmarks/nab.py folds`` measures generalisation: leave one NAB
category out, choose the parameters (from the small grid ``FOLD_GRID``, by
the standard profile) and each profile's threshold on the other categories,
score the held-out one, and print that held-out score beside the in-sample
one (parameters and thresholds chosen on all 30 files, the held-out category
included); for the default and, as the peer in the same run, a robust rolling
z-score (``mad``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

from workbench.detect import DETECTORS, make_detector, score_nab, score_series

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))

#: Published detectors' own outputs scored on the 30 files in ../shared/data/nab
#: (from ../shared/data/README.md): standard / low FP / low FN.
PUBLISHED_30 = {
    "ARTime": (67.9, 58.0, 73.8),
    "Numenta HTM": (67.0, 61.2, 71.4),
    "CAD OSE": (62.6, 57.5, 66.6),
    "KNN CAD": (53.7, 41.5, 60.0),
    "Windowed Gaussian": (22.0, 4.9, 29.8),
}
UNIVARIATE = ["default", "surprise", "mad", "residual"]


def _files(data: Path) -> list[Path]:
    files = sorted(data.glob("*/*.csv"))
    if not files:
        raise SystemExit(f"No NAB files found under {data} (expected DIR/<category>/<file>.csv).")
    return files


def detect(data: Path, detector: str, out: Path, **params) -> float:
    """Run ``detector`` (built with ``params``) over every file; return the seconds spent detecting."""
    spent = 0.0
    for path in _files(data):
        frame = pd.read_csv(path)
        series = pd.Series(frame["value"].to_numpy(float), index=pd.to_datetime(frame["timestamp"]))
        det = make_detector(detector, **params)
        t0 = time.perf_counter()
        scores = score_series(det, series)
        spent += time.perf_counter() - t0
        target = out / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.assign(anomaly_score=scores.to_numpy()).to_csv(target, index=False)
    return spent


def score(data: Path, windows_file: Path, results: Path, quiet: bool = False) -> dict:
    windows = json.loads(Path(windows_file).read_text())
    files = {}
    for path in _files(data):
        key = f"{path.parent.name}/{path.name}"
        res = pd.read_csv(results / key)
        files[key] = (pd.to_datetime(res["timestamp"]).to_numpy(), res["anomaly_score"].to_numpy(float))
    out = score_nab(files, windows)
    if quiet:
        return out
    for name, s in out.items():
        print(
            f"{name:20s} score={s.normalized:6.2f} threshold={s.threshold:.4f} "
            f"tp={s.tp} fp={s.fp} fn={s.fn} raw={s.raw:.3f} null={s.null:.3f} perfect={s.perfect:.1f}"
        )
    print(" ".join(f"{name}={s.normalized:.2f}" for name, s in out.items()))
    return out


def _rolling_z_baseline(data: Path, out: Path, window: int = 288) -> None:
    """Peer measured in the same run: a plain rolling z-score (pandas), no look-ahead."""
    for path in _files(data):
        frame = pd.read_csv(path)
        s = frame["value"].astype(float)
        mean = s.rolling(window, min_periods=20).mean().shift(1)
        sd = s.rolling(window, min_periods=20).std().shift(1)
        z = ((s - mean).abs() / sd).fillna(0.0)
        target = out / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.assign(anomaly_score=(z / (z + 5.0)).to_numpy()).to_csv(target, index=False)


def run_all(out_root: Path) -> None:
    data = SHARED / "nab" / "data"
    windows = SHARED / "nab" / "labels" / "combined_windows.json"
    rows = []
    for name in UNIVARIATE:
        t0 = time.perf_counter()
        spent = detect(data, name, out_root / name)
        print(f"\n== {name} ({type(make_detector(name)).__name__}) detect {spent:.1f}s")
        s = score(data, windows, out_root / name)
        total = time.perf_counter() - t0
        rows.append((f"workbench {name}", *(s[p].normalized for p in s), total))
    t0 = time.perf_counter()
    _rolling_z_baseline(data, out_root / "rolling_z")
    print("\n== rolling z-score baseline (peer, same run)")
    s = score(data, windows, out_root / "rolling_z")
    rows.append(("rolling z-score (peer)", *(s[p].normalized for p in s), time.perf_counter() - t0))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load average {load}")
    print("Detector                      standard  low_FP  low_FN   wall s")
    for name, a, b, c, t in rows:
        print(f"{name:28s} {a:8.1f} {b:7.1f} {c:7.1f} {t:8.1f}")
    for name, (a, b, c) in PUBLISHED_30.items():
        print(f"{name + ' (published)':28s} {a:8.1f} {b:7.1f} {c:7.1f}        -")


#: one change at a time from the default parameters (``EnsembleDetector``)
SENSITIVITY = [
    {},
    {"rest_period": 0},
    {"rest_period": 150},
    {"rest_period": 250},
    {"rest_level": 0.25},
    {"rest_level": 0.35},
    {"recurrence_days": 0},
    {"recurrence_ratio": 1.0},
    {"recurrence_ratio": 3.0},
    {"recurrence_days": 2},
    {"suppress": 150},
    {"calibration_halflife": 10000},
    {"memory": 5000},
    {"slow_stride": 6},
    {"window": 1000},
]


def run_sensitivity(out_root: Path) -> None:
    data = SHARED / "nab" / "data"
    windows = SHARED / "nab" / "labels" / "combined_windows.json"
    print("default detector, one parameter changed   standard  low_FP  low_FN  detect s")
    for params in SENSITIVITY:
        spent = detect(data, "default", out_root / "sensitivity", **params)
        s = score(data, windows, out_root / "sensitivity", quiet=True)
        label = ", ".join(f"{k}={v}" for k, v in params.items()) or "(as shipped)"
        print(f"{label:40s} {s['standard'].normalized:9.1f} {s['reward_low_FP_rate'].normalized:7.1f} "
              f"{s['reward_low_FN_rate'].normalized:7.1f} {spent:9.1f}", flush=True)


#: the parameters that matter (docs/benchmarks/detect.md, sensitivity), a few values each;
#: ``folds`` runs the detector once per combination over the 30 files (~10-20 s each)
FOLD_GRID: dict[str, dict[str, list]] = {
    "default": {"calibration_halflife": [2500, 10000], "rest_period": [150, 200], "rest_level": [0.3, 0.35],
                "suppress": [0, 150]},
    # the peer measured in the same run: a robust rolling z-score, its window chosen the same way
    "mad": {"window": [96, 288, 1000]},
}
#: detectors ``folds`` runs by default: ours, then the peer
FOLD_DETECTORS = ("default", "mad")


def _grid(axes: dict[str, list]) -> list[dict]:
    combos = [{}]
    for name, values in axes.items():
        combos = [c | {name: v} for c in combos for v in values]
    return combos


def _scores(data: Path, detector: str, params: dict) -> dict[str, tuple]:
    """``{category/file.csv: (timestamps, scores)}`` for every file, in memory."""
    out = {}
    for path in _files(data):
        frame = pd.read_csv(path)
        ts = pd.to_datetime(frame["timestamp"])
        series = pd.Series(frame["value"].to_numpy(float), index=ts)
        out[f"{path.parent.name}/{path.name}"] = (ts.to_numpy(), score_series(make_detector(detector, **params), series).to_numpy())
    return out


def _pooled(parts: list) -> float:
    """Normalised score of several disjoint file sets, each scored at its own threshold."""
    raw = sum(p.raw for p in parts)
    null = sum(p.null for p in parts)
    perfect = sum(p.perfect for p in parts)
    return 100.0 * (raw - null) / (perfect - null)


def run_folds(detector: str = "default", axes: dict[str, list] | None = None,
              data: Path | None = None, windows_file: Path | None = None) -> dict:
    """Leave-one-category-out: parameters and threshold chosen without the held-out category."""
    data = SHARED / "nab" / "data" if data is None else Path(data)
    windows_file = SHARED / "nab" / "labels" / "combined_windows.json" if windows_file is None else windows_file
    windows = json.loads(Path(windows_file).read_text())
    grid = _grid(FOLD_GRID.get(detector, {}) if axes is None else axes)
    t0 = time.perf_counter()
    runs = []
    for params in grid:
        t1 = time.process_time()
        runs.append((params, _scores(data, detector, params)))
        print(f"ran {detector} {params or '(defaults)'}: {time.process_time() - t1:.1f} s CPU", flush=True)
    keys = sorted(runs[0][1])
    categories = sorted({k.split("/")[0] for k in keys})
    profiles = list(score_nab({keys[0]: runs[0][1][keys[0]]}, windows))

    def pick(subset):
        """The combination best on ``subset`` of the files by the standard profile (one parameter
        set, as a detector ships), with its threshold per profile chosen on ``subset``."""
        best = None
        for params, res in runs:
            out = score_nab({k: res[k] for k in subset}, windows)
            if best is None or out["standard"].normalized > best[2]["standard"].normalized:
                best = (params, res, out)
        return {p: (best[0], best[1], best[2][p]) for p in profiles}

    def at(choice, subset):
        return {
            p: score_nab({k: res[k] for k in subset}, windows, thresholds={p: s.threshold})[p]
            for p, (params, res, s) in choice.items()
        }

    everything = pick(keys)
    table = {"in-sample, all 30 files": ({p: everything[p][2] for p in profiles}, {p: everything[p][0] for p in profiles})}
    held_parts = {p: [] for p in profiles}
    rows = []
    for cat in categories:
        test = [k for k in keys if k.startswith(cat + "/")]
        train = [k for k in keys if not k.startswith(cat + "/")]
        chosen = pick(train)
        held = at(chosen, test)
        inside = at(everything, test)
        for p in profiles:
            held_parts[p].append(held[p])
        rows.append((cat, len(test), inside, held, chosen))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{detector}: leave one category out, grid {FOLD_GRID.get(detector) if axes is None else axes}")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load average {load}, "
          f"{time.perf_counter() - t0:.0f} s wall")
    print("held-out category (files)          in-sample std/lowFP/lowFN   held-out std/lowFP/lowFN  chosen on the rest (standard)")
    for cat, n, inside, held, chosen in rows:
        a = "/".join(f"{inside[p].normalized:.1f}" for p in profiles)
        b = "/".join(f"{held[p].normalized:.1f}" for p in profiles)
        c = ", ".join(f"{k}={v}" for k, v in chosen["standard"][0].items())
        thr = chosen["standard"][2].threshold
        print(f"{cat + f' ({n})':34s} {a:>27s}   {b:>24s}  {c}, threshold {thr:.3f} "
              f"(tp {held['standard'].tp} fp {held['standard'].fp} fn {held['standard'].fn})")
    pooled = "/".join(f"{_pooled(held_parts[p]):.1f}" for p in profiles)
    ins = "/".join(f"{everything[p][2].normalized:.1f}" for p in profiles)
    c = ", ".join(f"{k}={v}" for k, v in everything["standard"][0].items())
    print(f"{'all 30 (held-out: pooled folds)':34s} {ins:>27s}   {pooled:>24s}  in-sample choice: {c}, "
          f"threshold {everything['standard'][2].threshold:.3f}")
    return {"rows": rows, "in_sample": everything, "pooled": {p: _pooled(held_parts[p]) for p in profiles}, "table": table}


def run_perfile(category: str, threshold: float, **params) -> None:
    """Per file of ``category``: windows found and missed, false-alarm rows (time, score), at ``threshold``.

    Detections are scored rows (after NAB's probation) with ``score >= threshold``; a false alarm is a
    detection outside every window. The diagnosis behind a fold's held-out score, not a score itself.
    """
    import math

    windows = json.loads((SHARED / "nab" / "labels" / "combined_windows.json").read_text())
    print(f"{category}, default {params or '(as shipped)'}, threshold {threshold}")
    for path in sorted((SHARED / "nab" / "data" / category).glob("*.csv")):
        frame = pd.read_csv(path)
        ts = pd.to_datetime(frame["timestamp"])
        s = score_series(make_detector("default", **params), pd.Series(frame["value"].to_numpy(float), index=ts)).to_numpy()
        start = min(math.floor(0.15 * len(s)), 750)
        spans = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in windows[f"{category}/{path.name}"]]
        hits = [i for i in range(start, len(s)) if s[i] >= threshold]
        found = [any(a <= ts[i] <= b for i in hits) for a, b in spans]
        fps = [f"{ts[i]:%m-%d %H:%M} {s[i]:.2f}" for i in hits if not any(a <= ts[i] <= b for a, b in spans)]
        missed = [f"{a:%Y-%m-%d}" for (a, _), f in zip(spans, found, strict=True) if not f]
        print(f"{path.name:42s} found {sum(found)}/{len(spans)} missed {missed or '-'}; {len(fps)} false alarms: {', '.join(fps)}")


class _StreamingZ:
    """The peer for ``cost``: a plain rolling z-score over ``window`` points, one point at a time."""

    def __init__(self, window: int = 288) -> None:
        from collections import deque

        self.values = deque(maxlen=window)
        self.total = self.sq = 0.0

    def update(self, timestamp, value: float) -> float:
        vals = self.values
        n = len(vals)
        z = 0.0
        if n >= 20:
            mean = self.total / n
            sd = max(self.sq / n - mean * mean, 0.0) ** 0.5
            z = abs(value - mean) / sd if sd > 0 else 0.0
        if n == vals.maxlen:
            old = vals[0]
            self.total -= old
            self.sq -= old * old
        vals.append(value)
        self.total += value
        self.sq += value * value
        return z / (z + 5.0)


COST_FILE = "realKnownCause/machine_temperature_system_failure.csv"


def _cost_pass(name: str, stamps: list, values: list[float]) -> tuple[float, str]:
    """One pass of ``name`` over the points through ``update()``: (CPU µs per sample, digest of the scores)."""
    import hashlib
    from array import array

    det = make_detector(name) if isinstance(name, str) else name()
    update = det.update
    t0 = time.process_time()
    scores = [update(t, v) for t, v in zip(stamps, values, strict=True)]
    spent = (time.process_time() - t0) / len(values) * 1e6
    return spent, hashlib.sha256(array("d", scores).tobytes()).hexdigest()[:16]


def _cost_points() -> tuple[list, list[float]]:
    frame = pd.read_csv(SHARED / "nab" / "data" / COST_FILE)
    return list(pd.to_datetime(frame["timestamp"])), frame["value"].to_numpy(float).tolist()


def run_cost(names: tuple[str, ...] = ("default", "surprise"), repeats: int = 5, against: str | None = None) -> None:
    """Memory per watched series and CPU per sample, live (``update`` one point at a time).

    CPU is ``time.process_time`` per pass, ``repeats`` passes each; the median and the best are
    printed. ``against=REV`` also runs the default of git revision ``REV`` (its ``workbench/``
    exported to a temporary folder) and of this tree alternately, ``repeats`` times each, in
    fresh processes, and prints both medians and the median of the paired ratios: on a shared
    machine whose speed changes from minute to minute the ratio is the figure that carries over.
    """
    import gc
    import pickle
    import statistics
    import tracemalloc

    stamps, values = _cost_points()
    builders = {f"workbench {n}": n for n in names}
    builders["rolling z-score, window 288 (peer)"] = _StreamingZ
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{COST_FILE}: {len(values)} points fed one at a time through update(); "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load average {load}")
    print(f"detector                               CPU us/sample: median, best of {repeats}   retained MB   pickled MB")
    for label, build in builders.items():
        cpu = [_cost_pass(build, stamps, values)[0] for _ in range(repeats)]
        gc.collect()
        tracemalloc.start()
        det = make_detector(build) if isinstance(build, str) else build()
        for t, v in zip(stamps, values, strict=True):
            det.update(t, v)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] / 1e6
        tracemalloc.stop()
        pickled = len(pickle.dumps(det)) / 1e6
        print(f"{label:38s} {statistics.median(cpu):8.1f} {min(cpu):8.1f}                  "
              f"{retained:10.2f}   {pickled:10.2f}", flush=True)
    if against:
        _cost_against(against, repeats)


def _cost_against(rev: str, repeats: int) -> None:
    import statistics
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "workbench"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        # one long-lived worker per tree, each timing one pass per request: the passes alternate
        # back to back (A B A B ...), so both trees see the machine of the same minutes
        workers = {}
        for label, root in ((rev, tmp), ("this tree", str(REPO))):
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
            workers[label] = subprocess.Popen([sys.executable, __file__, "cost-pass", "--expect-root", root],
                                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        runs: dict[str, list[tuple[float, str]]] = {k: [] for k in workers}
        try:
            for _ in range(repeats):
                for label, worker in workers.items():
                    worker.stdin.write("pass\n")
                    worker.stdin.flush()
                    spent, digest = worker.stdout.readline().split()
                    runs[label].append((float(spent), digest))
        finally:
            for worker in workers.values():
                worker.stdin.close()
                worker.wait()
    (a, ra), (b, rb) = runs.items()
    ratios = [y[0] / x[0] for x, y in zip(ra, rb, strict=True)]
    same = {d for _, d in ra} == {d for _, d in rb} and len({d for _, d in ra}) == 1
    print(f"\nthe default, {rev} against this tree, passes alternating in two processes ({repeats} each):")
    for label, r in runs.items():
        cpu = [c for c, _ in r]
        print(f"  {label:12s} CPU us/sample median {statistics.median(cpu):6.1f}  "
              f"(all: {', '.join(f'{c:.1f}' for c in cpu)})")
    print(f"  this tree / {rev}: median ratio {statistics.median(ratios):.3f} "
          f"(all: {', '.join(f'{q:.3f}' for q in ratios)}); scores {'identical' if same else 'DIFFERENT'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("detect", help="write anomaly scores for every file")
    d.add_argument("--data", type=Path, required=True)
    d.add_argument("--detector", default="default", choices=sorted(DETECTORS))
    d.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("score", help="score results with NAB's rules")
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--windows", type=Path, required=True)
    s.add_argument("--results", type=Path, required=True)
    a = sub.add_parser("all", help="all detectors on ../shared/data/nab, beside the published")
    a.add_argument("--out", type=Path, default=Path("/tmp/workbench-nab"))
    v = sub.add_parser("sensitivity", help="the default detector with one parameter changed at a time")
    v.add_argument("--out", type=Path, default=Path("/tmp/workbench-nab"))
    f = sub.add_parser("folds", help="leave one category out: held-out scores beside in-sample ones")
    f.add_argument("--detector", action="append", choices=sorted(DETECTORS),
                   help=f"detector to run (repeatable; default: {', '.join(FOLD_DETECTORS)})")
    pf = sub.add_parser("perfile", help="per file of a category: windows missed, false alarms, at a threshold")
    pf.add_argument("--category", default="realKnownCause")
    pf.add_argument("--threshold", type=float, required=True)
    pf.add_argument("--halflife", type=int, help="calibration_halflife (default: as shipped)")
    c = sub.add_parser("cost", help="memory per watched series and CPU per sample, beside a rolling z-score")
    c.add_argument("--repeats", type=int, default=5, help="passes per detector (median and best printed)")
    c.add_argument("--against", metavar="REV",
                   help="also time the default of git revision REV and of this tree alternately; print the ratio")
    cp = sub.add_parser("cost-pass", help=argparse.SUPPRESS)  # one timed pass, for cost --against
    cp.add_argument("--expect-root", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "detect":
        spent = detect(args.data, args.detector, args.out)
        print(f"wrote {args.out} ({spent:.1f}s detecting)")
    elif args.cmd == "score":
        score(args.data, args.windows, args.results)
    elif args.cmd == "perfile":
        extra = {} if args.halflife is None else {"calibration_halflife": args.halflife}
        run_perfile(args.category, args.threshold, **extra)
    elif args.cmd == "cost":
        run_cost(repeats=args.repeats, against=args.against)
    elif args.cmd == "cost-pass":
        import workbench

        root = Path(workbench.__file__).resolve().parents[1]
        if root != Path(args.expect_root).resolve():
            raise SystemExit(f"imported workbench from {root}, not {args.expect_root}")
        points = _cost_points()
        for _ in sys.stdin:  # one timed pass per line read
            spent, digest = _cost_pass("default", *points)
            print(f"{spent:.3f} {digest}", flush=True)
    elif args.cmd == "folds":
        for name in args.detector or FOLD_DETECTORS:
            run_folds(name)
    elif args.cmd == "sensitivity":
        run_sensitivity(args.out)
    else:
        run_all(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
