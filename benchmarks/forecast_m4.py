"""M4 benchmark: workbench.forecast models beside statsforecast's, on the same series, in one run.

    python benchmarks/forecast_m4.py --train ../shared/data/m4-hourly/Hourly-train.csv \\
        --test ../shared/data/m4-hourly/Hourly-test.csv --out bench-out/m4-hourly

Scoring follows the published M4 rules (the M4 Competitor's Guide and the
organisers' R benchmarks): sMAPE in percent, MASE scaled by the in-sample
naive error at lag ``m`` and OWA against Naive2 (the naive forecast of the
classically, multiplicatively seasonally adjusted series at period ``m`` when
its lag-``m`` autocorrelation is significant at 90 %), with ``m`` fixed per
frequency: 24 Hourly, 12 Monthly, 4 Quarterly and 1 for Yearly, Weekly and
Daily (see :data:`FREQUENCIES`). The season the *models* are given is a
separate choice (``--season-length``; default a sensible one per frequency:
52 for weekly data, 7 for daily) and never changes the scoring.

``--frequency`` sets the horizon, the scoring ``m``, the models' season and the
spacing of the synthetic timestamps together (default: read from the train
file's name, ``Weekly-train.csv`` -> weekly); ``--horizon`` and
``--season-length`` override the first and the third.

Writes ``OUT/forecasts.csv`` (``unique_id, step, model, mean, lo_80, hi_80, lo_95,
hi_95``: one row per series, step and model, peers included), ``OUT/scores.csv``
(per series and model) and ``OUT/summary.md`` (sMAPE, MASE and OWA against Naive2,
80/95 % interval coverage, wall time, and the targets of the frequency that ran).

statsforecast's AutoARIMA costs 40-90 s of CPU per series with a season of 24
on this machine, so it runs on every ``--arima-every``-th series only (default
10); the summary then has a second table that compares every model on that
subset. Peers need statsforecast (``make .venv-bench/.installed-bench``, then
run this script with ``.venv-bench/bin/python``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class M4Frequency:
    """The published rules of one M4 frequency, and the season our models get by default."""

    name: str
    horizon: int  # forecast horizon of the competition
    m: int  # period of the MASE scale and of Naive2's seasonal adjustment (the published rule)
    season: int  # the models' season_length by default (not part of the scoring)
    freq: str  # spacing of the synthetic timestamps (M4 gives none)
    n_series: int  # size of the full set
    naive2_smape: float  # the published Naive2 figures on the full set
    naive2_mase: float


#: M4 Competitor's Guide: "m ... 12 for monthly, 4 for quarterly, 24 for hourly and 1
#: for the other frequencies (yearly, weekly and daily)". The published tables agree:
#: Naive1 and Naive2 score the same on Yearly, Weekly and Daily (no seasonal
#: adjustment at m = 1). Yearly series are up to 835 years long, more than pandas
#: timestamps can span, so they are indexed daily; the models get their season
#: explicitly, so only the labels differ.
FREQUENCIES = {
    f.name: f
    for f in (
        M4Frequency("hourly", 48, 24, 24, "h", 414, 18.383, 2.395),
        M4Frequency("daily", 14, 1, 7, "D", 4227, 3.045, 3.278),
        M4Frequency("weekly", 13, 1, 52, "W", 359, 9.161, 2.777),
        M4Frequency("monthly", 18, 12, 12, "MS", 48000, 14.427, 1.063),
        M4Frequency("quarterly", 8, 4, 4, "QS", 24000, 11.012, 1.371),
        M4Frequency("yearly", 6, 1, 1, "D", 23000, 16.342, 3.974),
    )
}


def frequency_from_path(path: str) -> str | None:
    """``Weekly-train.csv`` -> "weekly"; None when the name does not say."""
    stem = Path(path).name.lower()
    return next((name for name in FREQUENCIES if stem.startswith(name)), None)


def our_model(name: str, season: int, h: int):
    return {
        "Naive": lambda: Naive(),
        "SeasonalNaive": lambda: SeasonalNaive(season_length=season),
        "ETS": lambda: ETS(season_length=season),
        "ARIMA": lambda: ARIMA(season_length=season),
        "Regression": lambda: Regression(season_length=season),
        "AutoForecaster": lambda: AutoForecaster(horizon=h, season_length=season),
    }[name]()


def long_frame(data: dict, ids) -> pd.DataFrame:
    return pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": data[uid][0].index, "y": data[uid][0].to_numpy()}) for uid in ids],
        ignore_index=True,
    )


def run_ours(name, data, ids, h, season, n_jobs, freq):
    df = long_frame(data, ids)
    engine = Forecast({name: our_model(name, season, h)}, freq=freq, n_jobs=n_jobs, errors="skip")
    start = time.perf_counter()
    fc = engine.forecast(df, h=h, level=(80, 95))
    wall = time.perf_counter() - start
    if len(engine.failures_):
        print(f"  {name}: {len(engine.failures_)} failure(s); first: {engine.failures_.iloc[0].error}")
    fc = fc.drop(columns=["ds"])
    fc["step"] = fc.groupby(["unique_id", "model"]).cumcount() + 1
    return fc, wall


def run_peer(name, data, ids, h, season, n_jobs, freq):
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    model = {"sf_AutoETS": AutoETS, "sf_AutoARIMA": AutoARIMA, "sf_AutoTheta": AutoTheta}[name](
        season_length=season
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


def naive2_frame(data: dict, ids, h: int, m: int) -> pd.DataFrame:
    """M4's Naive2 at the published ``m`` of the frequency (never the models' season)."""
    rows = []
    for uid in ids:
        mean = naive2(data[uid][0].to_numpy(), h, m)
        rows.append(pd.DataFrame({"unique_id": uid, "model": "Naive2", "step": np.arange(1, h + 1), "mean": mean}))
    return pd.concat(rows, ignore_index=True)


def score_all(fc_all: pd.DataFrame, data: dict, h: int, m: int) -> pd.DataFrame:
    """Per series and model: sMAPE, MASE at the published ``m``, 80/95 % coverage."""
    scores = []
    for (uid, model), grp in fc_all.groupby(["unique_id", "model"], sort=False):
        ytr, yte = data[uid]
        grp = grp.sort_values("step")
        if len(grp) != h:
            continue
        if grp[["lo_80", "hi_80", "lo_95", "hi_95"]].isna().all().all():
            grp = grp[["mean"]]  # no intervals (Naive2): coverage is not 0 but undefined
        scores.append(score_rows(uid, model, ytr.to_numpy(), yte, grp, m))
    return pd.DataFrame(scores)


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
    ap.add_argument("--frequency", choices=list(FREQUENCIES), default=None,
                    help="M4 frequency: sets horizon, the scoring m and the models' season "
                         "(default: from the train file's name)")
    ap.add_argument("--horizon", type=int, default=None, help="override the frequency's horizon")
    ap.add_argument("--season-length", type=int, default=None,
                    help="the models' season (default: the frequency's); the scoring m never changes")
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(ALL), help=f"comma list from {', '.join(ALL)}")
    ap.add_argument("--limit", type=int, default=None, help="first N series only")
    ap.add_argument("--every", type=int, default=1, help="every Nth series only (after --limit)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--arima-every", type=int, default=10, help="AutoARIMA peer on every Nth series")
    ap.add_argument("--freq", default=None, help="pandas frequency of the synthetic timestamps "
                                                 "(default: the frequency's)")
    args = ap.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in ALL]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {', '.join(ALL)}")
    name = args.frequency or frequency_from_path(args.train)
    if name is None:
        ap.error(f"cannot tell the M4 frequency from {Path(args.train).name!r}; "
                 f"pass --frequency {{{','.join(FREQUENCIES)}}}")
    rules = FREQUENCIES[name]
    args.frequency = name
    h = args.horizon or rules.horizon
    season = args.season_length or rules.season
    freq = args.freq or rules.freq
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    data = load_m4(args.train, args.test, limit=args.limit, freq=freq)
    if args.every > 1:
        data = {k: v for i, (k, v) in enumerate(data.items()) if i % args.every == 0}
    ids = list(data)
    subset = ids[:: args.arima_every]
    run_arima = "sf_AutoARIMA" in models
    print(f"{len(ids)} {name} series, h={h}, scoring m={rules.m}, model season={season}"
          + (f"; AutoARIMA peer on {len(subset)} of them" if run_arima else ""))

    forecasts, times = [], {}
    # Naive2, the M4 reference, always (OWA needs it).
    start = time.perf_counter()
    forecasts.append(naive2_frame(data, ids, h, rules.m))
    times["Naive2"] = time.perf_counter() - start

    for model in models:
        if model == "Naive2":
            continue
        run_ids = subset if model == "sf_AutoARIMA" else ids
        print(f"- {model} on {len(run_ids)} series ...", flush=True)
        runner = run_peer if model in PEERS else run_ours
        fc, wall = runner(model, data, run_ids, h, season, args.n_jobs, freq)
        times[model] = wall
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

    scores = score_all(fc_all, data, h, rules.m)
    scores.to_csv(out_dir / "scores.csv", index=False)

    full = summarise(scores, times)
    sub = summarise(scores[scores.unique_id.isin(subset)], {}) if run_arima else None
    complete = args.limit is None and args.every == 1 and len(ids) == rules.n_series
    summary = render(args, rules, h, season, len(ids), len(subset), full, sub, models, complete)
    (out_dir / "summary.md").write_text(summary)
    print(summary)
    return 0


def _versions() -> str:
    import statsmodels

    import workbench

    text = f"workbench {workbench.__version__}, statsmodels {statsmodels.__version__}"
    try:
        import statsforecast
    except ImportError:
        return text + ", no statsforecast"
    return text + f", statsforecast {statsforecast.__version__}"


def render(args, rules, h, season, n_ids, n_sub, full, sub, models, complete) -> str:
    command = (
        f"python benchmarks/forecast_m4.py --train {args.train} --test {args.test} "
        f"--frequency {rules.name}"
        + (f" --horizon {args.horizon}" if args.horizon else "")
        + (f" --season-length {args.season_length}" if args.season_length else "")
        + f" --out {args.out}"
        + (f" --limit {args.limit}" if args.limit else "")
        + (f" --every {args.every}" if args.every > 1 else "")
        + (f" --models {args.models}" if set(models) != set(ALL) else "")
        + f" --n-jobs {args.n_jobs}"
        + (f" --arima-every {args.arima_every}" if sub is not None else "")
    )
    lines = [
        f"# M4 benchmark: {Path(args.train).name} ({rules.name})",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{_versions()}. Wall time is for all series of that row with n_jobs={args.n_jobs}.",
        "",
        f"Horizon {h}; models' season {season}. Scored by the M4 rules for {rules.name} data: "
        f"MASE scaled by the in-sample naive error at lag m = {rules.m}, Naive2 seasonally "
        f"adjusted at m = {rules.m} when the lag-m autocorrelation is significant at 90 %; "
        "OWA = mean of sMAPE/sMAPE(Naive2) and MASE/MASE(Naive2), each averaged over the "
        "series the row ran on.",
        "",
        f"## All {n_ids} series",
        "",
        fmt_table(full.sort_values("OWA")),
        "",
    ]
    if sub is not None:
        lines += [
            f"## The AutoARIMA subset (every {args.arima_every}th series: {n_sub})",
            "",
            fmt_table(sub.sort_values("OWA")),
            "",
        ]
    checks = targets(full, sub, rules, complete)
    if checks:
        lines += [f"## Targets ({rules.name})", ""] + [f"- {c}" for c in checks] + [""]
    return "\n".join(lines)


#: Nominal coverage and the tolerance of issue 16 (within 3 points).
COVERAGE = {80: 0.80, 95: 0.95}
COVERAGE_TOL = 0.03
#: AutoForecaster's OWA target per frequency (issue 16: Hourly <= 0.42); others: below every peer.
AUTO_OWA = {"hourly": 0.42}
ETS_RATIO = 1.05  # our ETS within this factor of statsforecast's AutoETS (issue 16)
ARIMA_RATIO = 1.10  # our ARIMA within this factor of statsforecast's AutoARIMA (issue 3)


def targets(full: pd.DataFrame, sub: pd.DataFrame | None, rules: M4Frequency, complete: bool) -> list[str]:
    """The checks that belong to this frequency, for the models and peers that ran."""

    def row(frame, model):
        if frame is None:
            return None
        r = frame[frame.model == model]
        return r.iloc[0] if len(r) else None

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    out = []
    n2 = row(full, "Naive2")
    if complete and n2 is not None:
        ok = abs(n2.sMAPE - rules.naive2_smape) < 0.0015 * rules.naive2_smape and abs(
            n2.MASE - rules.naive2_mase) < 0.0015 * rules.naive2_mase
        out.append(
            f"Naive2 reproduces the published {rules.name} figures (sMAPE {rules.naive2_smape:.3f}, "
            f"MASE {rules.naive2_mase:.3f}): sMAPE {n2.sMAPE:.3f}, MASE {n2.MASE:.3f}: {met(ok)}"
        )
    auto = row(full, "AutoForecaster")
    if auto is not None:
        goal = AUTO_OWA.get(rules.name)
        if goal is not None:
            out.append(f"AutoForecaster OWA {auto.OWA:.3f} (target <= {goal:.2f}): {met(auto.OWA <= goal)}")
        peers = [(p, row(full, p), auto.OWA) for p in ("sf_AutoETS", "sf_AutoTheta")]
        sub_auto = row(sub, "AutoForecaster")
        if sub_auto is not None:
            peers.append(("sf_AutoARIMA (subset)", row(sub, "sf_AutoARIMA"), sub_auto.OWA))
        ran = [(p, r, a) for p, r, a in peers if r is not None]
        if ran:
            beaten = all(a < r.OWA for _, r, a in ran)
            listed = ", ".join(f"{p} {r.OWA:.3f}" for p, r, _ in ran)
            out.append(f"AutoForecaster below every peer that ran ({listed}): {'yes' if beaten else 'NO'}")
        for lv, nominal in COVERAGE.items():
            cov = getattr(auto, f"cov_{lv}")
            out.append(
                f"AutoForecaster {lv} % coverage {cov:.3f} (target {nominal - COVERAGE_TOL:.2f}-"
                f"{nominal + COVERAGE_TOL:.2f}): {met(abs(cov - nominal) <= COVERAGE_TOL + 1e-9)}"
            )
        out.append(f"AutoForecaster wall time {auto.wall_s:.0f} s for {int(auto.series)} series")
    ets, naive = row(full, "ETS"), row(full, "Naive")
    if ets is not None and naive is not None:
        out.append(f"ETS OWA {ets.OWA:.3f} vs Naive {naive.OWA:.3f} (ETS no worse): {met(ets.OWA <= naive.OWA)}")
    for ours, peer, frame, goal in (("ETS", "sf_AutoETS", full, ETS_RATIO), ("ARIMA", "sf_AutoARIMA", sub, ARIMA_RATIO)):
        a, b = row(frame, ours), row(frame, peer)
        if a is not None and b is not None:
            where = "on the subset" if frame is sub else "on all series"
            out.append(
                f"{ours} OWA {a.OWA:.3f} vs {peer} {b.OWA:.3f} {where}: ratio {a.OWA / b.OWA:.3f} "
                f"(target <= {goal:.2f}): {met(a.OWA / b.OWA <= goal)}"
            )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
