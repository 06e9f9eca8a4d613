"""Secrets never reach label values; command lines stay readable and bounded."""

from __future__ import annotations

import pytest

from workbench.collect import redact_cmdline

CASES = [
    (["psql", "--password=hunter2", "-h", "db"], "psql --password=*** -h db"),
    (["app", "--password", "hunter2", "--verbose"], "app --password *** --verbose"),
    (["app", "--token", "abc123", "--x=1"], "app --token *** --x=1"),
    (["mysql", "--pass", "s3cr3t"], "mysql --pass ***"),
    (["job", "token=abc123", "api_key=xyz", "apikey=q"], "job token=*** api_key=*** apikey=***"),
    (["env", "AWS_SECRET_ACCESS_KEY=wJalrX", "AWS_ACCESS_KEY_ID=AKIA1", "run"],
     "env AWS_SECRET_ACCESS_KEY=*** AWS_ACCESS_KEY_ID=*** run"),  # conservative
    (["env", "GITHUB_TOKEN=ghp_x", "DB_PASSWORD=pw"], "env GITHUB_TOKEN=*** DB_PASSWORD=***"),
    (["worker", "postgres://bob:hunter2@db:5432/app"], "worker postgres://bob:***@db:5432/app"),
    (["git", "clone", "https://user:ghp_abc@github.com/o/r"], "git clone https://user:***@github.com/o/r"),
    # every query value is masked, whatever its name (?sig= of an Azure SAS): one rule with config and logs
    (["curl", "https://api/x?access_token=zz&page=2"], "curl https://api/x?access_token=***&page=***"),
    (["az", "https://acct.blob/c/f?sv=2022&sig=Zm9v"], "az https://acct.blob/c/f?sv=***&sig=***"),
    (["curl", "-H", "Authorization: Bearer eyJhbGc"], "curl -H Authorization: Bearer ***"),
    (["curl", "-H", "X-Api-Key: k3y"], "curl -H X-Api-Key: ***"),
    (["aws", "--secret-access-key=abc", "--client-secret", "zz"],
     "aws --secret-access-key=*** --client-secret ***"),
    # ordinary arguments stay as they are
    (["python", "train.py", "--lr=0.1", "--passes=3", "--author=ann", "--bypass=x"],
     "python train.py --lr=0.1 --passes=3 --author=ann --bypass=x"),
    (["https://example.com/path"], "https://example.com/path"),
]


@pytest.mark.parametrize(("argv", "expected"), CASES)
def test_redaction(argv, expected):
    assert redact_cmdline(argv, max_chars=500) == expected


@pytest.mark.parametrize("secret", ["hunter2", "ghp_abc", "wJalrX", "eyJhbGc", "abc123", "Zm9v"])
def test_no_secret_survives_anywhere(secret):
    for argv, _ in CASES:
        for limit in (10, 25, 60, 120, 500):
            assert secret not in redact_cmdline(argv, max_chars=limit)


def test_truncation_happens_after_redaction():
    argv = ["tool", "x" * 110, "--password=" + "p" * 50]
    out = redact_cmdline(argv, max_chars=120)
    assert len(out) == 120 and out.endswith("…")
    assert "ppp" not in out
    assert redact_cmdline(["tool", "--password=averyverylongsecret"], max_chars=16) == "tool --password…"


def test_huge_command_lines_are_cheap_and_bounded():
    classpath = ":".join(f"/opt/lib/jar{i}.jar" for i in range(20_000))  # ~400 kB
    out = redact_cmdline(["java", "-cp", classpath, "--token", "t0k3n", "Main"], max_chars=120)
    assert len(out) == 120 and out.startswith("java -cp /opt/lib/jar0.jar:")
    assert redact_cmdline("sleep 100") == "sleep 100"
    assert redact_cmdline([]) == ""
