"""Command tasks: a subprocess with streamed output, limits, and a killable process tree."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import psutil

from workbench.execute._errors import CommandError, MemoryLimitError, TaskTimeoutError
from workbench.execute._sched import lower_priority

__all__ = ["Command", "CommandResult", "kill_tree"]


@dataclass
class Command:
    """A command to run as a task (submit it like a function: ``ex.submit(Command([...]))``).

    ``env`` is added to the current environment (``inherit_env=False`` to replace it);
    ``nice`` and ``cpu_affinity`` apply to the command; ``memory_limit`` (bytes) is set as
    ``RLIMIT_AS`` before ``exec``, so allocations past it fail inside the command.
    ``on_stdout``/``on_stderr`` receive each line as it is written. With ``check=True``
    a non-zero exit raises :class:`CommandError` (exit code 75 and SIGKILL count as
    transient for retries). Each command runs in its own session so a timeout can kill
    its whole process tree. ``sched_idle`` runs it under Linux ``SCHED_IDLE`` (nice 19
    where not permitted); ``None`` takes the executor's default (on for ``profile="cpu"``).
    """

    args: Sequence[str] | str
    cwd: str | os.PathLike | None = None
    env: Mapping[str, str] | None = None
    inherit_env: bool = True
    nice: int | None = None
    cpu_affinity: Sequence[int] | None = None
    memory_limit: int | None = None
    on_stdout: Callable[[str], None] | None = None
    on_stderr: Callable[[str], None] | None = None
    check: bool = True
    shell: bool = False
    max_output: int = 1 << 20
    sched_idle: bool | None = None

    def __post_init__(self) -> None:
        first = str(self.args if isinstance(self.args, str) else (self.args[0] if self.args else ""))
        # the task name for records and for learning memory per kind of task
        self.__name__ = os.path.basename(first.split()[0]) if first.strip() else "command"

    def __call__(self) -> CommandResult:
        """Run now, in this thread (the executor calls :func:`run_command` with its deadline)."""
        return run_command(self, None)


@dataclass
class CommandResult:
    args: Sequence[str] | str
    returncode: int
    stdout: str
    stderr: str
    pid: int
    cpu_time: float
    peak_rss: int


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Kill a process and all its descendants (children first looked up, then signalled)."""
    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def tree_rss(pid: int) -> int:
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _reader(stream, sink: list[str], limit: int, callback: Callable[[str], None] | None) -> None:
    size = 0
    for line in stream:
        if callback is not None:
            try:
                callback(line)
            except Exception:  # a broken callback must not block the pipe (and the child)
                callback = None
        if size < limit:
            sink.append(line)
            size += len(line)
    stream.close()


# The gate: wait for the parent's "go" on stdin (a pipe), then become the command
# with stdin from /dev/null (same pid, so the limits set on it stay). A pipe closed
# without "go" means the parent failed to apply the limits: exit, running nothing.
_SH = "/bin/sh"
_GATE = 'read -r go || exit 125; exec "$@" </dev/null'


def _spawn(argv: list[str], cmd: Command, env: Mapping[str, str], stdin: int = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        cwd=cmd.cwd,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )


def run_command(cmd: Command, deadline: float | None, on_start: Callable[[int], None] | None = None,
                sched_idle: bool = False) -> CommandResult:
    """Run ``cmd`` to completion or until ``deadline`` (``time.monotonic()``), then kill its tree.

    ``sched_idle`` is the default for a command whose own ``sched_idle`` is ``None``.
    """
    env = {**os.environ, **(cmd.env or {})} if cmd.inherit_env else dict(cmd.env or {})
    nice, affinity, mem = cmd.nice, cmd.cpu_affinity, cmd.memory_limit
    idle = cmd.sched_idle if cmd.sched_idle is not None else sched_idle

    needs_limits = bool(nice) or idle or affinity is not None or mem is not None
    if cmd.shell:
        argv = [_SH, "-c", cmd.args] if isinstance(cmd.args, str) else [_SH, "-c", *cmd.args]  # as Popen does
    else:
        argv = [cmd.args] if isinstance(cmd.args, str) else list(cmd.args)
    if not needs_limits:
        proc = _spawn(argv, cmd, env)
    else:
        # Limits are applied from here, to the child's pid, while it waits at a gate
        # before exec'ing the command. Not ``preexec_fn``: running Python between fork
        # and exec in a process with threads (BLAS pools, the executor's own) can
        # deadlock or crash the child, and did (SIGSEGV) in the test suite.
        if not cmd.shell and os.sep not in argv[0] and shutil.which(argv[0], path=env.get("PATH")) is None:
            raise FileNotFoundError(2, "No such file or directory", argv[0])
        gate_r, gate_w = os.pipe()
        try:
            proc = _spawn([_SH, "-c", _GATE, "workbench-gate", *argv], cmd, env, stdin=gate_r)
        finally:
            os.close(gate_r)
        try:
            lower_priority(idle, nice, tid=proc.pid)
            if affinity is not None:
                os.sched_setaffinity(proc.pid, affinity)
            if mem is not None:
                resource.prlimit(proc.pid, resource.RLIMIT_AS, (mem, mem))
            os.write(gate_w, b"go\n")
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            os.close(gate_w)
    if on_start is not None:
        on_start(proc.pid)
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=_reader, args=(proc.stdout, out, cmd.max_output, cmd.on_stdout), daemon=True),
        threading.Thread(target=_reader, args=(proc.stderr, err, cmd.max_output, cmd.on_stderr), daemon=True),
    ]
    for t in readers:
        t.start()
    peak = 0
    sleep = 0.001
    next_sample = 0.0
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        if now >= next_sample:  # sampled tree RSS catches grandchildren that ru_maxrss misses
            peak = max(peak, tree_rss(proc.pid))
            next_sample = now + 0.1
        if deadline is not None and now >= deadline:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            kill_tree(proc.pid)
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(sleep)
        sleep = min(sleep * 2, 0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:  # leftover grandchildren in the session would keep the pipes open forever
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for t in readers:
        t.join(5)
    peak = max(peak, usage.ru_maxrss * 1024)
    result = CommandResult(
        args=cmd.args,
        returncode=proc.returncode,
        stdout="".join(out),
        stderr="".join(err),
        pid=proc.pid,
        cpu_time=usage.ru_utime + usage.ru_stime,
        peak_rss=peak,
    )
    if timed_out:
        raise TaskTimeoutError(
            f"command {cmd.__name__!r} (pid {proc.pid}) passed its timeout and its process tree was killed",
            pid=proc.pid,
        )
    if cmd.check and proc.returncode != 0:
        tail = result.stderr[-2000:]
        if mem is not None and "MemoryError" in tail:
            raise MemoryLimitError(
                f"command {cmd.__name__!r} exceeded its memory_limit of {mem} bytes (exit code {proc.returncode}). "
                "Raise memory_limit or reduce the command's memory use.",
                returncode=proc.returncode,
                stderr=tail,
                memory_limit=mem,
            )
        raise CommandError(
            f"command {cmd.args!r} exited with code {proc.returncode}; stderr ends with: {tail[-500:]!r}",
            returncode=proc.returncode,
            stderr=tail,
        )
    return result
