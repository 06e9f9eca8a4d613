"""Anomaly detection and alerting: tell a person early, without crying wolf.

Streaming detectors share one protocol, ``update(timestamp, value) -> score``
in [0, 1] with no look-ahead, and run the same live and over history
(:func:`score_series`). Alert rules, their lifecycle, notifications and
back-testing build on them.
"""

from workbench.detect._backtest import (
    BacktestResult,
    backtest_detector,
    backtest_rule,
    suggest_threshold,
)
from workbench.detect._base import Detector, score_series
from workbench.detect._delivery import BackgroundRouter
from workbench.detect._ensemble import EnsembleDetector
from workbench.detect._errors import CircuitOpenError, NotifyError, RuleError
from workbench.detect._likelihood import AnomalyLikelihood
from workbench.detect._manager import RECORD_COLUMNS, Alert, AlertManager, Forecaster
from workbench.detect._multivariate import IsolationForestDetector
from workbench.detect._nabscore import PROFILES as NAB_PROFILES
from workbench.detect._nabscore import CorpusScore
from workbench.detect._nabscore import score_corpus as score_nab
from workbench.detect._notify import (
    Channel,
    CircuitBreaker,
    EmailChannel,
    LogChannel,
    Notification,
    Route,
    Router,
    ToastQueue,
    WebhookChannel,
)
from workbench.detect._registry import DETECTORS, make_detector, register_detector
from workbench.detect._residual import ForecastResidualDetector
from workbench.detect._robust import MADDetector, SurpriseDetector
from workbench.detect._rules import Matcher, Rule, rule_from_dict, rules_from_config
from workbench.detect._silence import Silence, silence_from_dict
from workbench.detect._store import load_history, save_alert_records

__all__ = [
    "Detector",
    "score_series",
    "MADDetector",
    "SurpriseDetector",
    "EnsembleDetector",
    "ForecastResidualDetector",
    "IsolationForestDetector",
    "AnomalyLikelihood",
    "DETECTORS",
    "make_detector",
    "register_detector",
    "score_nab",
    "NAB_PROFILES",
    "CorpusScore",
    "Rule",
    "Matcher",
    "rule_from_dict",
    "rules_from_config",
    "Silence",
    "silence_from_dict",
    "Alert",
    "AlertManager",
    "Forecaster",
    "RECORD_COLUMNS",
    "Notification",
    "Channel",
    "LogChannel",
    "WebhookChannel",
    "EmailChannel",
    "ToastQueue",
    "CircuitBreaker",
    "Route",
    "Router",
    "BackgroundRouter",
    "BacktestResult",
    "backtest_rule",
    "backtest_detector",
    "suggest_threshold",
    "save_alert_records",
    "load_history",
    "RuleError",
    "NotifyError",
    "CircuitOpenError",
]
