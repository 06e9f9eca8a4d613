"""nbval runs every notebook top to bottom on the shipped demo data, with no agent.

The demo is loaded once into a temporary home before the first notebook's
kernel starts, and the kernels inherit ``WORKBENCH_HOME``.
"""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    if os.environ.get("WORKBENCH_NOTEBOOK_HOME"):
        os.environ["WORKBENCH_HOME"] = os.environ["WORKBENCH_NOTEBOOK_HOME"]
        return
    if not any(str(a).endswith(".ipynb") or "notebooks" in str(a) for a in config.args):
        return
    from workbench.demo import load_demo

    home = tempfile.mkdtemp(prefix="wb-notebooks-")
    load_demo(home)
    os.environ["WORKBENCH_HOME"] = home
