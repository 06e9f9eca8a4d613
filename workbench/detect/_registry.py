"""Detectors by name, so configs and command lines can say ``detector = "default"``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.detect._base import Detector
from workbench.detect._ensemble import EnsembleDetector
from workbench.detect._multivariate import IsolationForestDetector
from workbench.detect._residual import ForecastResidualDetector
from workbench.detect._robust import MADDetector, SurpriseDetector
from workbench.errors import ConfigError

__all__ = ["DETECTORS", "register_detector", "make_detector"]

#: name -> factory; "default" is the one we recommend (best NAB score here,
#: see docs/benchmarks/detect.md)
DETECTORS: dict[str, Callable[..., Detector]] = {
    "default": EnsembleDetector,
    "ensemble": EnsembleDetector,
    "surprise": SurpriseDetector,
    "mad": MADDetector,
    "residual": ForecastResidualDetector,
    "iforest": IsolationForestDetector,
}


def register_detector(name: str, factory: Callable[..., Detector]) -> None:
    """Add a detector under ``name``; names are unique."""
    if name in DETECTORS:
        raise ConfigError(
            f"A detector named {name!r} is already registered; pick another name.", name=name
        )
    DETECTORS[name] = factory


def make_detector(name: str, **params: Any) -> Detector:
    """Build the detector registered as ``name`` with hyperparameters ``params``."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown detector {name!r}; choose one of {sorted(DETECTORS)}.", name=name
        ) from None
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"Bad parameters for detector {name!r}: {exc}.", name=name) from None
