"""Anomaly likelihood: how unusual is the recent *average* surprise?

In the spirit of Numenta's anomaly likelihood (Ahmad et al., 2017, "Unsupervised
real-time anomaly detection for streaming data"): a raw score is noisy, so we
compare its mean over a short window with the distribution of that mean over a
long window. A series whose raw score is always high (noisy) stops alarming;
a quiet series whose recent scores rise alarms early. The result is mapped to
[0, 1] on a log scale so that 0.5 means a tail probability of 1e-5.
"""

from __future__ import annotations

import math
from collections import deque

from workbench.detect._rolling import RollingWindow

__all__ = ["AnomalyLikelihood"]

_LOG_FLOOR = math.log(1e-10)


class AnomalyLikelihood:
    """Streaming likelihood of raw scores; ``update(raw) -> score in [0, 1]``."""

    def __init__(self, short: int = 10, long: int = 2000, min_periods: int = 100) -> None:
        self.short = short
        self.long = long
        self.min_periods = min_periods
        self.recent: deque[float] = deque(maxlen=short)
        self.history = RollingWindow(long)
        self.sq_total = 0.0

    def update(self, raw: float) -> float:
        self.recent.append(raw)
        avg = sum(self.recent) / len(self.recent)
        hist = self.history
        score = 0.0
        if len(hist) >= self.min_periods:
            mean = hist.mean()
            var = max(self.sq_total / len(hist) - mean * mean, 0.0)
            sd = max(math.sqrt(var), 1e-3)  # a flat history must not make noise infinite
            tail = 0.5 * math.erfc((avg - mean) / (sd * math.sqrt(2.0)))
            score = min(1.0, math.log(max(tail, 1e-10)) / _LOG_FLOOR)
        if len(hist) == hist.size:
            old = hist.fifo[0]
            self.sq_total -= old * old
        hist.add(avg)
        self.sq_total += avg * avg
        return score
