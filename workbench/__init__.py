"""Workbench: watch, understand, predict and steer the resources of your machines."""

from workbench.errors import WorkbenchError

__version__ = "0.1.0"
__all__ = ["WorkbenchError", "__version__"]
