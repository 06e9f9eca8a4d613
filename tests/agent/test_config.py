import subprocess
import sys

import pytest

from workbench.config import config_from_dict, load_config
from workbench.errors import ConfigError


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"agnet": {}}, r"Unknown key 'agnet'.*Did you mean 'agent'\?.*Valid keys: agent, alerts"),
        ({"agent": {"intervall": 1}}, r"Unknown key 'intervall' in \[agent\]\. Did you mean 'interval'\?"),
        ({"agent": {"interval": "fast"}}, r"\[agent\] interval must be a number of seconds or a string such as '30s'"),
        ({"agent": {"interval": -1}}, r"must be positive"),
        ({"store": {"fanout": "8"}}, r"\[store\] fanout must be an integer; got '8' \(str\)"),
        ({"home": 3}, r"home must be a path string"),
        ({"notify": {"smtp": {"password": "hunter2"}}}, r"notify\.smtp\.password looks like a secret.*password_env"),
        ({"store": {"retention_raw": "1h"}}, r"retention_raw must be at least 2h"),
    ],
)
def test_bad_configuration_says_what_and_how_to_fix(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_toml_file_environment_and_durations(tmp_path, monkeypatch):
    cfg_file = tmp_path / "workbench.toml"
    cfg_file.write_text('home = "/nowhere"\n[agent]\ninterval = "2s"\n[store]\nretention_raw = "3d"\n')
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "h"))
    cfg = load_config(cfg_file)
    assert cfg.agent.interval == 2.0
    assert cfg.store.retention_raw == 3 * 86400
    assert str(cfg.home) == str(tmp_path / "h")  # environment beats the file


def test_malformed_toml_names_the_problem(tmp_path):
    f = tmp_path / "workbench.toml"
    f.write_text("[agent\ninterval = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(f)


def test_unknown_collector_and_option_are_refused(tmp_path):
    from workbench.agent import build_collectors

    with pytest.raises(ConfigError, match="Unknown collector"):
        build_collectors(config_from_dict({"collectors": {"gpu9000": {}}}))
    with pytest.raises(ConfigError, match="valid options are"):
        build_collectors(config_from_dict({"collectors": {"cpu": {"colour": "red"}}}))


def test_workbench_config_redacts_secrets(tmp_path):
    f = tmp_path / "workbench.toml"
    f.write_text('[notify.channels.ops]\nkind = "webhook"\nurl = "https://user:s3cr3t@example.invalid/hook"\n'
                 'headers_env = { Authorization = "HOOK_TOKEN" }\n')
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--config", str(f), "config"],
        capture_output=True, text=True, check=True, env={"HOOK_TOKEN": "tok-123", "PATH": "/usr/bin"},
    ).stdout
    assert "s3cr3t" not in out and "tok-123" not in out
    assert "user:***@example.invalid" in out
    assert '"Authorization": "HOOK_TOKEN"' in out
