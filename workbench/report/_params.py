"""Parameters are checked against the notebook's ``parameters`` cell before anything runs.

papermill only warns about a parameter the notebook does not declare, and
injects it anyway (papermill#818), so a typo (``--param sinse=2d``) would run
the default report without a word. Here an unknown name is an error that
lists the parameters that exist, and a value must have the type of the
declared default (a list for ``hosts = []``, a number for ``top = 10``; a
default of ``None`` takes a string or nothing).
"""

from __future__ import annotations

import ast
import difflib
import json
import os
from typing import Any

from workbench.report._errors import ReportParameterError

__all__ = ["declared_parameters", "check_parameters", "parse_cli_value"]


def declared_parameters(notebook: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """``name -> {"default": value, "type": type name, "help": text}`` from the notebook's parameters cell."""
    from papermill.inspection import inspect_notebook

    out = {}
    for name, p in inspect_notebook(str(notebook)).items():
        try:
            default = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            default = None
        declared = p.get("inferred_type_name") or "None"
        kind = declared if declared != "None" else _type_name(default)
        out[name] = {"default": default, "type": kind, "help": p.get("help") or ""}
    if not out:
        raise ReportParameterError(
            f"{notebook} has no parameters cell: tag one code cell 'parameters' (papermill's convention) so "
            "that its values can be set.", notebook=str(notebook))
    return out


def _type_name(value: Any) -> str:
    if value is None:
        return "str | None"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float" if isinstance(value, float) else "int"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "str"


def parse_cli_value(text: str, kind: str) -> Any:
    """``--param key=value`` text as the declared type: ``hosts=a,b`` is a list, ``top=5`` an int."""
    t = text.strip()
    if kind == "list":
        if t.startswith("["):
            try:
                return json.loads(t)
            except ValueError:
                pass
        return [p.strip() for p in t.split(",") if p.strip()]
    if kind in ("int", "float"):
        try:
            return int(t) if kind == "int" else float(t)
        except ValueError:
            return text  # refused by check_parameters with the expected type named
    if kind == "bool":
        return {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}.get(t.lower(), text)
    if kind == "dict":
        try:
            return json.loads(t)
        except ValueError:
            return text
    if kind == "str | None" and t.lower() in ("none", "null", ""):
        return None
    return text


def _ok(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "str | None":
        return value is None or isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, (list, tuple))
    if kind == "dict":
        return isinstance(value, dict)
    return True  # a type papermill names that we do not know: trust the notebook


def _listing(declared: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{n} ({d['type']}, default {d['default']!r})" for n, d in declared.items())


def check_parameters(notebook: str | os.PathLike, params: dict[str, Any], *,
                     raw: dict[str, str] | None = None) -> dict[str, Any]:
    """The parameters to inject, checked: every name declared, every value of its declared type.

    ``raw`` holds ``--param`` texts (``{"hosts": "a,b"}``), converted to the
    declared type first. Raises :class:`ReportParameterError` naming the
    parameter, what was given and the parameters that exist.
    """
    declared = declared_parameters(notebook)
    values = dict(params)
    for name, text in (raw or {}).items():
        if name in declared:
            values[name] = parse_cli_value(text, declared[name]["type"])
        else:
            values[name] = text
    for name, value in values.items():
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ReportParameterError(
                f"The report notebook {os.path.basename(str(notebook))} has no parameter {name!r}.{hint} "
                f"Its parameters are: {_listing(declared)}.", parameter=name, known=sorted(declared))
        kind = declared[name]["type"]
        if isinstance(value, tuple):
            value = values[name] = list(value)
        if not _ok(value, kind):
            example = {"list": "a list, e.g. hosts=web1,web2", "int": "a whole number", "float": "a number",
                       "bool": "true or false", "str": "text", "str | None": "text or none",
                       "dict": "a JSON object"}.get(kind, kind)
            raise ReportParameterError(
                f"Parameter {name!r} of {os.path.basename(str(notebook))} must be {example} (its default is "
                f"{declared[name]['default']!r}); got {value!r} ({type(value).__name__}).",
                parameter=name, expected=kind)
    return values
