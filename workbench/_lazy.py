"""Lazy package exports (PEP 562): the one ``__getattr__``/``__dir__`` a package's ``__init__`` uses.

    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)

``exports`` maps a public name to the module that defines it; the module is
imported on first access and the value cached in the package's namespace, so
importing the package costs nothing until a name is used. Standard library only.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str],
                 public: Iterable[str] = ()) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public) | set(exports))

    return __getattr__, __dir__
