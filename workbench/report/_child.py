"""``python -m workbench.report._child JOB.json``: one scheduled report run, started by the agent.

Runs the report (:func:`run_report`), feeds its outcome to the alert rules
(:mod:`._alert`) and, when it succeeded, delivers it (:mod:`._deliver`).
Exit status: 0 ok, 1 the notebook failed (recorded), 3 the same report was
already running, 2 anything else (the message is in ``.child.log``).

``python -m workbench.report._child JOB.json --died CODE`` only raises the
failure alert, for a run whose process died before it could (killed, out of
memory): the agent starts it, as it starts a run, and never waits on it.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("papermill").setLevel(logging.WARNING)
    job = json.loads(Path(argv[0]).read_text())
    if len(argv) == 3 and argv[1] == "--died":
        return _died(job, int(argv[2]))
    from workbench.report._config import ReportSpec
    from workbench.report._errors import ReportBusyError
    from workbench.report._run import run_report

    spec = ReportSpec(**{**job["spec"], "deliver": tuple(job["spec"].get("deliver") or ())})
    home = Path(job["home"])
    try:
        res = run_report(spec.name, home=home, notebook=spec.notebook, params=spec.params, keep=spec.keep,
                         max_age=spec.max_age, cell_timeout=spec.cell_timeout)
    except ReportBusyError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 3
    from workbench.report._alert import report_outcome_alert

    try:
        report_outcome_alert(home, spec.name, res, host=job.get("host", ""), alerts=job.get("alerts"),
                             notify=job.get("notify"))
    except Exception:  # noqa: BLE001 - the run is kept; a broken alert path must not hide it
        logging.getLogger("workbench.report").exception("could not raise the report alert")
    if res.status == "ok" and spec.deliver:
        from workbench.config import Config
        from workbench.report._deliver import deliver

        cfg = Config(home=home, notify=job.get("notify") or {})
        for line in deliver(spec, res, cfg, home / "reports"):
            print(line, file=sys.stderr)
    print(f"report {spec.name}: {res.status} in {res.duration_s:.1f} s ({res.dir})", file=sys.stderr)
    return 0 if res.status == "ok" else 1


class _Died:
    """What :func:`report_outcome_alert` needs of a run that recorded nothing."""

    status = "failed"

    def __init__(self, code: int) -> None:
        self.code = code

    def describe_failure(self) -> str:
        how = f"signal {-self.code}" if self.code < 0 else f"exit code {self.code}"
        return f"its process ended ({how}) before it recorded a run"


def _died(job: dict, code: int) -> int:
    from workbench.report._alert import report_outcome_alert

    name = job["spec"]["name"]
    report_outcome_alert(Path(job["home"]), name, _Died(code), host=job.get("host", ""), alerts=job.get("alerts"),
                         notify=job.get("notify"))
    print(f"report {name}: its process ended with {code} before it recorded a run; alert raised", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
