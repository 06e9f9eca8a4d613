"""Fixtures for the report tests: one real report run on the demo data, tiny notebooks, Chromium.

The browser fixtures (Debian's Chromium driven by Playwright) are the
session's one browser, from ``tests/conftest.py``, shared with the dashboard tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def report_run(demo_home, tmp_path_factory):
    """The shipped report notebook run once on the demo (kept outside the shared demo home)."""
    from workbench.report import run_report

    out = tmp_path_factory.mktemp("reports")
    res = run_report("daily", home=demo_home, out=out, raw_params={"since": "1d", "title": "Daily test report"},
                     check=True)
    return res


def tiny_notebook(path: Path, body: list[str], params: str = 'since = "1d"\nfail = False') -> Path:
    """A small report notebook: a parameters cell, then one code cell per ``body`` entry."""
    cells = [{"cell_type": "code", "execution_count": None, "id": "p", "metadata": {"tags": ["parameters"]},
              "outputs": [], "source": params}]
    cells += [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
               "source": src} for i, src in enumerate(body)]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path
