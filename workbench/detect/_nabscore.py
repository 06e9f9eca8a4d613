"""The Numenta Anomaly Benchmark (NAB) scoring rules, in our own code.

Why our own: the reference scorer (numenta/NAB ``nab/sweeper.py``) is
Python 2-era code built around its corpus classes; we need the same numbers
from plain arrays, so benchmarks, tests and back-tests can share one scorer.
The rules follow NAB v1.1 exactly:

* the first ``min(floor(0.15 * n), 750)`` rows of a file are probationary and
  not scored;
* a row inside a window scores ``tp * S(-(right - i + 1) / width) / S(-1)``
  where ``S(x) = 2 / (1 + exp(5x)) - 1`` (earlier in the window is better) and
  only the best (first) detection of a window counts; a window with no
  detection costs ``-fn``;
* a row outside every window scores ``fp * S(|i - prev_right| / (prev_width - 1))``
  (``S`` is ``-1`` beyond 3), or ``-fp`` when no window precedes it: a false
  alarm right after a window costs less than one far from any;
* a detection is ``score >= threshold``; one threshold per detector and
  profile is chosen over the whole corpus by sweeping every distinct score;
* the total is normalised so that the null detector scores 0 and the
  perfect detector (first row of every window, no false alarm) 100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PROFILES",
    "scaled_sigmoid",
    "FileSweep",
    "sweep_file",
    "CorpusScore",
    "score_corpus",
]

#: NAB's three application profiles (``config/profiles.json``).
PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}

PROBATION_PERCENT = 0.15
_NO_WINDOW = -1
_PROBATION = -2


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: 0.98661 at -1 (window start), 0 at 0, -1 beyond 3."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass(frozen=True)
class FileSweep:
    """One file's rows prepared for scoring (independent of the cost profile).

    ``window`` holds, per row, the index of its window (0..n_windows-1),
    ``-1`` outside every window, ``-2`` in the probationary period.
    ``position`` is the row's relative position used by the sigmoid (negative
    inside a window, the distance past the preceding window outside, ``nan``
    when no window precedes).
    """

    scores: np.ndarray
    window: np.ndarray
    position: np.ndarray
    n_windows: int
    n_scored_windows: int


def _probation_length(n: int) -> float:
    return min(math.floor(PROBATION_PERCENT * n), PROBATION_PERCENT * 5000)


def sweep_file(
    timestamps: Sequence | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    windows: Sequence[Sequence],
) -> FileSweep:
    """Assign every row of one file to a window (or none) and its sigmoid position."""
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    sc = np.asarray(scores, dtype=float)
    if ts.shape != sc.shape:
        raise ValueError(
            f"timestamps and scores differ in length ({ts.size} vs {sc.size}); "
            "give one anomaly score per row."
        )
    n = ts.size
    window = np.full(n, _NO_WINDOW, dtype=np.int64)
    position = np.full(n, np.nan)
    idx = np.arange(n)
    bounds = []
    for start, end in windows:
        left = int(np.searchsorted(ts, np.datetime64(_ts(start), "ns"), side="left"))
        right = int(np.searchsorted(ts, np.datetime64(_ts(end), "ns"), side="right")) - 1
        if right >= left:
            bounds.append((left, right))
    bounds.sort()
    prev_right = prev_width = None
    cursor = 0
    for k, (left, right) in enumerate(bounds):
        width = float(right - left + 1)
        _fill_after(position, cursor, left, prev_right, prev_width)
        window[left : right + 1] = k
        position[left : right + 1] = -(right - idx[left : right + 1] + 1) / width
        prev_right, prev_width, cursor = right, width, right + 1
    _fill_after(position, cursor, n, prev_right, prev_width)
    probation = int(math.ceil(_probation_length(n)))  # rows i < length are probationary
    window[:probation] = _PROBATION
    scored = {int(w) for w in np.unique(window) if w >= 0}
    return FileSweep(sc, window, position, len(bounds), len(scored))


def _fill_after(position, start, stop, prev_right, prev_width) -> None:
    if prev_right is None or stop <= start:
        return
    rows = np.arange(start, stop)
    # A one-row window would divide by zero in NAB; treat it as width 2.
    position[start:stop] = np.abs(prev_right - rows) / max(prev_width - 1.0, 1.0)


def _sigmoid_array(position: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        out = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position > 3.0, -1.0, out)


def _row_weights(sweep: FileSweep, cost: Mapping[str, float]) -> np.ndarray:
    """Each row's contribution if it were a detection (NAB's ``sweepScore``)."""
    pos = np.nan_to_num(sweep.position, nan=4.0)  # no preceding window: full FP cost
    sig = _sigmoid_array(pos)
    return np.where(sweep.window >= 0, sig * cost["tp"] / scaled_sigmoid(-1.0), sig * cost["fp"])


@dataclass(frozen=True)
class CorpusScore:
    """The best threshold of one profile over a corpus and what it scores."""

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    normalized: float
    tp: int
    fp: int
    fn: int


def _best_threshold(sweeps: Sequence[FileSweep], cost: Mapping[str, float]):
    """Sweep every distinct score from high to low; return (threshold, raw, tp, fp, fn)."""
    scores, weights, wins = [], [], []
    offset = 0
    for sw in sweeps:
        keep = sw.window != _PROBATION
        scores.append(sw.scores[keep])
        weights.append(_row_weights(sw, cost)[keep])
        w = sw.window[keep].copy()
        w[w >= 0] += offset
        wins.append(w)
        offset += sw.n_windows
    s = np.concatenate(scores) if scores else np.empty(0)
    wt = np.concatenate(weights) if weights else np.empty(0)
    wn = np.concatenate(wins) if wins else np.empty(0, dtype=np.int64)
    s = np.nan_to_num(s, nan=0.0)
    order = np.argsort(-s, kind="stable")
    window_best: dict[int, float] = {int(k): -cost["fn"] for k in np.unique(wn[wn >= 0])}
    fp_total = 0.0
    total = sum(window_best.values())
    best = (1.1, total, 0, 0, len(window_best))
    n_fp = 0
    detected: set[int] = set()
    i, n = 0, order.size
    while i < n:
        thr = s[order[i]]
        while i < n and s[order[i]] == thr:
            j = order[i]
            k = int(wn[j])
            if k < 0:
                fp_total += wt[j]
                n_fp += 1
            else:
                detected.add(k)
                if wt[j] > window_best[k]:
                    total += wt[j] - window_best[k]
                    window_best[k] = wt[j]
            i += 1
        score = total + fp_total
        if score > best[1]:
            best = (float(thr), score, len(detected), n_fp, len(window_best) - len(detected))
    return best


def _score_at(sweeps: Sequence[FileSweep], cost: Mapping[str, float], threshold: float):
    """Score at a given threshold (detection: ``score >= threshold``); (threshold, raw, tp, fp, fn)."""
    raw, tp, fp, fn = 0.0, 0, 0, 0
    for sw in sweeps:
        keep = sw.window != _PROBATION
        hit = keep & (np.nan_to_num(sw.scores, nan=0.0) >= threshold)
        weights = _row_weights(sw, cost)
        outside = hit & (sw.window < 0)
        raw += float(weights[outside].sum())
        fp += int(outside.sum())
        for k in np.unique(sw.window[keep & (sw.window >= 0)]):
            inside = hit & (sw.window == k)
            if inside.any():
                raw += float(weights[inside].max())
                tp += 1
            else:
                raw -= cost["fn"]
                fn += 1
    return float(threshold), raw, tp, fp, fn


def score_corpus(
    files: Mapping[str, tuple[Sequence, Sequence[float]]],
    windows: Mapping[str, Sequence[Sequence]],
    profiles: Mapping[str, Mapping[str, float]] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, CorpusScore]:
    """Score a detector's output over a corpus with NAB's rules.

    ``files`` maps a file key (``category/name.csv``) to ``(timestamps, scores)``;
    ``windows`` maps the same keys to ``[[start, end], ...]``. Returns one
    :class:`CorpusScore` per profile, the threshold chosen per profile over the
    whole corpus as NAB does, or, for a profile named in ``thresholds``, the
    threshold given there (a threshold chosen on other files, for held-out
    scoring).
    """
    profiles = PROFILES if profiles is None else profiles
    missing = sorted(set(files) - set(windows))
    if missing:
        raise KeyError(
            f"No anomaly windows for {len(missing)} file(s), e.g. {missing[0]!r}; "
            "give a windows file that covers every scored file."
        )
    sweeps = [sweep_file(ts, sc, windows[key]) for key, (ts, sc) in sorted(files.items())]
    nulls = [
        FileSweep(np.zeros_like(sw.scores), sw.window, sw.position, sw.n_windows, sw.n_scored_windows)
        for sw in sweeps
    ]
    n_windows = sum(sw.n_windows for sw in sweeps)
    out = {}
    for name, cost in profiles.items():
        if thresholds is not None and name in thresholds:
            thr, raw, tp, fp, fn = _score_at(sweeps, cost, thresholds[name])
        else:
            thr, raw, tp, fp, fn = _best_threshold(sweeps, cost)
        null = _best_threshold(nulls, cost)[1]
        perfect = n_windows * cost["tp"]
        norm = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
        out[name] = CorpusScore(name, thr, raw, null, perfect, norm, tp, fp, fn)
    return out


def _ts(value) -> np.datetime64:
    return np.datetime64(str(value).replace(" ", "T"))
