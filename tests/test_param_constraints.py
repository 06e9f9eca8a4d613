"""The one parameter check (``workbench._params``): constraint kinds, messages, the one error class."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from workbench._params import (
    Each,
    Integral,
    Interval,
    Options,
    Real,
    check_params,
    describe,
    invalid_value,
    satisfies,
)
from workbench.errors import ConfigError, DataError, ParameterError


class Thing:
    _parameter_constraints = {
        "n": [Interval(Integral, 1, None, closed="left", doc="it counts the first try")],
        "share": [Interval(Real, 0, 1, closed="right")],
        "mode": [Options("fast", "slow")],
        "lags": [None, Each(Interval(Integral, 1, None, closed="left"), min_len=1)],
        "fn": [None, "callable"],
        "flag": [bool],
    }

    def __init__(self, n=1, share=0.5, mode="fast", lags=None, fn=None, flag=True, free=None):
        self.n, self.share, self.mode, self.lags, self.fn, self.flag, self.free = n, share, mode, lags, fn, flag, free

    def get_params(self):
        return {k: getattr(self, k) for k in ("n", "share", "mode", "lags", "fn", "flag", "free")}


def test_good_values_pass_and_unlisted_parameters_are_not_checked():
    check_params(Thing())
    check_params(Thing(n=np.int64(3), share=1, mode="slow", lags=range(1, 4), fn=len, flag=False))
    check_params(Thing(lags=np.array([1, 2])))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 0}, r"Thing\(n=\.\.\.\) must be an integer of at least 1 \(it counts the first try\); got 0\."),
    ({"n": True}, r"got True"),  # a bool is not a number here
    ({"n": 2.0}, r"must be an integer"),
    ({"share": 0}, r"must be a number in the range \(0, 1\]; got 0\."),
    ({"share": math.nan}, r"got nan"),
    ({"mode": "FAST"}, r"must be one of 'fast', 'slow'; got 'FAST'\."),
    ({"lags": []}, r"must be None or a non-empty list whose items are each an integer of at least 1; got \[\]"),
    ({"lags": [1, 0]}, r"got \[1, 0\]"),
    ({"lags": "12"}, r"got '12'"),
    ({"fn": 3}, r"must be None or a callable; got 3"),
    ({"flag": 1}, r"must be a bool \(True or False\); got 1"),
])
def test_a_bad_value_is_one_error_that_says_what_and_what_it_must_be(kwargs, message):
    with pytest.raises(ParameterError, match=message) as info:
        check_params(Thing(**kwargs))
    err = info.value
    assert isinstance(err, ConfigError) and isinstance(err, DataError) and isinstance(err, ValueError)
    (name,) = kwargs
    assert err.param == name and err.owner == "Thing"
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.fields == err.fields


def test_where_templates_and_prefixes_name_the_parameter_as_the_part_does():
    with pytest.raises(ParameterError, match=r"^\[executor\] n must be") as info:
        check_params(Thing, {"n": 0}, where="[executor]", section="executor")
    assert info.value.section == "executor"
    with pytest.raises(ParameterError, match=r"^Option 'n' of collector 'x' must be"):
        check_params(Thing, {"n": 0}, where="Option {name!r} of collector 'x'")
    with pytest.raises(ParameterError, match=r"^\[store\] fanout must be positive; got 0\.$"):
        check_params(Thing, {"fanout": 0}, where="[store]",
                     constraints={"fanout": [Interval(Integral, 1, None, closed="left", text="positive")]})
    with pytest.raises(TypeError, match="params="):
        check_params(Thing)


def test_interval_bounds_infinity_and_descriptions():
    positive = Interval(Real, 0, None, closed="neither")
    assert satisfies(1e300, [positive]) and not satisfies(math.inf, [positive]) and not satisfies(0, [positive])
    assert satisfies(math.inf, [Interval(Real, 0, None, closed="both")])
    assert describe([positive]) == "a finite number greater than 0"
    assert describe([Interval(Integral, None, -1, closed="right")]) == "an integer of at most -1"
    assert describe([Interval(Real, 0, 1.5, closed="right"), None]) == "None or a number in the range (0, 1.5]"
    assert describe([Options("a"), Options("b"), bool]) == "one of 'a', one of 'b' or a bool (True or False)"
    assert satisfies(10**400, [Interval(Integral, 1, None)])
    with pytest.raises(TypeError):
        Interval(int, 0, 1)
    with pytest.raises(ValueError):
        Interval(Real, 2, 1)


def test_options_compare_by_type_and_value():
    opts = Options(None, True, "auto")
    assert satisfies(None, [opts]) and satisfies(True, [opts]) and satisfies("auto", [opts])
    assert not satisfies(1, [opts]) and not satisfies("None", [opts])
    assert not satisfies(np.array([1, 2]), [Options("a")])


@pytest.mark.parametrize("row", list(Thing._parameter_constraints.values()) + [
    [Interval(Integral, 0, 10)], [Interval(Real, None, None, closed="neither")], [Each(Options("a"), length=2)],
])
def test_invalid_value_is_refused_by_its_row(row):
    assert not satisfies(invalid_value(row), row)


def test_invalid_value_is_just_past_a_bound_where_there_is_one():
    assert invalid_value([Interval(Integral, 1, None, closed="left")]) == 0
    assert invalid_value([Interval(Real, 0, 1, closed="right")]) == 0
    assert invalid_value([None, Interval(Integral, 1, 5)]) == 0
    with pytest.raises(ValueError):
        invalid_value([object])


def test_a_class_may_name_its_parameters_its_own_way():
    class Base:
        _parameter_constraints = {"n": [Interval(Integral, 1, None, closed="left", text="a positive integer")]}
        _parameter_where = "{cls}'s {name!r}"

    class Child(Base):
        pass

    with pytest.raises(ParameterError, match=r"^Child's 'n' must be a positive integer; got 0\.$"):
        check_params(Child, {"n": 0})
