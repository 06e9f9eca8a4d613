"""The jobs file of `workbench run --file`: validation names the job, the key and what is allowed."""

from __future__ import annotations

import pickle

import pytest

from workbench.errors import ConfigError
from workbench.execute import DependencyCycleError, JobsFileError
from workbench.execute._jobs import load_jobs, parse_jobs, parse_size


def jobs(**tables):
    return {"jobs": tables}


def test_templates_are_named_and_overridden_and_jobs_come_in_dependency_order(tmp_path):
    (tmp_path / "src").mkdir()
    path = tmp_path / "jobs.toml"
    path.write_text("""
[run]
name = "nightly"
max_workers = 3

[templates.py]
cwd = "src"
env = { PYTHONUNBUFFERED = "1", LEVEL = "template" }
nice = 5
timeout = "10min"
retry = { times = 2, backoff = "0s" }

[jobs.test]
template = "py"
cmd = ["python", "-m", "pytest"]
env = { LEVEL = "job", N = 2 }
timeout = 30
after = ["build"]

[jobs.build]
cmd = "make -j2"
memory_limit = "1.5GiB"
cpu_affinity = "0"
priority = 10
""")
    spec = load_jobs(path)
    assert spec.name == "nightly" and spec.max_workers == 3 and spec.profile is None
    assert [j.name for j in spec.jobs] == ["build", "test"]  # build first: test is after it
    build, test = spec.jobs
    assert build.cmd == "make -j2" and build.shell and build.memory_limit == int(1.5 * 2**30)
    assert build.cpu_affinity == (0,) and build.priority == 10.0 and build.retries == 0
    assert test.cmd == ("python", "-m", "pytest") and not test.shell
    assert test.cwd == str((tmp_path / "src").resolve())
    assert test.env == {"PYTHONUNBUFFERED": "1", "LEVEL": "job", "N": "2"}  # env tables merge, the job wins
    assert test.nice == 5 and test.timeout == 30.0 and test.retries == 2 and test.backoff == 0.0
    assert test.after == ("build",)


@pytest.mark.parametrize("data, job, key, words", [
    (jobs(a={"cmd": "x", "timout": 5}), "a", "timout", ["unknown key 'timout'", "Did you mean 'timeout'?",
                                                        "Allowed keys: cmd:"]),
    (jobs(a={"cmd": "x", "timeout": "5 parsecs"}), "a", "timeout", ["[jobs.a]: timeout must be a positive duration",
                                                                    "'5 parsecs'"]),
    (jobs(a={"cmd": "x", "timeout": 0}), "a", "timeout", ["positive duration", "got 0"]),
    (jobs(a={"cmd": "x", "memory_limit": "3 lots"}), "a", "memory_limit", ["must be a size such as '512MiB'",
                                                                           "'3 lots'", "Units:"]),
    (jobs(a={"cmd": "x", "memory_limit": 100}), "a", "memory_limit", ["too small", "at least 1MiB"]),
    (jobs(a={"cmd": "x", "nice": 30}), "a", "nice", ["nice must be an integer 0-19", "got 30"]),
    (jobs(a={"cmd": "x", "cpu_affinity": [0, 4096]}), "a", "cpu_affinity", ["CPU(s) [4096]", "usable CPUs:"]),
    (jobs(a={"cmd": "x", "retry": {"tims": 1}}), "a", "tims", ["retry: unknown key 'tims'", "'times'"]),
    (jobs(a={"cmd": "x", "retry": -1}), "a", "retry", [">= 0 retries"]),
    (jobs(a={"cmd": "x", "env": {"A": [1]}}), "a", "env", ["env: A must be a string or a number"]),
    (jobs(a={"cmd": "x", "cwd": "no/such/dir"}), "a", "cwd", ["directory 'no/such/dir' does not exist"]),
    (jobs(a={"cmd": []}), "a", "cmd", ["cmd must be a string (run by /bin/sh) or a list of strings"]),
    (jobs(a={"env": {}}), "a", "cmd", ["has no cmd"]),
    (jobs(a={"cmd": "x", "template": "py"}), "a", "template", ["template 'py' is not defined"]),
    (jobs(a={"cmd": "x", "after": "bb"}, b={"cmd": "y"}), "a", "after", ["after names 'bb', which is no job here",
                                                                         "Did you mean 'b'?"]),
    (jobs(**{"bad name": {"cmd": "x"}}), "bad name", None, ["a job name uses letters, digits"]),
    ({"run": {"profile": "gpu"}, **jobs(a={"cmd": "x"})}, None, "profile", ["profile must be cpu, io or mixed"]),
    ({"jobz": {}}, None, "jobz", ["unknown key 'jobz'", "Did you mean 'jobs'?"]),
    ({}, None, None, ["defines no jobs", "[jobs.build]"]),
])
def test_a_bad_jobs_file_names_the_job_the_key_and_what_is_allowed(data, job, key, words, tmp_path):
    with pytest.raises(JobsFileError) as info:
        parse_jobs(data, "jobs.toml", base=tmp_path)
    err = info.value
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)
    assert str(err).startswith("jobs.toml")
    for w in words:
        assert w in str(err)
    if job is not None:
        assert err.fields.get("job") == job
    if key is not None:
        assert err.fields.get("key") == key
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


def test_templates_cannot_chain_and_a_cycle_is_refused_with_its_path(tmp_path):
    with pytest.raises(JobsFileError, match=r"\[templates.t\]: a template cannot name another template"):
        parse_jobs({"templates": {"t": {"template": "u"}}, **jobs(a={"cmd": "x"})}, "jobs.toml")
    data = jobs(a={"cmd": "x", "after": "c"}, b={"cmd": "y", "after": ["a"]}, c={"cmd": "z", "after": "b"},
                d={"cmd": "w"})
    with pytest.raises(DependencyCycleError) as info:
        parse_jobs(data, "jobs.toml")
    msg = str(info.value)
    assert "after links form a cycle" in msg and "Remove one of these after links" in msg
    cycle = info.value.fields["cycle"]
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    with pytest.raises(DependencyCycleError, match="after names the job itself"):
        parse_jobs(jobs(a={"cmd": "x", "after": "a"}), "jobs.toml")


def test_a_file_that_is_not_toml_or_not_there(tmp_path):
    bad = tmp_path / "jobs.toml"
    bad.write_text("[jobs.a\ncmd = 'x'\n")
    with pytest.raises(JobsFileError, match=r"is not valid TOML: .*line 1"):
        load_jobs(bad)
    with pytest.raises(JobsFileError, match="cannot read the jobs file .* Check the path given to --file"):
        load_jobs(tmp_path / "missing.toml")


def test_sizes():
    assert parse_size("512MiB") == parse_size("512M") == parse_size("512m") == 512 * 2**20
    assert parse_size("1.5GB") == 1_500_000_000 and parse_size("2G") == 2 * 2**30
    assert parse_size(4096) == 4096 and parse_size("100k") == 102400 and parse_size("10 kB") == 10_000
    for bad in ("", "-1M", "1X", "M", True, 0, float("inf")):
        with pytest.raises(JobsFileError):
            parse_size(bad)
