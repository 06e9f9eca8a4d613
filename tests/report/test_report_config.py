"""``[reports.NAME]`` in workbench.toml: wrong keys, cron expressions and parameters are refused at load."""

from __future__ import annotations

import pytest

from workbench.config import config_from_dict
from workbench.errors import ConfigError


def _load(report: dict, notify: dict | None = None):
    data = {"reports": {"daily": report}}
    if notify is not None:
        data["notify"] = notify
    return config_from_dict(data)


def test_a_good_table_loads_and_is_checked():
    from workbench.report._config import report_specs

    cfg = _load({"cron": "0 7 * * *", "params": {"since": "1d", "hosts": ["web1"]}, "keep": 5, "max_age": "30d",
                 "deliver": ["ops"]}, {"channels": {"ops": {"kind": "webhook", "url": "http://127.0.0.1:9/x"}}})
    spec = report_specs(cfg.reports, cfg.notify)["daily"]
    assert spec.cron == "0 7 * * *" and spec.keep == 5 and spec.max_age == 30 * 86400 and spec.deliver == ("ops",)


@pytest.mark.parametrize("table,words", [
    ({"cron": "0 7 * *"}, ["[reports.daily] cron must be a cron expression", "'0 7 * *'"]),
    ({"cron": "61 * * * *"}, ["cron expression", "'61 * * * *'"]),
    ({"corn": "0 7 * * *"}, ["Unknown key 'corn' in [reports.daily]", "Did you mean 'cron'?"]),
    ({"params": {"sinse": "1d"}}, ["has no parameter 'sinse'", "Did you mean 'since'?", "since (default '1d')"]),
    ({"params": {"hosts": "web1"}}, ["hosts must be of the type of its default []", "got 'web1' (str)"]),
    ({"keep": 0}, ["keep must be a whole number >= 1", "got 0"]),
    ({"max_age": "-1d"}, ["max_age"]),
    ({"deliver": ["mail"]}, ["names channel 'mail'", "channels: none"]),
    ({"notebook": "/nonexistent/r.ipynb"}, ["/nonexistent/r.ipynb does not exist"]),
])
def test_wrong_tables_are_refused_with_what_to_do(table, words):
    with pytest.raises(ConfigError) as err:
        _load(table)
    for w in words:
        assert w in str(err.value), (w, str(err.value))
