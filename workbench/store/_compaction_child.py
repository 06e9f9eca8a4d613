"""One compaction cycle in a short-lived child process of the agent.

Why a child: compaction needs DuckDB and numpy, ~50 MiB of resident memory
and ~0.3 s of CPU to import, for work that takes a second every few minutes.
Kept in the agent, that memory would stay for its whole life (the agent's
RSS went from ~60 to ~140 MiB). In a child it is paid only while it runs,
and the agent's own footprint stays small.

Safety, the same as when the agent compacted in a thread:

* The agent holds the host lock for the child; no one else compacts.
* The child dies with the agent (``PR_SET_PDEATHSIG``), so a successor agent
  that takes the lock over after a ``kill -9`` never finds an orphan still
  compacting beside its own child. Killing a compaction midway is safe: every
  change becomes visible through one atomic manifest replacement.

Run by the agent only::

    python -m workbench.store._compaction_child HOME HOST POLICY_JSON PARENT_PID

It prints one JSON line: the :class:`CompactionReport` plus the child's peak
resident memory (``peak_rss_bytes``), so the agent can publish what
compaction costs. Exit status 0 on success, 1 on failure (traceback on
stderr), 3 when the agent was already gone.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from dataclasses import asdict
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill us when the agent's thread that started us exits (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # no prctl: the parent check below still catches the common case
    if os.getppid() != parent:  # the agent died before prctl took effect
        sys.exit(3)


def main(argv: list[str]) -> int:
    home, host, policy_json, parent = argv
    _die_with_parent(int(parent))
    from workbench.store._compact import CompactionPolicy, Compactor
    from workbench.store._layout import Layout

    comp = Compactor(Layout(Path(home)), host, CompactionPolicy(**json.loads(policy_json)))
    try:
        report = comp.run_once()
    finally:
        comp.close()
    out = asdict(report)
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
