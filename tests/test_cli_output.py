"""CLI tables print data verbatim: no rich markup, no emoji codes, no cut names, short floats."""

from __future__ import annotations

import io
import subprocess
import sys

import pandas as pd
import pytest

from workbench.cli import _print_df

TRICKY = ["a[/]b", "[x]", ":x:", "[bold]y[/bold]", "[link=http://e]z[/link]", "\\[esc]", ":thumbs_up:"]


def _table(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    _print_df(df, "table", out=buf)
    return buf.getvalue()


def test_markup_and_emoji_codes_in_data_print_verbatim():
    out = _table(pd.DataFrame({"cmdline": TRICKY, "[n]": range(len(TRICKY))}))
    for text in TRICKY:
        assert text in out, (text, out)
    assert "[n]" in out  # a column name is data too
    assert "❌" not in out and "👍" not in out


def test_workbench_sql_prints_a_closing_tag_verbatim(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--home", str(tmp_path), "sql", "select 'a[/]b' as s, ':x: [x]' as t"],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr  # was rich.errors.MarkupError
    assert "a[/]b" in res.stdout and ":x: [x]" in res.stdout


def test_floats_print_with_six_significant_digits():
    out = _table(pd.DataFrame({"value": [0.1 + 0.2, 1 / 3, 1234567.891, 42.0, float("nan")], "n": [1, 2, 3, 4, 5]}))
    assert "0.30000000000000004" not in out and "0.333333333" not in out
    for text in ("0.3 ", "0.333333 ", "1.23457e+06 ", "42 "):
        assert text in out, (text, out)


@pytest.mark.parametrize("n", [1, 3])
def test_metric_names_and_labels_are_not_cut(n):
    df = pd.DataFrame({
        "ts": pd.to_datetime([1_700_000_000] * n, unit="s", utc=True),
        "host": ["build-server-eu-west-1.example.internal"] * n,
        "metric": ["system.filesystem.utilization.extra_long_name"] * n,
        "labels": ["device=/dev/nvme0n1p2,mode=rw,mountpoint=/var/lib/docker"] * n,
        "value": [0.5] * n,
    })
    out = _table(df)
    assert "…" not in out
    assert "system.filesystem.utilization.extra_long_name" in out  # on one line
    assert "build-server-eu-west-1.example.internal" in out
