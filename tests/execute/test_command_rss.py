"""A command task records the command's own peak memory, not that of the Python that started it.

Linux carries a process's high-water RSS across ``exec``: a child forked (or
vforked) from a large Python reports the parent's peak in ``ru_maxrss``. These
tests make the parent large on purpose so that such inheritance cannot hide.
"""

from __future__ import annotations

import signal
import sys

import pytest

from workbench.execute import Command, CommandError, MemorySink, ThrottledExecutor
from workbench.execute._command import run_command

PY = sys.executable
MiB = 1 << 20


@pytest.fixture(scope="module")
def big_parent():
    ballast = bytearray(300 * MiB)  # touched: 300 MiB resident in this process
    yield ballast
    del ballast


@pytest.mark.parametrize("limits", [{}, {"nice": 1, "cpu_affinity": [0], "memory_limit": 1 << 30}])
def test_echo_records_its_own_small_peak(big_parent, limits):
    res = run_command(Command(["echo", "hi"], **limits), None)
    assert res.stdout == "hi\n" and res.returncode == 0
    assert 0 < res.peak_rss < 20 * MiB, res.peak_rss  # was ~300 MiB + the interpreter


def test_a_command_that_allocates_200_mib_records_at_least_that(big_parent):
    res = run_command(Command([PY, "-c", "b = bytearray(200 << 20)"]), None)
    assert 200 * MiB <= res.peak_rss < 300 * MiB, res.peak_rss
    assert res.cpu_time > 0


def test_the_executor_records_and_learns_the_commands_peak(big_parent):
    sink = MemorySink()
    with ThrottledExecutor(max_workers=1, backend="command", sink=sink) as ex:
        ex.submit(Command(["echo", "hi"])).result(30)
        ex.submit(Command([PY, "-c", "b = bytearray(200 << 20)"])).result(60)
    small, big = sink.runs
    assert small.peak_rss < 20 * MiB and big.peak_rss >= 200 * MiB


def test_exit_status_and_signals_are_exact():
    # a plain exit code above 128 stays an exit code; a signal stays a signal
    res = run_command(Command(["sh", "-c", "exit 137"], check=False), None)
    assert res.returncode == 137
    res = run_command(Command([PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"], check=False), None)
    assert res.returncode == -signal.SIGTERM
    with pytest.raises(CommandError, match="exited with code 3"):
        run_command(Command([PY, "-c", "raise SystemExit(3)"]), None)


def test_the_command_keeps_default_signal_handling_and_its_stdin_is_empty():
    probe = ("import signal, sys; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
             "signal.getsignal(signal.SIGQUIT) == signal.SIG_DFL, repr(sys.stdin.read()))")
    res = run_command(Command([PY, "-c", probe]), None)
    assert res.stdout == "True True ''\n"


def test_builtins_of_the_shell_are_not_used_for_the_command():
    # /bin/echo, not the shell's echo (dash's builtin would interpret the backslash)
    assert run_command(Command(["echo", "a\\tb"]), None).stdout == "a\\tb\n"
