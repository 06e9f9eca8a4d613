"""Parsing that is ours (Linux PSI) against fixture trees, plus pure rate and mapping logic."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from workbench.collect import CpuCollector, PressureCollector, Sample
from workbench.collect._pressure import parse_pressure
from workbench.collect._rates import RateTracker
from workbench.collect._sensors import battery_samples, fan_samples, temperature_samples
from workbench.errors import DataError

# The result shapes psutil documents for sensors_temperatures/fans/battery (its own
# namedtuples live in a private module that moved between psutil versions).
shwtemp = namedtuple("shwtemp", "label current high critical")
sfan = namedtuple("sfan", "label current")
sbattery = namedtuple("sbattery", "percent secsleft power_plugged")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class Clock:
    """A clock the test advances by hand, so rates are exact."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _copy_tree(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def _bump(path: Path, **add_us: int) -> None:
    """Add microseconds to the ``total=`` of the given scopes in a PSI file."""
    lines = []
    for line in path.read_text().splitlines():
        scope, *pairs = line.split()
        fields = dict(p.split("=") for p in pairs)
        fields["total"] = str(int(fields["total"]) + add_us.get(scope, 0))
        lines.append(" ".join([scope, *(f"{k}={v}" for k, v in fields.items())]))
    path.write_text("\n".join(lines) + "\n")


def test_parse_pressure_reads_every_field():
    parsed = parse_pressure((FIXTURES / "proc/pressure/io").read_text())
    assert parsed == {
        "some": {"avg10": 1.10, "avg60": 0.78, "avg300": 0.32, "total": 1763549.0},
        "full": {"avg10": 0.82, "avg60": 0.64, "avg300": 0.27, "total": 1600747.0},
    }
    assert parse_pressure((FIXTURES / "proc/pressure/irq").read_text()) == {
        "full": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total": 5000.0}
    }


@pytest.mark.parametrize("text", ["some avg10=garbage total\n", "weird total=1\n", "some avg10=1\n"])
def test_parse_pressure_rejects_malformed_lines(text):
    with pytest.raises(DataError, match="Unexpected line in a pressure file"):
        parse_pressure(text)


def test_pressure_rates_from_fixture_tree(tmp_path):
    root = _copy_tree("proc", tmp_path)
    c = PressureCollector(proc=str(root))
    c._clock = clock = Clock()
    assert c.collect() == []  # first reading: no rate yet
    _bump(root / "pressure/cpu", some=500_000)  # 0.5 s stalled ...
    _bump(root / "pressure/memory", some=20_000, full=10_000)
    _bump(root / "pressure/io", some=2_000_000, full=100_000)
    clock.t += 2.0  # ... over 2 s
    got = {s.labels: s.value for s in c.collect()}
    assert got == pytest.approx(
        {
            "resource=cpu,scope=some": 0.25,
            "resource=cpu,scope=full": 0.0,
            "resource=memory,scope=some": 0.01,
            "resource=memory,scope=full": 0.005,
            "resource=io,scope=some": 1.0,  # 2 s stalled in 2 s
            "resource=io,scope=full": 0.05,
            "resource=irq,scope=full": 0.0,
        }
    )
    assert c.errors == {}


def test_pressure_counter_reset_skips_one_tick(tmp_path):
    root = _copy_tree("proc", tmp_path)
    c = PressureCollector(proc=str(root))
    c._clock = clock = Clock()
    c.collect()
    (root / "pressure/cpu").write_text(
        "some avg10=0 avg60=0 avg300=0 total=10\nfull avg10=0 avg60=0 avg300=0 total=0\n"
    )
    clock.t += 1.0
    labels = {s.labels for s in c.collect()}
    assert "resource=cpu,scope=some" not in labels  # went backwards: skipped, never negative
    assert "resource=io,scope=some" in labels
    _bump(root / "pressure/cpu", some=100_000)
    clock.t += 1.0
    got = {s.labels: s.value for s in c.collect()}
    assert got["resource=cpu,scope=some"] == pytest.approx(0.1)


def test_pressure_bad_files_are_counted_not_raised(tmp_path):
    root = _copy_tree("proc_bad", tmp_path)
    c = PressureCollector(proc=str(root))
    c._clock = clock = Clock()
    assert c.collect() == []
    _bump(root / "pressure/cpu", some=300_000)
    clock.t += 1.0
    samples = c.collect()
    assert samples == [Sample("system.pressure.stall", "resource=cpu,scope=some", pytest.approx(0.3))]
    # memory malformed and io a directory, on both ticks; absent irq is not an error
    assert c.errors == {"DataError": 2, "IsADirectoryError": 2}


def test_pressure_unavailable_without_psi(tmp_path):
    c = PressureCollector(proc=str(tmp_path))
    assert c.collect() == [] and c.collect() == [] and c.errors == {}


def test_rate_tracker_first_reading_wrap_and_forget():
    r = RateTracker()
    assert r.rate("a", 100, 10.0) is None
    assert r.rate("a", 300, 12.0) == 100.0
    assert r.rate("a", 50, 13.0) is None  # wrapped or reset: baseline only
    assert r.rate("a", 150, 14.0) == 100.0
    assert r.rate("a", 150, 14.0) is None  # no time passed
    assert r.delta("b", 5, 1.0) is None and r.delta("b", 8, 3.0) == (3, 2.0)
    r.keep_only(["b"])
    assert len(r) == 1 and r.rate("a", 1000, 20.0) is None


def test_cpu_utilization_from_tick_deltas():
    c = CpuCollector()
    T = type(psutil.cpu_times())
    zero = T(*([0.0] * len(T._fields)))
    later = zero._replace(user=3.0, system=1.0, idle=4.0, **({"guest": 3.0} if "guest" in T._fields else {}))
    got = {s.labels: s.value for s in c._utilization("0", zero, later)}
    assert got["cpu=0,state=user"] == pytest.approx(3 / 8)  # guest is inside user, not added
    assert got["cpu=0,state=idle"] == pytest.approx(0.5)
    assert sum(got.values()) == pytest.approx(1.0)
    assert "cpu=0,state=guest" not in got
    assert c._utilization("0", later, zero) == []  # counters went backwards: skipped
    assert c._utilization("0", later, later) == []  # no time passed


def test_sensor_mapping_keeps_unnamed_inputs_apart():
    temps = {
        "coretemp": [shwtemp("Package id 0", 45.0, 80.0, 100.0), shwtemp("", 41.0, None, None)],
        "nvme": [shwtemp("Composite", 38.85, 84.85, 84.85)],
    }
    assert temperature_samples(temps) == [
        Sample("system.temperature", "label=Package id 0,sensor=coretemp", 45.0),
        Sample("system.temperature", "label=coretemp1,sensor=coretemp", 41.0),
        Sample("system.temperature", "label=Composite,sensor=nvme", 38.85),
    ]
    assert fan_samples({"thinkpad": [sfan("", 2900)]}) == [
        Sample("system.fan.speed", "label=thinkpad0,sensor=thinkpad", 2900.0)
    ]


def test_battery_mapping():
    assert battery_samples(None) == []
    on_battery = battery_samples(sbattery(percent=62.5, secsleft=3600, power_plugged=False))
    assert on_battery == [
        Sample("system.battery.charge", "", 0.625),
        Sample("system.battery.power_plugged", "", 0.0),
        Sample("system.battery.time_remaining", "", 3600.0),
    ]
    plugged = battery_samples(sbattery(100, psutil.POWER_TIME_UNLIMITED, True))
    assert [s.metric for s in plugged] == ["system.battery.charge", "system.battery.power_plugged"]
