"""The governor as a pure function of scripted CPU/memory traces (no threads, fake clock)."""

from __future__ import annotations

import math

import pytest

from workbench.errors import ConfigError
from workbench.execute import Governor

GiB = 2**30


def closed_loop(gov: Governor, background: list[float], per_worker: float, steps_per_s: int = 4,
                mem_per_worker: float = 0.0, mem_base: float = 1 * GiB, total: float = 16 * GiB):
    """Simulate a machine where each running worker adds ``per_worker`` CPU; always demand."""
    limits = []
    for i, bg in enumerate(background):
        now = i / steps_per_s
        running = gov.limit_ if hasattr(gov, "limit_") else 1
        cpu = min(1.0, bg + per_worker * running)
        mem = mem_base + mem_per_worker * running
        limits.append(gov.update(now, cpu, mem, total, running=running, queued=100))
    return limits


def reversals(xs: list[int]) -> int:
    steps = [b - a for a, b in zip(xs, xs[1:], strict=False) if b != a]
    return sum(1 for a, b in zip(steps, steps[1:], strict=False) if (a > 0) != (b > 0))


def test_raises_when_idle_and_lowers_under_load_without_oscillating():
    gov = Governor(cpu_target=0.8, min_workers=1, max_workers=16, initial_workers=1, cooldown=1.0, smoothing=1.0)
    trace = [0.0] * 120 + [0.6] * 120 + [0.0] * 120  # quiet, someone else loads the machine, quiet
    limits = closed_loop(gov, trace, per_worker=0.1)
    quiet1, busy, quiet2 = limits[119], limits[239], limits[-1]
    assert quiet1 >= 7, limits[:120]  # 0.1 per worker, target 0.8 -> about 8
    assert busy <= 3, limits[120:240]  # background 0.6 leaves room for ~2
    assert quiet2 >= 7
    # settled phases hold still: no oscillation in the last 15 s of each phase
    for phase in (limits[60:120], limits[180:240], limits[300:360]):
        assert len(set(phase)) == 1, phase
    assert reversals(limits) <= 3


def test_cpu_bound_workers_on_few_cores_do_not_flap():
    # Two cores: each worker takes half the machine; target 0.85 lies between 1 and 2 workers.
    gov = Governor(cpu_target=0.85, min_workers=1, max_workers=4, initial_workers=1, smoothing=1.0)
    limits = closed_loop(gov, [0.0] * 200, per_worker=0.5)
    assert set(limits) == {1}


def test_memory_target_lowers_limit():
    gov = Governor(cpu_target=0.9, mem_target=0.5, max_workers=8, initial_workers=8, smoothing=1.0, mem_budget=8 * GiB)
    limits = closed_loop(gov, [0.0] * 40, per_worker=0.01, mem_per_worker=1 * GiB, mem_base=0)
    assert limits[-1] <= 4
    assert any("memory" in d.reason for d in gov.decisions_)


def test_hysteresis_band_holds():
    gov = Governor(cpu_target=0.7, hysteresis=0.1, max_workers=8, initial_workers=4, smoothing=1.0)
    for i in range(100):  # CPU wanders inside 0.6..0.8: no change
        gov.update(i * 0.25, 0.6 + 0.2 * ((i * 7) % 10) / 10, GiB, 16 * GiB, running=4, queued=10)
    assert gov.limit_ == 4
    assert len(gov.decisions_) == 1  # only the initial entry


def test_no_increase_without_demand():
    gov = Governor(max_workers=8, initial_workers=2, smoothing=1.0)
    for i in range(40):
        gov.update(i * 0.25, 0.05, GiB, 16 * GiB, running=1, queued=0)
    assert gov.limit_ == 2


def test_smoothing_ignores_a_single_spike():
    gov = Governor(cpu_target=0.8, max_workers=8, initial_workers=4, smoothing=0.2, cooldown=0.0)
    gov.update(0.0, 0.5, GiB, 16 * GiB, running=4, queued=0)
    gov.update(0.25, 1.0, GiB, 16 * GiB, running=4, queued=0)  # smoothed: 0.6
    assert gov.limit_ == 4
    assert math.isclose(gov.cpu_, 0.6)


def test_predictor_lowers_before_the_peak_and_errors_are_survived():
    calls = []

    def predictor(now):
        calls.append(now)
        if now > 5:
            raise RuntimeError("model broke")
        return (0.99, None) if now >= 2 else (None, None)

    gov = Governor(cpu_target=0.8, max_workers=8, initial_workers=6, smoothing=1.0, predictor=predictor)
    gov.update(1.0, 0.3, GiB, 16 * GiB, running=6, queued=0)
    assert gov.limit_ == 6
    gov.update(2.0, 0.3, GiB, 16 * GiB, running=6, queued=0)
    assert gov.limit_ == 5 and "predicted CPU" in gov.reason_
    gov.update(6.0, 0.3, GiB, 16 * GiB, running=5, queued=0)  # predictor raises: still works
    assert "predictor failed" in gov.holding_


def test_memory_admission_uses_declared_then_learned_memory():
    gov = Governor(mem_target=0.5, mem_budget=4 * GiB, smoothing=1.0)
    gov.update(0.0, 0.1, 1 * GiB, 16 * GiB, running=1, queued=1)
    assert gov.estimate("big", None) is None
    gov.learn("big", 0.8 * GiB)
    gov.learn("big", 0.6 * GiB)
    assert gov.estimate("big", None) == pytest.approx(0.8 * GiB)  # recent maximum
    assert gov.estimate("big", 123) == 123  # declared wins
    ok, _ = gov.admit(0.8 * GiB, outstanding=0, running=1)  # 1 + 0.8 <= 2
    assert ok
    ok, why = gov.admit(0.8 * GiB, outstanding=0.5 * GiB, running=1)  # 2.3 > 2
    assert not ok and "memory" in why
    assert gov.admit(10 * GiB, outstanding=0, running=0)[0]  # one task may always run
    assert sum("admission paused" in d.reason for d in gov.decisions_) == 1


def test_decision_log_is_bounded_and_limits_change_live():
    gov = Governor(max_workers=8, initial_workers=4, smoothing=1.0, cooldown=0.0, log_size=5)
    for i in range(50):
        gov.update(i, 1.0 if i % 2 else 0.0, GiB, 16 * GiB, running=gov.limit_ if hasattr(gov, "limit_") else 4, queued=5)
    assert len(gov.decisions_) == 5
    gov.set_limits(max_workers=2)
    assert gov.limit_ <= 2
    with pytest.raises(TypeError):
        gov.set_limits(bogus=1)
    with pytest.raises(ConfigError):
        Governor(cpu_target=85).update(0, 0, 0, 1, running=0, queued=0)


def test_forecast_predictor_sees_a_ramp_coming_and_the_governor_acts_on_it():
    from workbench.execute import ForecastPredictor
    from workbench.forecast import Naive

    pred = ForecastPredictor(horizon=5.0, step=1.0, window=30.0, min_points=10, refit_every=2.0)
    for i in range(40):  # CPU climbing 2 points a second, memory flat
        pred.observe(i * 0.5, 0.30 + 0.01 * i, 2 * GiB)
    p_cpu, p_mem = pred(20.0)
    assert p_cpu == pytest.approx(0.69 + 0.10, abs=0.02)  # Drift: ~5 s ahead of 0.69
    assert p_mem == pytest.approx(2 * GiB, rel=1e-6)
    assert pred(21.0) == (p_cpu, p_mem)  # reused until refit_every has passed
    assert ForecastPredictor(min_points=50)(0.0) is None  # too little history: present only
    naive = ForecastPredictor(model=Naive(), window=30.0, refit_every=0.0)
    for i in range(40):
        naive.observe(i * 0.5, 0.30 + 0.01 * i, 2 * GiB)
    assert naive(20.0)[0] == pytest.approx(0.69, abs=0.01)  # the chosen model is used

    gov = Governor(cpu_target=0.7, max_workers=8, initial_workers=4, smoothing=1.0, predictor=pred)
    gov.update(20.0, 0.69, 2 * GiB, 16 * GiB, running=4, queued=0)  # present 0.69 < 0.75
    assert gov.limit_ == 3 and gov.reason_.startswith("predicted CPU 7") and "> target 70%" in gov.reason_
    with pytest.raises(ConfigError, match="ForecastPredictor"):
        ForecastPredictor(step=0)

    from workbench.forecast import Drift

    class Broken(Drift):
        def fit(self, y):
            raise RuntimeError("model broke")

    broken = ForecastPredictor(model=Broken(), window=30.0, refit_every=5.0)
    for i in range(40):
        broken.observe(i * 0.5, 0.3, 2 * GiB)
    gov = Governor(max_workers=8, initial_workers=4, smoothing=1.0, predictor=broken)
    for now in (20.0, 20.5):  # the fit fails; the cached failure is reported, not a silent None
        gov.update(now, 0.3, 2 * GiB, 16 * GiB, running=4, queued=0)
        assert "predictor failed (RuntimeError: model broke)" in gov.holding_
    assert gov.limit_ == 4
