"""Every example in README.md runs verbatim on the demo data (issue 13, item 9).

The fenced ``sh`` blocks run line by line in a shell, with ``.venv/bin/workbench``
being this interpreter's CLI and ``WORKBENCH_HOME`` a copy of the demo home; the
``python`` blocks run in order as one script (one namespace, as a reader pastes
them into one session or notebook); the ``toml`` block must pass
``workbench config --check``. What cannot run here is listed in SKIP with the
reason; an example that is meant to fail on the demo shows its message in
EXPECTED_ERROR.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# A line of a sh block that contains the key is not run, for the reason given.
SKIP = {
    "make run": "starts the agent and the dashboard until Ctrl-C (tests/test_cli_global_options.py runs "
                "`workbench up`; tests/ui serve the dashboard)",
    "make test": "runs the whole test suite",
    "workbench report    ": "runs the report notebook with papermill (15-30 s here); tests/report run reports on "
                            "the demo data",
    "workbench report daily": "the same papermill run with parameters (15-30 s here); the demo hosts it names exist, "
                              "and tests/report check parameters against the demo data",
}
# A line that contains the key must exit 2 with this message: the demo has no such thing, and says so.
EXPECTED_ERROR = {
    "alerts ack 'cpu_high|myhost": "No alert 'cpu_high|myhost|system.cpu.utilization|cpu=total'",
}

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def _blocks(lang: str) -> list[str]:
    return [body for kind, body in _FENCE.findall(README.read_text()) if kind == lang]


def _sh_lines() -> list[str]:
    return [line for body in _blocks("sh") for line in body.splitlines() if line.strip()]


def test_the_readme_has_the_examples_this_test_runs():
    assert len(_sh_lines()) >= 10 and len(_blocks("python")) >= 4 and len(_blocks("toml")) == 1


@pytest.fixture(scope="module")
def readme_env(demo_home, tmp_path_factory):
    """A writable copy of the demo home, a working directory and `.venv/bin/workbench` in it."""
    work = tmp_path_factory.mktemp("readme")
    home = work / "home"
    shutil.copytree(demo_home, home)
    bin_dir = work / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "workbench").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m workbench.cli "$@"\n')
    (bin_dir / "workbench").chmod(0o755)
    env = dict(os.environ, WORKBENCH_HOME=str(home), PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("WORKBENCH_CONFIG", None)
    return work, env


def _sh_params():
    for i, line in enumerate(_sh_lines(), 1):
        skip = next((why for key, why in SKIP.items() if key in line), None)
        words = re.sub(r"[^\w.=-]+", " ", line.split("#")[0].replace(".venv/bin/", "")).split()
        yield pytest.param(line, id=f"{i}-{'_'.join(words[:4])}",
                           marks=[pytest.mark.skip(reason=skip)] if skip else [])


@pytest.mark.parametrize("line", list(_sh_params()))
def test_sh_example(readme_env, line):
    work, env = readme_env
    res = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in res.stderr, res.stderr
    expected = next((msg for key, msg in EXPECTED_ERROR.items() if key in line), None)
    if expected:
        assert res.returncode == 2 and expected in res.stderr, (res.returncode, res.stderr)
    else:
        assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-2000:])
        assert res.stdout.strip() or res.stderr.strip()


def test_python_examples(readme_env):
    work, env = readme_env
    parts = []
    for i, body in enumerate(_blocks("python"), 1):
        parts.append(f"print('--- README python block {i}', flush=True)\n{body}")
    code = "\n".join(parts) + "\nprint('--- all blocks ran', flush=True)\n"
    # -c, as a REPL or notebook runs it: __main__ has no file, so the process backend's workers (forkserver)
    # do not re-run the script, and the functions the examples define reach them by value (cloudpickle).
    res = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-5000:])
    assert "--- all blocks ran" in res.stdout


def test_toml_example_passes_config_check(readme_env):
    work, env = readme_env
    (cfg := work / "workbench.toml").write_text(_blocks("toml")[0])
    res = subprocess.run([sys.executable, "-m", "workbench.cli", "--config", str(cfg), "config", "--check"], cwd=work,
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
