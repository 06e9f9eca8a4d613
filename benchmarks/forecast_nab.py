"""System-metrics benchmark: AWS CloudWatch CPU series from NAB, 1 h and 12 h ahead, rolling origins.

    python benchmarks/forecast_nab.py --data ../shared/data/nab/data/realAWSCloudwatch \\
        --out bench-out/nab-cpu

Every ``*cpu_utilization*.csv`` file (5-minute samples, about two weeks each) is
cut at ``--origins`` daily-spaced origins in its last days; at each origin every
model learns from the previous ``--train-days`` days and forecasts 12 h
(144 steps); the first 12 steps are scored as the 1 h forecast. The same series
go to statsforecast's AutoETS, AutoTheta (season 288) and AutoARIMA
(non-seasonal: a 288-step seasonal ARIMA is not something a practitioner fits);
ours include ``ARIMA`` with the day as Fourier terms and ``ARIMA_nonseasonal``,
the like-for-like peer of that AutoARIMA.
MASE is scaled by the in-sample one-step naive error. Writes ``OUT/scores.csv``
and ``OUT/summary.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workbench.forecast import (  # noqa: E402
    ARIMA,
    ETS,
    AutoForecaster,
    Forecast,
    Naive,
    Regression,
    SeasonalNaive,
    coverage,
    mase_scale,
    prepare_series,
    smape,
)

M = 288  # one day of 5-minute steps
H = 144  # 12 h
H_SHORT = 12  # 1 h
OURS = ("Naive", "SeasonalNaive", "ETS", "ARIMA", "ARIMA_nonseasonal", "Regression", "AutoForecaster")
PEERS = ("sf_AutoETS", "sf_AutoTheta", "sf_AutoARIMA")


def our_model(name):
    return {
        "Naive": lambda: Naive(),
        "SeasonalNaive": lambda: SeasonalNaive(season_length=M),
        "ETS": lambda: ETS(season_length=M),
        "ARIMA": lambda: ARIMA(season_length=M),
        "ARIMA_nonseasonal": lambda: ARIMA(season_length=1),
        "Regression": lambda: Regression(season_length=M),
        "AutoForecaster": lambda: AutoForecaster(horizon=H, season_length=M),
    }[name]()


def windows(data_dir: Path, n_origins: int, train_days: int):
    """(unique_id, train Series, test ndarray) for every file and origin."""
    out = []
    for path in sorted(data_dir.glob("*cpu_utilization*.csv")):
        raw = pd.read_csv(path, parse_dates=["timestamp"])
        y = prepare_series(
            raw.set_index("timestamp")["value"], freq="5min", max_gap=12, duplicates="mean"
        )
        n = len(y)
        for k in range(n_origins):
            cut = n - H - k * M
            start = max(0, cut - train_days * M)
            if cut - start < 2 * M:
                continue
            uid = f"{path.stem}@{k}"
            out.append((uid, y.iloc[start:cut].rename(uid), y.iloc[cut : cut + H].to_numpy()))
    return out


def run_ours(name, wins, n_jobs):
    df = pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": tr.index, "y": tr.to_numpy()}) for uid, tr, _ in wins],
        ignore_index=True,
    )
    engine = Forecast({name: our_model(name)}, freq="5min", n_jobs=n_jobs, errors="skip")
    t0 = time.perf_counter()
    fc = engine.forecast(df, h=H)
    wall = time.perf_counter() - t0
    if len(engine.failures_):
        print(f"  {name}: {len(engine.failures_)} failure(s); first: {engine.failures_.iloc[0].error}")
    return fc, wall


def run_peer(name, wins, n_jobs):
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    model = {
        "sf_AutoETS": lambda: AutoETS(season_length=M),
        "sf_AutoTheta": lambda: AutoTheta(season_length=M),
        "sf_AutoARIMA": lambda: AutoARIMA(season_length=1),
    }[name]()
    df = pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": tr.index, "y": tr.to_numpy()}) for uid, tr, _ in wins],
        ignore_index=True,
    )
    t0 = time.perf_counter()
    out = StatsForecast(models=[model], freq="5min", n_jobs=n_jobs).forecast(df=df, h=H, level=[80, 95])
    wall = time.perf_counter() - t0
    col = type(model).__name__
    fc = pd.DataFrame(
        {
            "unique_id": out["unique_id"],
            "ds": out["ds"],
            "model": name,
            "mean": out[col],
            "lo_80": out[f"{col}-lo-80"],
            "hi_80": out[f"{col}-hi-80"],
            "lo_95": out[f"{col}-lo-95"],
            "hi_95": out[f"{col}-hi-95"],
        }
    )
    return fc, wall


def score(fc: pd.DataFrame, wins) -> pd.DataFrame:
    truth = {uid: (tr.to_numpy(), te) for uid, tr, te in wins}
    rows = []
    for (uid, model), grp in fc.groupby(["unique_id", "model"], sort=False):
        ytr, yte = truth[uid]
        scale = mase_scale(ytr, 1)
        for label, k in (("1h", H_SHORT), ("12h", H)):
            g = grp.iloc[:k]
            y = yte[:k]
            rows.append(
                {
                    "unique_id": uid,
                    "model": model,
                    "horizon": label,
                    "smape": smape(y, g["mean"]),
                    "mase": float(np.mean(np.abs(y - g["mean"].to_numpy())) / scale) if scale > 0 else np.nan,
                    "cov_80": coverage(y, g["lo_80"], g["hi_80"]),
                    "cov_95": coverage(y, g["lo_95"], g["hi_95"]),
                }
            )
    return pd.DataFrame(rows)


def table(scores: pd.DataFrame, times: dict, horizon: str) -> str:
    sub = scores[scores.horizon == horizon]
    agg = sub.groupby("model").agg(
        windows=("unique_id", "nunique"),
        sMAPE=("smape", "mean"),
        MASE=("mase", "mean"),
        cov_80=("cov_80", "mean"),
        cov_95=("cov_95", "mean"),
    )
    agg = agg.sort_values("MASE")
    lines = ["| model | windows | MASE | sMAPE | cov_80 | cov_95 | wall_s |", "|---|---|---|---|---|---|---|"]
    for model, r in agg.iterrows():
        lines.append(
            f"| {model} | {int(r.windows)} | {r.MASE:.3f} | {r.sMAPE:.2f} | {r.cov_80:.3f} | "
            f"{r.cov_95:.3f} | {times.get(model, float('nan')):.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/nab/data/realAWSCloudwatch")
    ap.add_argument("--out", required=True)
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument("--train-days", type=int, default=7)
    ap.add_argument("--models", default=",".join(OURS + PEERS))
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    wins = windows(Path(args.data), args.origins, args.train_days)
    print(f"{len(wins)} windows from {len({u.split('@')[0] for u, _, _ in wins})} files")
    frames, times = [], {}
    for name in models:
        print(f"- {name} ...", flush=True)
        runner = run_peer if name in PEERS else run_ours
        fc, wall = runner(name, wins, args.n_jobs)
        frames.append(fc)
        times[name] = wall
        print(f"  {wall:.1f} s", flush=True)
    scores = score(pd.concat(frames, ignore_index=True), wins)
    scores.to_csv(out_dir / "scores.csv", index=False)
    text = "\n".join(
        [
            "# NAB realAWSCloudwatch CPU series: 1 h and 12 h ahead",
            "",
            f"Command: `python benchmarks/forecast_nab.py --data {args.data} --out {args.out} "
            f"--origins {args.origins} --train-days {args.train_days} --n-jobs {args.n_jobs}`",
            "",
            f"{len(wins)} windows (files x daily-spaced origins), {args.train_days} days of history each; "
            "MASE scaled by the in-sample one-step naive error; wall time covers all windows and "
            "both horizons (one 144-step forecast per window).",
            "",
            "## 1 h ahead (12 steps)",
            "",
            table(scores, times, "1h"),
            "",
            "## 12 h ahead (144 steps)",
            "",
            table(scores, times, "12h"),
            "",
        ]
    )
    (out_dir / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
