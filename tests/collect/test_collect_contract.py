"""One contract suite, run over every registered collector on the real machine."""

from __future__ import annotations

import math
import pickle
import time

import pytest

from workbench.catalog import MetricSpec, global_catalog
from workbench.collect import Collector, Registry, Sample, registry
from workbench.errors import ConfigError
from workbench.labels import canonical_labels

NAMES = registry.names()
# Enough for a large workstation (cores x states, disks, interfaces); an unbounded
# label set (one per request, per pid without top-N) would blow through it.
MAX_SERIES = 2000


@pytest.fixture(params=NAMES)
def collector(request):
    c = registry.create(request.param)
    yield c
    c.close()


def _check_samples(c: Collector, samples: list[Sample]) -> None:
    specs = {s.name: s for s in c.metrics()}
    assert isinstance(samples, list)
    series = set()
    for s in samples:
        assert isinstance(s, Sample)
        assert s.metric in specs, f"{c.name} emitted {s.metric!r}, not in its metrics()"
        assert isinstance(s.labels, str)
        assert s.labels == canonical_labels(s.labels), f"labels not canonical: {s.labels!r}"
        assert isinstance(s.value, float), f"{s.metric} value {s.value!r} is not a float"
        assert math.isfinite(s.value), f"{s.metric}{{{s.labels}}} = {s.value}"
        spec = specs[s.metric]
        if spec.kind == "rate":
            assert s.value >= 0, f"negative rate {s.metric}{{{s.labels}}} = {s.value}"
        if spec.unit == "1":
            assert 0.0 <= s.value <= 1.0, f"fraction out of range {s.metric} = {s.value}"
        if spec.unit in ("By", "By/s", "{process}", "{thread}"):
            assert s.value >= 0
        key = (s.metric, s.labels)
        assert key not in series, f"duplicate series in one tick: {key}"
        series.add(key)
    assert len(series) <= MAX_SERIES


def test_collect_twice_gives_wellformed_samples(collector):
    first = collector.collect()
    _check_samples(collector, first)
    time.sleep(0.2)
    second = collector.collect()
    _check_samples(collector, second)
    assert isinstance(collector.errors, dict)
    assert all(isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in collector.errors.items())
    if not type(collector).available():
        assert first == second == []


def test_first_tick_emits_no_rates(collector):
    kinds = {s.name: s.kind for s in collector.metrics()}
    first = collector.collect()
    assert [s for s in first if kinds[s.metric] == "rate"] == []
    assert [s for s in first if s.metric.endswith("cpu.utilization")] == []


def test_available_collectors_emit_on_second_tick():
    # The machine running the tests has CPU, memory, disks, network, processes.
    for name in ("cpu", "memory", "disk", "network", "processes", "filesystem", "load"):
        c = registry.create(name)
        c.collect()
        time.sleep(0.05)
        assert c.collect(), f"collector {name!r} emitted nothing on its second tick"


def test_metrics_are_catalogued(collector):
    specs = collector.metrics()
    assert specs, "a collector must declare the metrics it emits"
    for spec in specs:
        assert isinstance(spec, MetricSpec)
        assert spec.source == collector.name
        assert global_catalog().get(spec.name) == spec
        assert spec.description


def test_interval_default_and_override(collector):
    cls = type(collector)
    assert collector.interval == float(cls.default_interval) > 0
    assert cls(interval=7).interval == 7.0
    for bad in (0, -1, float("nan"), "5", True):
        with pytest.raises(ConfigError, match="interval"):
            cls(interval=bad)


def test_unknown_option_names_the_valid_ones(collector):
    cls = type(collector)
    with pytest.raises(ConfigError) as info:
        cls(no_such_option=1)
    message = str(info.value)
    assert "no_such_option" in message and "interval" in message
    for option in cls.option_defaults:
        assert option in message
    assert isinstance(info.value, ValueError)
    assert pickle.loads(pickle.dumps(info.value)).valid == info.value.valid


def test_wrong_option_type_names_the_expected_type():
    with pytest.raises(ConfigError, match="must be of type int; got str"):
        registry.create("processes", top_n="10")
    with pytest.raises(ConfigError, match="must be of type bool"):
        registry.create("cpu", percpu=1)
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        registry.create("disk", exclude="(")
    with pytest.raises(ConfigError, match="at least 1"):
        registry.create("processes", top_n=0)


def test_duplicate_registration_is_refused():
    class OtherCpu(Collector):
        name = "cpu"

    with pytest.raises(ConfigError, match="already registered"):
        registry.register(OtherCpu)
    with pytest.raises(ConfigError, match="already registered"):
        registry.register(registry.get("memory"))
    assert registry.get("cpu") is not OtherCpu


def test_registry_lifecycle_with_a_plugin():
    class Constant(Collector):
        name = "constant"
        specs = (MetricSpec("test.constant", "1", "gauge", "Always one.", source="constant"),)

        def _collect(self):
            return [Sample("test.constant", "", 1.0)]

    reg = Registry()
    assert reg.register(Constant) is Constant
    assert reg.names() == ["constant"] == reg.default_names()
    c = reg.create("constant", interval=2)
    assert c.collect() == [Sample("test.constant", "", 1.0)] and c.interval == 2.0
    with pytest.raises(ConfigError, match="registered collectors are: constant"):
        reg.get("nope")
    with pytest.raises(ConfigError, match="Only subclasses"):
        reg.register(object)
    reg.unregister("constant")
    assert "constant" not in reg


def test_default_names_cover_every_builtin():
    assert set(registry.default_names()) == {
        "cpu", "load", "memory", "filesystem", "disk", "network", "processes", "sensors", "pressure",
    }
