"""M4 benchmark: workbench.forecast models beside statsforecast's, on the same series, in one run.

    python benchmarks/forecast_m4.py --train ../shared/data/m4-hourly/Hourly-train.csv \\
        --test ../shared/data/m4-hourly/Hourly-test.csv --horizon 48 --season-length 24 \\
        --out bench-out/m4-hourly

Writes ``OUT/forecasts.csv`` (``unique_id, step, model, mean, lo_80, hi_80, lo_95,
hi_95``: one row per series, step and model, peers included), ``OUT/scores.csv``
(per series and model) and ``OUT/summary.md`` (sMAPE, MASE and OWA against Naive2
per the M4 rules, 80/95 % interval coverage, wall time).

statsforecast's AutoARIMA costs 40-90 s of CPU per series with a season of 24
on this machine, so it runs on every ``--arima-every``-th series only (default
10); the summary has a second table that compares every model on that subset.
Needs statsforecast (``pip install statsforecast``, or ``make bench``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _forecast_common import load_m4, naive2, score_rows, summarise  # noqa: E402

from workbench.forecast import (  # noqa: E402
    ARIMA,
    ETS,
    AutoForecaster,
    Forecast,
    Naive,
    Regression,
    SeasonalNaive,
)

OURS = ("Naive", "SeasonalNaive", "ETS", "ARIMA", "Regression", "AutoForecaster")
PEERS = ("sf_AutoETS", "sf_AutoARIMA", "sf_AutoTheta")
ALL = ("Naive2", *OURS, *PEERS)


def our_model(name: str, m: int, h: int):
    return {
        "Naive": lambda: Naive(),
        "SeasonalNaive": lambda: SeasonalNaive(season_length=m),
        "ETS": lambda: ETS(season_length=m),
        "ARIMA": lambda: ARIMA(season_length=m),
        "Regression": lambda: Regression(season_length=m),
        "AutoForecaster": lambda: AutoForecaster(horizon=h, season_length=m),
    }[name]()


def long_frame(data: dict, ids) -> pd.DataFrame:
    return pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": data[uid][0].index, "y": data[uid][0].to_numpy()}) for uid in ids],
        ignore_index=True,
    )


def run_ours(name, data, ids, h, m, n_jobs, freq):
    df = long_frame(data, ids)
    engine = Forecast({name: our_model(name, m, h)}, freq=freq, n_jobs=n_jobs, errors="skip")
    start = time.perf_counter()
    fc = engine.forecast(df, h=h, level=(80, 95))
    wall = time.perf_counter() - start
    if len(engine.failures_):
        print(f"  {name}: {len(engine.failures_)} failure(s); first: {engine.failures_.iloc[0].error}")
    fc = fc.drop(columns=["ds"])
    fc["step"] = fc.groupby(["unique_id", "model"]).cumcount() + 1
    return fc, wall


def run_peer(name, data, ids, h, m, n_jobs, freq):
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    model = {"sf_AutoETS": AutoETS, "sf_AutoARIMA": AutoARIMA, "sf_AutoTheta": AutoTheta}[name](
        season_length=m
    )
    df = long_frame(data, ids)
    sf = StatsForecast(models=[model], freq=freq, n_jobs=n_jobs)
    start = time.perf_counter()
    out = sf.forecast(df=df, h=h, level=[80, 95])
    wall = time.perf_counter() - start
    out = out.reset_index() if "unique_id" not in out.columns else out
    col = type(model).__name__
    fc = pd.DataFrame(
        {
            "unique_id": out["unique_id"].astype(str),
            "model": name,
            "mean": out[col],
            "lo_80": out[f"{col}-lo-80"],
            "hi_80": out[f"{col}-hi-80"],
            "lo_95": out[f"{col}-lo-95"],
            "hi_95": out[f"{col}-hi-95"],
        }
    )
    fc["step"] = fc.groupby("unique_id").cumcount() + 1
    return fc, wall


def fmt_table(frame: pd.DataFrame) -> str:
    cols = ["model", "series", "OWA", "sMAPE", "MASE", "cov_80", "cov_95", "wall_s"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        cells = [
            str(r.model),
            str(int(r.series)),
            f"{r.OWA:.3f}",
            f"{r.sMAPE:.2f}",
            f"{r.MASE:.3f}",
            "—" if pd.isna(r.cov_80) else f"{r.cov_80:.3f}",
            "—" if pd.isna(r.cov_95) else f"{r.cov_95:.3f}",
            "—" if pd.isna(r.wall_s) else f"{r.wall_s:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--horizon", type=int, default=48)
    ap.add_argument("--season-length", type=int, default=24)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(ALL), help=f"comma list from {', '.join(ALL)}")
    ap.add_argument("--limit", type=int, default=None, help="first N series only")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--arima-every", type=int, default=10, help="AutoARIMA peer on every Nth series")
    ap.add_argument("--freq", default="h", help="pandas frequency given to the synthetic timestamps")
    args = ap.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in ALL]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {', '.join(ALL)}")
    h, m = args.horizon, args.season_length
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    data = load_m4(args.train, args.test, limit=args.limit, freq=args.freq)
    ids = list(data)
    subset = ids[:: args.arima_every]
    print(f"{len(ids)} series, h={h}, m={m}; AutoARIMA peer on {len(subset)} of them")

    forecasts, scores, times = [], [], {}
    # Naive2, the M4 reference, always (OWA needs it).
    start = time.perf_counter()
    rows = []
    for uid in ids:
        ytr, yte = data[uid]
        mean = naive2(ytr.to_numpy(), h, m)
        rows.append(pd.DataFrame({"unique_id": uid, "model": "Naive2", "step": np.arange(1, h + 1), "mean": mean}))
    times["Naive2"] = time.perf_counter() - start
    forecasts.append(pd.concat(rows))

    for name in models:
        if name == "Naive2":
            continue
        run_ids = subset if name == "sf_AutoARIMA" else ids
        print(f"- {name} on {len(run_ids)} series ...", flush=True)
        runner = run_peer if name in PEERS else run_ours
        fc, wall = runner(name, data, run_ids, h, m, args.n_jobs, args.freq)
        times[name] = wall
        forecasts.append(fc)
        print(f"  {wall:.1f} s", flush=True)
        pd.concat(forecasts, ignore_index=True).to_csv(out_dir / "forecasts.partial.csv", index=False)

    fc_all = pd.concat(forecasts, ignore_index=True)
    for col in ("lo_80", "hi_80", "lo_95", "hi_95"):
        if col not in fc_all:
            fc_all[col] = np.nan
    fc_all = fc_all[["unique_id", "step", "model", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]]
    fc_all.to_csv(out_dir / "forecasts.csv", index=False)
    (out_dir / "forecasts.partial.csv").unlink(missing_ok=True)

    for (uid, model), grp in fc_all.groupby(["unique_id", "model"], sort=False):
        ytr, yte = data[uid]
        grp = grp.sort_values("step")
        if len(grp) != h:
            continue
        scores.append(score_rows(uid, model, ytr.to_numpy(), yte, grp, m))
    scores = pd.DataFrame(scores)
    scores.to_csv(out_dir / "scores.csv", index=False)

    full = summarise(scores, times)
    sub = summarise(scores[scores.unique_id.isin(subset)], {})
    summary = render(args, len(ids), len(subset), full, sub, models)
    (out_dir / "summary.md").write_text(summary)
    print(summary)
    return 0


def render(args, n_ids, n_sub, full, sub, models) -> str:
    import statsforecast
    import statsmodels

    import workbench

    lines = [
        f"# M4 benchmark: {Path(args.train).name}",
        "",
        f"Command: `python benchmarks/forecast_m4.py --train {args.train} --test {args.test} "
        f"--horizon {args.horizon} --season-length {args.season_length} --out {args.out}"
        + (f" --limit {args.limit}" if args.limit else "")
        + (f" --models {args.models}" if set(models) != set(ALL) else "")
        + f" --n-jobs {args.n_jobs} --arima-every {args.arima_every}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"workbench {workbench.__version__}, statsmodels {statsmodels.__version__}, "
        f"statsforecast {statsforecast.__version__}. Wall time is for all series of that row "
        f"with n_jobs={args.n_jobs}.",
        "",
        "OWA = mean of sMAPE/sMAPE(Naive2) and MASE/MASE(Naive2), each averaged over the series "
        "the row ran on (M4 rules; MASE scaled by the in-sample seasonal naive error).",
        "",
        f"## All {n_ids} series",
        "",
        fmt_table(full.sort_values("OWA")),
        "",
        f"## The AutoARIMA subset (every {args.arima_every}th series: {n_sub})",
        "",
        fmt_table(sub.sort_values("OWA")),
        "",
    ]
    checks = targets(full, sub)
    if checks:
        lines += ["## Targets", ""] + [f"- {c}" for c in checks] + [""]
    return "\n".join(lines)


def targets(full: pd.DataFrame, sub: pd.DataFrame) -> list[str]:
    def owa(frame, model):
        row = frame[frame.model == model]
        return float(row.OWA.iloc[0]) if len(row) else None

    out = []
    auto = owa(full, "AutoForecaster")
    if auto is not None:
        peers = {p: owa(full, p) for p in ("sf_AutoETS", "sf_AutoTheta")}
        peers["sf_AutoARIMA (subset)"] = owa(sub, "sf_AutoARIMA")
        beaten = all(v is None or (auto if "subset" not in k else owa(sub, "AutoForecaster")) < v for k, v in peers.items())
        out.append(f"AutoForecaster OWA {auto:.3f} (target <= 0.45): {'met' if auto <= 0.45 else 'NOT met'}")
        out.append(f"AutoForecaster below every peer: {'yes' if beaten else 'NO'}")
        row = full[full.model == "AutoForecaster"].iloc[0]
        out.append(
            f"AutoForecaster 95 % coverage {row.cov_95:.3f} (target 0.90-0.97): "
            f"{'met' if 0.90 <= row.cov_95 <= 0.97 else 'NOT met'}"
        )
        out.append(f"AutoForecaster wall time {row.wall_s:.0f} s for {int(row.series)} series")
    for ours, peer, frame in (("ETS", "sf_AutoETS", full), ("ARIMA", "sf_AutoARIMA", sub)):
        a, b = owa(frame, ours), owa(frame, peer)
        if a is not None and b is not None:
            where = "on the subset" if frame is sub else "on all series"
            out.append(
                f"{ours} OWA {a:.3f} vs {peer} {b:.3f} {where}: ratio {a / b:.3f} "
                f"(target <= 1.10): {'met' if a / b <= 1.10 else 'NOT met'}"
            )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
