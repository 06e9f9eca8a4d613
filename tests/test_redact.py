"""One redactor for configuration output, process command lines and notification logs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench import _redact


def test_every_part_uses_the_one_redactor():
    import workbench.collect as collect
    import workbench.collect._redact as collect_redact
    import workbench.config as config
    import workbench.detect._channels as channels

    assert config.redact is _redact.redact
    assert collect.redact_cmdline is collect_redact.redact_cmdline is _redact.redact_cmdline
    assert channels.redact_url is _redact.redact_url
    assert config._is_secret_key is _redact.is_secret_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://hooks.example/x?token=tok-abc", "https://hooks.example/x?token=***"),
        ("https://h/x?sig=Zm9v&se=2030&sp=r", "https://h/x?sig=***&se=***&sp=***"),  # Azure SAS: any name
        ("https://h/x?opaque", "https://h/x?***"),
        ("https://h/cb#access_token=t0k&state=1", "https://h/cb#access_token=***&state=***"),
        ("https://bob:hunter2@db.example:5432/app?x=1", "https://bob:***@db.example:5432/app?x=***"),
        ("postgres://bob:hunter2@db/app", "postgres://bob:***@db/app"),
        ("https://hooks.example/plain/path", "https://hooks.example/plain/path"),
        ("see https://a/b?token=t1 and https://c/d?k=t2.", "see https://a/b?token=*** and https://c/d?k=***."),
        ("token=abc api_key=xyz", "token=*** api_key=***"),
        ("Authorization: Bearer eyJhbGc", "Authorization: Bearer ***"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact_text(text, expected):
    assert _redact.redact_text(text) == expected


@pytest.mark.parametrize(
    ("key", "secret"),
    [("password", True), ("smtp_passwd", True), ("api_key", True), ("apikey", True), ("client_secret", True),
     ("token", True), ("access_key", True), ("private-key", True), ("session_id", True), ("cookie", True),
     ("credentials", True), ("password_env", False), ("url_env", False), ("url", False), ("passes", False),
     ("interval", False), ("author", False)],
)
def test_secret_looking_keys(key, secret):
    assert _redact.is_secret_key(key) is secret


def test_redact_structures_masks_secret_keys_and_urls_in_values():
    data = {"notify": {"channels": {"ops": {"kind": "webhook", "url": "https://h/x?token=t0k", "token": "raw",
                                            "headers_env": {"Authorization": "OPS_TOKEN"}}}},
            "list": ["https://u:pw@h/"], "n": 3}
    out = _redact.redact(data)
    ops = out["notify"]["channels"]["ops"]
    assert ops["url"] == "https://h/x?token=***" and ops["token"] == "***"
    assert ops["headers_env"] == {"Authorization": "OPS_TOKEN"}  # a variable's name is no secret
    assert out["list"] == ["https://u:***@h/"] and out["n"] == 3


def test_redact_url_for_logs_keeps_only_where_it_goes():
    assert _redact.redact_url("https://u:pw@hooks.example:8443/services/T0/B0/XyZ?token=t#f", path=False) == \
        "https://hooks.example:8443/…"
    assert _redact.redact_url("https://hooks.example/a/b?token=t") == "https://hooks.example/a/b?token=***"


def test_workbench_config_never_prints_a_token_from_a_url_query(tmp_path):
    f = tmp_path / "workbench.toml"
    f.write_text(
        '[notify.channels.ops]\nkind = "webhook"\n'
        'url = "https://bot:pw-123@hooks.example/hook?token=tok-abc&sig=sig-xyz"\n'
        'headers_env = { Authorization = "OPS_TOKEN" }\n'
    )
    res = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--config", str(f), "config"],
        capture_output=True, text=True, env={"OPS_TOKEN": "hdr-456", "PATH": "/usr/bin"},
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for secret in ("tok-abc", "sig-xyz", "pw-123", "hdr-456"):
        assert secret not in out
    assert "https://bot:***@hooks.example/hook?token=***&sig=***" in res.stdout
