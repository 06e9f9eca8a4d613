"""``workbench report --list`` and retention of old runs by count and age."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from workbench.report._store import apply_retention, list_reports, write_index


def _fake_run(root: Path, name: str, stamp: str, started: float, status: str = "ok") -> Path:
    d = root / name / (stamp if status == "ok" else f"{stamp}.failed")
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"name": name, "status": status, "started": started,
                                            "duration_s": 1.5, "cell": None if status == "ok" else 2,
                                            "error": "" if status == "ok" else "KeyError: 'x'"}))
    if status == "ok":
        (d / "report.html").write_text("<html></html>")
    return d


def test_retention_by_count_and_age_keeps_the_newest_good_report(tmp_path):
    now = time.time()
    runs = [_fake_run(tmp_path, "daily", f"2026030{i}T070000Z", now - (9 - i) * 86400) for i in range(1, 6)]
    failed = [_fake_run(tmp_path, "daily", f"2026030{i}T070000Z", now - (9 - i) * 86400 + 60, "failed")
              for i in (6, 7)]
    assert apply_retention(tmp_path, "daily", keep=4) == [str(runs[2]), str(runs[1]), str(runs[0])]
    left = [r["dir"] for r in list_reports(tmp_path, "daily")]
    assert left == [str(failed[1]), str(failed[0]), str(runs[4]), str(runs[3])]
    # by age: everything is older than a day, but the newest good report always stays
    removed = apply_retention(tmp_path, "daily", max_age=86400)
    assert sorted(removed) == sorted([str(failed[1]), str(failed[0]), str(runs[3])])
    assert [r["dir"] for r in list_reports(tmp_path, "daily")] == [str(runs[4])]
    index = write_index(tmp_path).read_text()
    assert index.count("<tr data-report") == 1


def test_list_shows_schedules_last_and_next_run(tmp_path):
    home = tmp_path / "home"
    root = home / "reports"
    _fake_run(root, "daily", "20260301T070000Z", time.time() - 3600)
    _fake_run(root, "daily", "20260302T070000Z", time.time() - 60, "failed")
    _fake_run(root, "adhoc", "20260302T080000Z", time.time() - 30)
    toml = tmp_path / "workbench.toml"
    toml.write_text('[reports.daily]\ncron = "0 7 * * *"\n[reports.weekly]\ncron = "0 6 * * 1"\n')
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--config", str(toml), "--home", str(home), "report",
                          "--list", "--format", "json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {r["report"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"daily", "weekly", "adhoc"}
    d = rows["daily"]
    assert d["cron"] == "0 7 * * *" and d["status"] == "failed" and d["error"] == "cell 2: KeyError: 'x'"
    assert d["duration_s"] == 1.5 and d["kept"] == 2 and d["next_run"].endswith("07:00")
    assert d["latest"].endswith("20260301T070000Z/report.html")  # the newest good one
    assert rows["weekly"]["kept"] == 0 and rows["weekly"]["next_run"].endswith("06:00")
    assert rows["adhoc"]["cron"] == "" and rows["adhoc"]["status"] == "ok"
    table = subprocess.run([sys.executable, "-m", "workbench.cli", "--config", str(toml), "--home", str(home),
                            "report", "--list"], capture_output=True, text=True, timeout=60).stdout
    assert "daily" in table and "failed" in table and "0 6 * * 1" in table
