"""Anomaly detection and alerting: tell a person early, without crying wolf.

Streaming detectors share one protocol, ``update(timestamp, value) -> score``
in [0, 1] with no look-ahead, and run the same live and over history
(:func:`score_series`). Alert rules, their lifecycle, notifications and
back-testing build on them.

Names are imported on first use (PEP 562), not here. The agent evaluates
alert rules on every sample and needs only the rule, alert-manager and
notification modules; importing the whole package would bring in
scikit-learn (IsolationForest, ~90 MiB resident) and pandas, more than
doubling the agent's memory (docs/benchmarks/agent.md).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BacktestResult": ("_backtest", "BacktestResult"),
    "backtest_detector": ("_backtest", "backtest_detector"),
    "backtest_rule": ("_backtest", "backtest_rule"),
    "suggest_threshold": ("_backtest", "suggest_threshold"),
    "Detector": ("_base", "Detector"),
    "score_series": ("_base", "score_series"),
    "BackgroundRouter": ("_delivery", "BackgroundRouter"),
    "EnsembleDetector": ("_ensemble", "EnsembleDetector"),
    "CircuitOpenError": ("_errors", "CircuitOpenError"),
    "NotifyError": ("_errors", "NotifyError"),
    "RuleError": ("_errors", "RuleError"),
    "AnomalyLikelihood": ("_likelihood", "AnomalyLikelihood"),
    "RECORD_COLUMNS": ("_manager", "RECORD_COLUMNS"),
    "Alert": ("_manager", "Alert"),
    "AlertManager": ("_manager", "AlertManager"),
    "Forecaster": ("_manager", "Forecaster"),
    "IsolationForestDetector": ("_multivariate", "IsolationForestDetector"),
    "NAB_PROFILES": ("_nabscore", "PROFILES"),
    "CorpusScore": ("_nabscore", "CorpusScore"),
    "score_nab": ("_nabscore", "score_corpus"),
    "Channel": ("_notify", "Channel"),
    "CircuitBreaker": ("_notify", "CircuitBreaker"),
    "EmailChannel": ("_notify", "EmailChannel"),
    "LogChannel": ("_notify", "LogChannel"),
    "Notification": ("_notify", "Notification"),
    "Route": ("_notify", "Route"),
    "Router": ("_notify", "Router"),
    "ToastQueue": ("_notify", "ToastQueue"),
    "WebhookChannel": ("_notify", "WebhookChannel"),
    "DETECTORS": ("_registry", "DETECTORS"),
    "make_detector": ("_registry", "make_detector"),
    "register_detector": ("_registry", "register_detector"),
    "register_channel": ("_registry", "register_channel"),
    "ForecastResidualDetector": ("_residual", "ForecastResidualDetector"),
    "MADDetector": ("_robust", "MADDetector"),
    "SurpriseDetector": ("_robust", "SurpriseDetector"),
    "Matcher": ("_rules", "Matcher"),
    "Rule": ("_rules", "Rule"),
    "rule_from_dict": ("_rules", "rule_from_dict"),
    "rules_from_config": ("_rules", "rules_from_config"),
    "Silence": ("_silence", "Silence"),
    "silence_from_dict": ("_silence", "silence_from_dict"),
    "load_history": ("_store", "load_history"),
    "BreachForecaster": ("_predicted", "BreachForecaster"),
    "save_state": ("_state", "save_state"),
    "restore_state": ("_state", "restore_state"),
    "save_alert_records": ("_store", "save_alert_records"),
    "DetectorLab": ("_lab", "DetectorLab"),
    "LabelPanel": ("_lab", "LabelPanel"),
    "DetectorScore": ("_lab", "DetectorScore"),
    "RuleBacktest": ("_lab", "RuleBacktest"),
    "backtest_stored": ("_lab", "backtest_stored"),
    "score_detector": ("_lab", "score_detector"),
    "compare_detectors": ("_lab", "compare_detectors"),
    "load_series": ("_lab", "load_series"),
    "rule_toml": ("_lab", "rule_toml"),
    "write_rule": ("_lab", "write_rule"),
}

__all__ = [
    "BreachForecaster",
    "save_state",
    "restore_state",
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
    "register_channel",
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
    "DetectorLab",
    "LabelPanel",
    "DetectorScore",
    "RuleBacktest",
    "backtest_stored",
    "score_detector",
    "compare_detectors",
    "load_series",
    "rule_toml",
    "write_rule",
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'workbench.detect' has no attribute {name!r}")
    module, attr = target
    value = getattr(importlib.import_module(f"workbench.detect.{module}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
