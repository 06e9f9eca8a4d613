"""One contract suite per plug-in registry (STYLE 17, as ``sklearn/tests/test_common.py``).

Every case list is built from a registry's ``names()`` when this module is
collected, so a newly registered forecaster, detector, backend or channel kind
runs the whole suite with no test edited (``test_a_new_*_is_picked_up`` shows
it). Collectors have their suite in ``tests/collect/test_collect_contract.py``,
which iterates ``workbench.collect.registry.names()`` the same way.

Checks are plain functions (``check_*``) taking a registered name, so the
pick-up tests can run them on a throwaway plug-in.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import pickle
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench._params import Integral, Interval, constraints_of, invalid_value
from workbench._plugins import Registry
from workbench.detect import Notification, score_series
from workbench.detect._base import Detector
from workbench.detect._errors import NotifyError
from workbench.detect._live import router_from_config
from workbench.detect._registry import channels, detectors, register_channel
from workbench.errors import ConfigError, DataError, NotFittedError, ParameterError, WorkbenchError
from workbench.execute import Backend, Command, ThrottledExecutor, get_backend
from workbench.execute._backends import backends
from workbench.forecast import clone
from workbench.forecast._base import BaseForecaster, normal_intervals
from workbench.forecast._registry import forecasters

_MISSING = inspect.Parameter.empty


# -- case lists, from the registries ------------------------------------------------------------
def forecaster_cases() -> list[str]:
    return forecasters.names()


def detector_cases() -> list[str]:
    return detectors.names()


def backend_cases() -> list[str]:
    return backends.names()


def channel_cases() -> list[str]:
    return channels.names()


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # arrays and the like
        return False


def _check_params_untouched(obj, passed: dict) -> None:
    """``get_params()`` returns exactly what was passed (the same objects) and the defaults."""
    got = obj.get_params()
    for key, value in passed.items():
        assert got[key] is value, f"{type(obj).__name__}.__init__ changed {key}={value!r} into {got[key]!r}"
    for p in inspect.signature(type(obj).__init__).parameters.values():
        if p.name in ("self",) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in passed:
            continue
        assert p.name in got, f"{type(obj).__name__}.get_params() lacks {p.name!r}"
        if p.default is not _MISSING:
            assert _same(got[p.name], p.default), (
                f"{type(obj).__name__}.__init__ stored {p.name}={got[p.name]!r}, not its default {p.default!r}")


# -- forecasters -------------------------------------------------------------------------------
#: smaller settings where a default would make the suite slow; other names run with defaults
FORECASTER_PARAMS = {
    "auto": lambda: {"models": [forecasters.create("seasonal_naive"), forecasters.create("regression")],
                     "horizon": 24},
}


def _hourly_series(n: int = 240, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2026-01-01", periods=n, freq="h")
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 24) + 0.05 * np.arange(n) + rng.normal(0, 1, n)
    return pd.Series(values, index=idx, name="load")


def _forecaster(name: str):
    params = FORECASTER_PARAMS.get(name, dict)()
    return forecasters.create(name, **params), params


def check_forecaster_params_untouched(name: str) -> None:
    model, params = _forecaster(name)
    _check_params_untouched(model, params)


def check_forecaster_fit_returns_self_and_leaves_input(name: str) -> None:
    y = _hourly_series()
    before = y.copy(deep=True)
    model, _ = _forecaster(name)
    assert model.fit(y) is model
    pd.testing.assert_series_equal(y, before)
    assert y.index.freq == before.index.freq and y.name == before.name


def check_forecaster_unfitted_raises(name: str) -> None:
    model, _ = _forecaster(name)
    with pytest.raises(NotFittedError, match="fit") as info:
        model.predict(3)
    assert isinstance(info.value, ValueError)


def check_forecaster_clone_and_pickle_predict_the_same(name: str) -> None:
    y = _hourly_series()
    model, _ = _forecaster(name)
    expected = model.fit(y).predict(12)
    fresh = clone(model)
    assert type(fresh) is type(model)
    with pytest.raises(NotFittedError):  # a clone is unfitted
        fresh.predict(1)
    pd.testing.assert_frame_equal(fresh.fit(y).predict(12), expected)
    back = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(back.predict(12), expected)
    with pytest.raises(NotFittedError):
        pickle.loads(pickle.dumps(_forecaster(name)[0])).predict(1)


FORECASTER_CHECKS = (
    check_forecaster_params_untouched,
    check_forecaster_fit_returns_self_and_leaves_input,
    check_forecaster_unfitted_raises,
    check_forecaster_clone_and_pickle_predict_the_same,
)


# -- detectors ---------------------------------------------------------------------------------
#: small windows so the suite stays fast (as tests/detect/test_detectors.py); others run with defaults
DETECTOR_PARAMS = {
    "mad": lambda: {"window": 50, "grace_period": 10},
    "surprise": lambda: {"window": 60, "calibration_window": 200, "suppress": 20, "grace_period": 40},
    "residual": lambda: {"season": "1h", "long": 200, "grace_period": 40},
    "ensemble": lambda: {"window": 60, "memory": 200, "slow_stride": 4, "calibration_halflife": 200,
                         "suppress": 20, "rest_period": 20, "grace_period": 40},
    "default": lambda: {"window": 60, "memory": 200, "slow_stride": 4, "calibration_halflife": 200,
                        "suppress": 20, "rest_period": 20, "grace_period": 40},
    "iforest": lambda: {"window": 200, "refit_every": 50, "n_estimators": 20, "grace_period": 60},
}
N_POINTS = 600


def _detector(name: str):
    params = DETECTOR_PARAMS.get(name, dict)()
    return detectors.create(name, **params), params


def _multivariate(det) -> bool:
    """``update(timestamp, values)`` takes a vector (the isolation forest), not one value."""
    flag = getattr(det, "multivariate", None)
    if flag is not None:
        return bool(flag)
    return list(inspect.signature(det.update).parameters)[1] == "values"


def _data(det):
    rng = np.random.default_rng(0)
    idx = pd.date_range("2026-01-01", periods=N_POINTS, freq="5min")
    cycle = 10 * np.sin(2 * np.pi * np.arange(N_POINTS) / 12)
    if not _multivariate(det):
        values = 50 + cycle + rng.normal(0, 1, N_POINTS)
        values[450] += 40
        return pd.Series(values, index=idx, name="cpu")
    cpu = 50 + cycle + rng.normal(0, 1, N_POINTS)
    mem = 30 - cycle + rng.normal(0, 1, N_POINTS)
    cpu[450], mem[450] = 90.0, 90.0
    return [(t, {"cpu": float(c), "mem": float(m)}) for t, c, m in zip(idx, cpu, mem, strict=True)]


def _run(det, data, start: int = 0, stop: int | None = None) -> np.ndarray:
    if isinstance(data, pd.Series):
        return score_series(det, data.iloc[start:stop]).to_numpy()
    return np.array([det.update(t, row) for t, row in data[start:stop]])


def _copy(data):
    return data.copy(deep=True) if isinstance(data, pd.Series) else [(t, dict(row)) for t, row in data]


def _learned(det) -> dict:
    return {k: v for k, v in vars(det).items() if k.endswith("_") and not k.startswith("_")}


def check_detector_params_untouched(name: str) -> None:
    det, params = _detector(name)
    _check_params_untouched(det, params)
    assert _learned(det) == {}, f"__init__ of {type(det).__name__} did work: {sorted(_learned(det))}"


def check_detector_scores_and_leaves_input(name: str) -> None:
    det, _ = _detector(name)
    data = _data(det)
    before = _copy(data)
    scores = _run(det, data)
    assert scores.shape == (N_POINTS,)
    assert ((scores >= 0) & (scores <= 1)).all()
    if isinstance(data, pd.Series):
        pd.testing.assert_series_equal(data, before)
    else:
        assert data == before


def check_detector_methods_return_self(name: str) -> None:
    """Detectors learn in ``update`` (no ``fit``); what returns the detector returns *self*."""
    det, _ = _detector(name)
    data = _data(det)
    if hasattr(det, "fit"):
        assert det.fit(data) is det
    _run(det, data, 0, 100)
    assert det.set_state(det.get_state()) is det
    assert det.reset() is det
    assert _learned(det) == {}


def check_detector_unfitted_is_silent_and_refuses_foreign_state(name: str) -> None:
    """Before it has learned, a detector says nothing (its grace period); a state saved by
    another class or other parameters is refused with a DataError naming what to do."""
    det, _ = _detector(name)
    data = _data(det)
    grace = int(det.grace_period)
    assert grace >= 1, f"{type(det).__name__} has no grace period"
    assert (_run(det, data, 0, grace) == 0).all()

    class Other(Detector):
        pass

    with pytest.raises(DataError, match="same class and parameters"):
        _detector(name)[0].set_state({"class": Other.__name__, "params": {}, "state": {}})


def check_detector_clone_and_pickle_score_the_same(name: str) -> None:
    det, _ = _detector(name)
    data = _data(det)
    expected = _run(det, data)
    assert expected.any(), f"{name} scored every point 0: nothing to compare"
    again, _ = _detector(name)
    fresh = clone(again)
    assert type(fresh) is type(det) and _learned(fresh) == {}
    np.testing.assert_array_equal(_run(fresh, data), expected)
    half, _ = _detector(name)
    _run(half, data, 0, N_POINTS // 2)
    assert _learned(clone(half)) == {}  # a clone forgets what was learned
    back = pickle.loads(pickle.dumps(half))
    np.testing.assert_array_equal(_run(back, data, N_POINTS // 2), expected[N_POINTS // 2:])
    resumed = _detector(name)[0].set_state(pickle.loads(pickle.dumps(half.get_state())))
    np.testing.assert_array_equal(_run(resumed, data, N_POINTS // 2), expected[N_POINTS // 2:])


DETECTOR_CHECKS = (
    check_detector_params_untouched,
    check_detector_scores_and_leaves_input,
    check_detector_methods_return_self,
    check_detector_unfitted_is_silent_and_refuses_foreign_state,
    check_detector_clone_and_pickle_score_the_same,
)



def estimator_cases() -> list:
    """(check, name) for every check of every registered forecaster and detector, built from
    ``names()`` now: a plug-in registered before collection is in the list."""
    return [
        pytest.param(check, name, id=f"{kind}-{name}-{check.__name__.removeprefix(f'check_{kind}_')}")
        for kind, cases, checks in (("forecaster", forecaster_cases, FORECASTER_CHECKS),
                                    ("detector", detector_cases, DETECTOR_CHECKS))
        for name in cases()
        for check in checks
    ]


@pytest.mark.parametrize(("check", "name"), estimator_cases())
def test_estimator_contract(check, name):
    check(name)


# -- a new forecaster or detector is picked up ----------------------------------------------------
class ProbeForecaster(BaseForecaster):
    """The mean of the last ``window`` points: a throwaway plug-in for the pick-up test."""

    min_obs = 1

    def __init__(self, window: int = 24) -> None:
        self.window = window

    def _fit(self, y):
        tail = y[-self.window:]
        self.level_ = float(np.mean(tail))
        self.sigma_ = float(np.std(tail)) or 1e-9

    def _predict(self, h, levels):
        mean = np.full(h, self.level_)
        return mean, normal_intervals(mean, np.full(h, self.sigma_), levels)


class ProbeDetector(Detector):
    """|z| of a value against the running mean and spread, squashed into [0, 1]."""

    def __init__(self, grace_period: int = 5) -> None:
        self.grace_period = grace_period

    def _init_state(self) -> None:
        super()._init_state()
        self.sum_, self.sq_ = 0.0, 0.0

    def _score_learn(self, timestamp, value: float) -> float:
        n = self.n_seen_
        score = 0.0
        if n > 1:
            mean = self.sum_ / n
            sd = max((self.sq_ / n - mean**2) ** 0.5, 1e-9)
            score = 1.0 - float(np.exp(-abs(value - mean) / sd / 3))
        self.sum_ += value
        self.sq_ += value * value
        return score


@pytest.fixture
def probe_plugins():
    forecasters.register("contract_probe", ProbeForecaster)
    detectors.register("contract_probe", ProbeDetector)
    yield "contract_probe"
    forecasters.unregister("contract_probe")
    detectors.unregister("contract_probe")


def test_a_new_forecaster_or_detector_is_picked_up(probe_plugins):
    cases = {p.id: p.values for p in estimator_cases()}
    assert f"forecaster-{probe_plugins}-unfitted_raises" in cases
    assert f"detector-{probe_plugins}-clone_and_pickle_score_the_same" in cases
    probe = [values for case, values in cases.items() if f"-{probe_plugins}-" in case]
    assert len(probe) == len(FORECASTER_CHECKS) + len(DETECTOR_CHECKS)
    for check, case_name in probe:  # what the parametrized test runs for it, and it passes
        check(case_name)


def test_the_suite_covers_every_built_in():
    assert set(forecaster_cases()) >= {"naive", "seasonal_naive", "drift", "ets", "arima", "regression", "auto"}
    assert set(detector_cases()) >= {"default", "ensemble", "surprise", "mad", "residual", "iforest"}
    assert set(backend_cases()) >= {"thread", "command", "process"}
    assert set(channel_cases()) >= {"log", "webhook", "email"}


# -- one parameter check: every constrained hyperparameter refuses a bad value --------------------
ESTIMATOR_REGISTRIES = {"forecaster": (forecasters, FORECASTER_PARAMS), "detector": (detectors, DETECTOR_PARAMS)}


def _init_params(factory) -> list[str]:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _first_use(kind: str, est) -> None:
    """What makes an estimator look at its hyperparameters: ``fit`` (forecasters), the first
    ``update`` (detectors: scikit-learn style, ``__init__`` does no work)."""
    if kind == "forecaster":
        est.fit(_hourly_series())
    else:
        _run(est, _data(est), 0, 1)


def check_estimator_refuses_bad_params(kind: str, name: str) -> None:
    """For each row of the class's ``_parameter_constraints``: a value no entry allows
    (:func:`workbench._params.invalid_value`, just past a bound where there is one) is
    stored untouched by ``__init__`` and refused at first use with the one error class,
    :class:`ParameterError` (a ConfigError and a DataError), naming the parameter.
    A class without a table is skipped, naming its unchecked parameters."""
    registry, defaults = ESTIMATOR_REGISTRIES[kind]
    factory = registry.get(name)
    table = constraints_of(factory) if isinstance(factory, type) else {}
    params = _init_params(factory)
    if not table:
        if params:
            pytest.skip(f"{kind} {name!r} ({getattr(factory, '__name__', factory)}) has no _parameter_constraints "
                        f"table; unchecked: {', '.join(params)}")
        return  # nothing to constrain (Naive, Drift)
    inherited = set().union(*(constraints_of(b) for b in factory.__mro__[1:]))  # shared rows of a base class
    assert set(table) - set(params) <= inherited, (
        f"{factory.__name__}._parameter_constraints names {sorted(set(table) - set(params) - inherited)}, "
        "which are not parameters of __init__")
    base = defaults.get(name, dict)()
    for param, row in ((p, r) for p, r in table.items() if p in params):
        bad = invalid_value(row)
        est = registry.create(name, **{**base, param: bad})
        assert getattr(est, param) is bad
        with pytest.raises(ParameterError, match=re.escape(param)) as info:
            _first_use(kind, est)
        err = info.value
        assert err.param == param and isinstance(err, ConfigError) and isinstance(err, DataError)
        assert pickle.loads(pickle.dumps(err)).fields == err.fields


def constrained_cases() -> list:
    return [pytest.param(kind, name, id=f"{kind}-{name}")
            for kind, (registry, _) in ESTIMATOR_REGISTRIES.items() for name in registry.names()]


@pytest.mark.parametrize(("kind", "name"), constrained_cases())
def test_bad_hyperparameter_raises_the_one_parameter_error(kind, name):
    check_estimator_refuses_bad_params(kind, name)


class ProbeTabledForecaster(ProbeForecaster):
    """:class:`ProbeForecaster` with a constraint table: the base class checks it in ``fit``."""

    _parameter_constraints = {"window": [Interval(Integral, 1, None, closed="left")]}


def test_a_new_forecaster_with_a_table_runs_the_parameter_check():
    forecasters.register("contract_probe_tabled", ProbeTabledForecaster)
    try:
        assert "forecaster-contract_probe_tabled" in {case.id for case in constrained_cases()}
        check_estimator_refuses_bad_params("forecaster", "contract_probe_tabled")
        with pytest.raises(ParameterError, match=r"ProbeTabledForecaster\(window=\.\.\.\) must be an integer of "
                                                 r"at least 1; got 0\."):
            ProbeTabledForecaster(window=0).fit(_hourly_series())
    finally:
        forecasters.unregister("contract_probe_tabled")


# -- executor backends ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", backend_cases())
def test_backend_contract(name):
    backend = get_backend(name)
    assert isinstance(backend, Backend) and isinstance(backend.name, str)
    assert backend.default_workers() >= 1
    backend.shutdown()
    backend.shutdown()  # twice is harmless
    ex = ThrottledExecutor(max_workers=1, backend=name)
    try:
        assert ex.submit(pow, 2, 10).result(timeout=60) == 1024
        with pytest.raises(ZeroDivisionError):
            ex.submit(divmod, 1, 0).result(timeout=60)
        assert list(ex.map(abs, [-1, -2, 3], timeout=60)) == [1, 2, 3]
        ran = ex.submit(Command([sys.executable, "-c", "print('from a command')"])).result(timeout=60)
        assert ran.returncode == 0 and "from a command" in ran.stdout
    finally:
        ex.shutdown(wait=True)
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(pow, 2, 3)
    assert backend_cases() == sorted(backend_cases())


# -- notification channels -----------------------------------------------------------------------
def _note(severity: str = "warning") -> Notification:
    return Notification("firing", "contract_rule", severity,
                        ({"alert_id": "contract_rule|h1", "host": "h1", "metric": "cpu", "labels": "", "value": 97.0},))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _loopback_log(caplog):
    caplog.set_level(logging.INFO, logger="workbench.alerts")
    yield ({"kind": "log"}, None,
           lambda: [r.getMessage() for r in caplog.records if r.name == "workbench.alerts"
                    and r.levelno == logging.WARNING])


@contextlib.contextmanager
def _loopback_webhook(caplog):
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        yield ({"kind": "webhook", "url": url, "timeout": "5s", "attempts": 1},
               {"kind": "webhook", "url": f"http://127.0.0.1:{_free_port()}/hook", "timeout": "2s", "attempts": 1},
               lambda: [b["title"] for b in bodies])
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _loopback_email(caplog):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
            received.append(envelope)
            return "250 OK"

    port = _free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        spec = {"kind": "email", "host": "127.0.0.1", "port": port, "to": ["ops@example.org"],
                "sender": "wb@example.org", "starttls": False, "timeout": "5s", "attempts": 1}
        yield (spec, {**spec, "port": _free_port()},
               lambda: [e.content.decode(errors="replace") for e in received])
    finally:
        ctl.stop()


#: kind -> a context manager giving (a config table that reaches a real loopback receiver,
#: one whose receiver is down or None, what the receiver got so far)
LOOPBACK = {"log": _loopback_log, "webhook": _loopback_webhook, "email": _loopback_email}


@pytest.mark.parametrize("kind", channel_cases())
def test_channel_contract(kind, caplog):
    how = channels.get(kind)
    assert callable(how.factory) and "kind" not in how.keys
    with pytest.raises(ConfigError, match=rf"\({re.escape(kind)}\): unknown key\(s\) \['no_such_key'\]"):
        router_from_config({"channels": {"c": {"kind": kind, "no_such_key": 1}}})
    if kind not in LOOPBACK:
        pytest.fail(f"channel kind {kind!r} has no loopback set-up; add one to LOOPBACK in {__name__}")
    with LOOPBACK[kind](caplog) as (spec, down, received):
        router = router_from_config({"channels": {"c": spec}})
        channel = router.channels["c"]
        assert channel.name == "c"
        channel.send(_note())
        got = received()
        assert len(got) == 1 and "contract_rule firing" in got[0]
        assert router.send(_note()) == ["c"] and router.sent["c"] == 1
        if down is not None:
            failing = router_from_config({"channels": {"c": down}})
            with pytest.raises(NotifyError, match="failed after 1 attempt"):
                failing.channels["c"].send(_note())
            assert failing.send(_note()) == [] and failing.failed["c"] == 1  # counted, not raised
        pickle.loads(pickle.dumps(NotifyError("x", channel="c")))


class PagerChannel:
    """A third-party channel kind: keeps what it was sent."""

    sent: list = []

    def __init__(self, name: str = "pager", service: str = "") -> None:
        self.name, self.service = name, service

    def send(self, note) -> None:
        PagerChannel.sent.append((self.service, note.title))


def test_a_third_party_channel_kind_works_from_config():
    register_channel("contract_pager", PagerChannel)
    try:
        router = router_from_config({"channels": {"p": {"kind": "contract_pager", "service": "ops"}}})
        assert router.send(_note()) == ["p"] and PagerChannel.sent[-1][0] == "ops"
        with pytest.raises(ConfigError, match="kind must be one of log, webhook, email, contract_pager; got 'nope'"):
            router_from_config({"channels": {"p": {"kind": "nope"}}})
        with pytest.raises(ConfigError, match=r"allowed: \['kind', 'service'\]"):
            router_from_config({"channels": {"p": {"kind": "contract_pager", "url": "x"}}})
    finally:
        channels.unregister("contract_pager")


# -- every exception pickles ---------------------------------------------------------------------
_CLASS = re.compile(r"^class (\w+)\(([^)]*)\)", re.M)


def exception_cases() -> list:
    """Every exception (and warning) class defined in workbench, found by walking its modules.

    Modules are chosen by their source defining a class (cheap), then imported;
    a module that fails to import is a failing case, not a silent gap.
    """
    root = Path(workbench.__file__).parent
    cases, seen = [], set()
    for path in sorted(root.rglob("*.py")):
        if path.name == "__main__.py" or not _CLASS.search(path.read_text(encoding="utf-8")):
            continue
        module = ".".join(("workbench", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        try:
            mod = importlib.import_module(module)
        except Exception as exc:
            cases.append(pytest.param(None, exc, id=f"{module}:import"))
            continue
        for obj in vars(mod).values():
            if (isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == module
                    and obj not in seen):
                seen.add(obj)
                cases.append(pytest.param(obj, None, id=f"{module}.{obj.__qualname__}"))
    return cases


EXCEPTIONS = exception_cases()


@pytest.mark.parametrize(("cls", "import_error"), EXCEPTIONS)
def test_every_exception_pickles_with_its_message_and_fields(cls, import_error):
    if import_error is not None:
        pytest.fail(f"module could not be imported to find its exceptions: {import_error!r}")
    if issubclass(cls, WorkbenchError):
        exc = cls("what was wrong, what was given, what to do", name="x", given=[1, 2], code=7)
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is cls
        assert str(back) == str(exc) == "what was wrong, what was given, what to do"
        assert back.fields == {"name": "x", "given": [1, 2], "code": 7}
        assert (back.name, back.given, back.code) == ("x", [1, 2], 7)
    else:
        exc = cls("what was wrong")
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is cls and str(back) == str(exc) and back.args == exc.args


def test_the_exception_walk_finds_the_known_ones():
    found = {p.values[0] for p in EXCEPTIONS if p.values[0] is not None}
    from workbench.execute import TaskTimeoutError
    from workbench.report._errors import ReportFailedError

    assert {WorkbenchError, ConfigError, NotifyError, TaskTimeoutError, ReportFailedError} <= found
    assert all(issubclass(c, WorkbenchError) or not issubclass(c, Exception) or c.__name__.endswith("Warning")
               for c in found), "an exception outside the WorkbenchError hierarchy"


# -- the registry itself -------------------------------------------------------------------------
def test_registry_register_forms_duplicates_and_lookup():
    reg: Registry = Registry("widget")

    @reg.register("a")
    def make_a():
        return "a"

    reg.register("b", lambda: "b")

    class C:
        name = "c"

    assert reg.register(C) is C
    assert reg.names() == ["a", "b", "c"] and "a" in reg and "z" not in reg and len(reg) == 3
    assert reg.create("a") == "a" and reg.get("c") is C
    with pytest.raises(ConfigError, match=r"A widget named 'a' is already registered \(.*make_a"):
        reg.register("a", lambda: "other")
    assert reg.get("a") is make_a  # the first one stays
    with pytest.raises(ConfigError, match="Unknown widget 'z'; registered widgets are: a, b, c") as info:
        reg.get("z")
    assert info.value.valid == ["a", "b", "c"] and isinstance(info.value, ValueError)
    with pytest.raises(ConfigError, match="non-empty string"):
        reg.register("", make_a)
    with pytest.raises(ConfigError, match="Cannot tell the name"):
        reg.register(object())
    reg.unregister("b")
    assert reg.names() == ["a", "c"] and dict(reg.view()) == {"a": make_a, "c": C}
    with pytest.raises(KeyError):
        reg.view()["b"]


def test_registry_is_thread_safe():
    reg: Registry = Registry("widget")
    won, lost = [], []
    barrier = threading.Barrier(16)

    def work(i: int) -> None:
        barrier.wait()
        reg.register(f"w{i}", int)
        try:
            reg.register("same", int)
            won.append(i)
        except ConfigError:
            lost.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 15
    assert reg.names() == sorted(["same", *(f"w{i}" for i in range(16))])


def test_lazy_builtin_is_imported_on_first_use():
    reg: Registry = Registry("widget")
    reg.register_lazy("od", "collections:OrderedDict")
    reg.register_lazy("gone", "workbench_no_such_module:Thing")
    assert reg.names() == ["gone", "od"]
    import collections

    assert reg.get("od") is collections.OrderedDict
    with pytest.raises(ConfigError, match="'gone' from module workbench_no_such_module cannot be loaded"):
        reg.get("gone")


def test_entry_points_are_found_lazily_and_a_broken_one_names_its_distribution(tmp_path, monkeypatch):
    group = "workbench.contract_probe_widgets"
    (tmp_path / "contract_probe_plugin.py").write_text("class Widget:\n    name = 'good'\n")
    info = tmp_path / "contract_probe_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: contract-probe-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{group}]\ngood = contract_probe_plugin:Widget\nbroken = contract_probe_missing:Widget\n"
        "taken = contract_probe_plugin:Widget\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "contract_probe_plugin", raising=False)
    reg: Registry = Registry("widget", group=group)
    reg.register("taken", dict)  # a built-in keeps its name
    assert "contract_probe_plugin" not in sys.modules
    assert reg.names() == ["broken", "good", "taken"]
    assert "contract_probe_plugin" not in sys.modules  # found, not imported
    assert reg.get("good").__name__ == "Widget" and "contract_probe_plugin" in sys.modules
    assert reg.origin("good") == "distribution 'contract-probe-dist'"
    with pytest.raises(ConfigError, match=r"'broken' from distribution 'contract-probe-dist' cannot be loaded") as err:
        reg.get("broken")
    assert "ModuleNotFoundError" in str(err.value) and err.value.distribution == "contract-probe-dist"
    assert "pip uninstall contract-probe-dist" in str(err.value)
    assert reg.get("taken") is dict and reg.get("good").__name__ == "Widget"  # the rest still works
    assert any("'taken'" in p and "skipped" in p for p in reg.problems())
