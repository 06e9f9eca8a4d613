"""Command tasks: a subprocess with streamed output, limits, and a killable process tree."""

from __future__ import annotations

import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
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
    ``on_stdout``/``on_stderr`` receive each line as it is written, ``on_start`` the
    command's pid when each attempt starts (before any of its output). With ``check=True``
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
    on_start: Callable[[int], None] | None = None

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
    """Kill a process and all its descendants (all looked up first, then signalled, the
    process itself first: a shell whose child died first could still exit 0 from ``wait``)."""
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def tree_rss(pid: int, include_root: bool = True) -> int:
    """Resident bytes of ``pid`` and all its descendants now (of the descendants only
    with ``include_root=False``)."""
    try:
        parent = psutil.Process(pid)
        procs = [*([parent] if include_root else []), *parent.children(recursive=True)]
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


# How a command is started, and why so.
#
# Memory: Linux keeps a process's high-water RSS across ``exec`` (exec_mmap folds the
# old address space's peak into the process's ``maxrss``). A child forked -- or
# vforked, as subprocess and posix_spawn do -- from this Python therefore reports this
# Python's own peak in ``ru_maxrss`` (``echo`` showed 92 MB, 2.9 GB in a large test
# process), and the governor learned memory per task from that. Reading
# /proc/<pid>/status VmHWM instead is exact only if read just before the exit, which
# nothing but ptrace can arrange; polling it misses a short spike.
#
# So the command is forked by a small process, /bin/sh (about 1.7 MB resident), and
# waited for by that same process: the *gate* below starts the command in the
# background (a fork of the shell, whose inherited high-water mark is the shell's),
# then ``exec``s into a short Python *reporter* that ``os.wait4``s the command -- still
# its child -- and writes the exact wait status and rusage (peak RSS, user and system
# CPU, descendants it waited for included) to the socket that is the gate's stdin.
# The recorded peak is then exact for any command larger than the shell. The price:
# the reporter's start-up (~10 ms of CPU, 20-40 ms on a busy machine) comes before the
# command starts; it is not counted in the task's CPU time.
#
# Limits: the command itself waits at a second gate -- ``read -r go`` on the socket --
# until this process has applied nice, SCHED_IDLE, CPU affinity and RLIMIT_AS to its
# pid (from here, not in ``preexec_fn``: running Python between fork and exec in a
# process with threads, BLAS pools or the executor's own, can deadlock or crash the
# child, and did with SIGSEGV in the test suite). A socket closed without "go" means
# the limits could not be applied: the command exits with 125, having run nothing.
# Only the command is limited; the reporter is not slowed by SCHED_IDLE or a memory
# limit. ``exec`` runs the real program even where the shell has a builtin of that
# name (``echo``), with stdin from /dev/null.
#
# Signals: a shell starts a background job with SIGINT and SIGQUIT ignored, which the
# command would inherit; ``env --default-signal`` (coreutils >= 8.31) restores them.
# Where ``env`` lacks that option they stay ignored, as for any ``cmd &`` in a script.
_SH = "/bin/sh"
_GATE = (
    'rep=$1; reset=$2; shift 2; exec 3<&0\n'
    '( read -r go <&3 || exit 125; exec $reset "$@" </dev/null 3<&- ) &\n'
    'exec "$0" -I -S -c "$rep" "$!" 3<&-\n'
)
# The reporter, not the shell, announces the command's pid: the shell may reap a
# finished background job itself, so the command must not get its "go" before the
# reporter (the same process after exec) is the one that will wait for it.
_REPORTER = (
    "import os, sys\n"
    "os.write(0, sys.argv[1].encode() + b'\\n')\n"
    "_, status, ru = os.wait4(int(sys.argv[1]), 0)\n"
    "os.write(0, f'{status} {ru.ru_maxrss} {ru.ru_utime!r} {ru.ru_stime!r}\\n'.encode())\n"
    "os._exit(0)\n"  # no interpreter teardown: the caller waits for this exit (~8 ms saved per command)
)
_reset_cache: list[str] = []


def _reset_signals() -> str:
    """``env --default-signal=INT,QUIT`` where ``env`` supports it, else nothing (checked once)."""
    if not _reset_cache:
        env = shutil.which("env") or "/usr/bin/env"
        try:
            ok = subprocess.run([env, "--default-signal=INT,QUIT", "true"], stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        _reset_cache.append(f"{env} --default-signal=INT,QUIT" if ok else "")
    return _reset_cache[0]


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


def _read_line(sock: socket.socket, timeout: float) -> str:
    """One line from ``sock`` (empty if it closed first or ``timeout`` passed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data.decode(errors="replace").strip()


def run_command(cmd: Command, deadline: float | None, on_start: Callable[[int], None] | None = None,
                sched_idle: bool = False) -> CommandResult:
    """Run ``cmd`` to completion or until ``deadline`` (``time.monotonic()``), then kill its tree.

    ``sched_idle`` is the default for a command whose own ``sched_idle`` is ``None``.
    """
    env = {**os.environ, **(cmd.env or {})} if cmd.inherit_env else dict(cmd.env or {})
    nice, affinity, mem = cmd.nice, cmd.cpu_affinity, cmd.memory_limit
    idle = cmd.sched_idle if cmd.sched_idle is not None else sched_idle

    if cmd.shell:
        argv = [_SH, "-c", cmd.args] if isinstance(cmd.args, str) else [_SH, "-c", *cmd.args]  # as Popen does
    else:
        argv = [cmd.args] if isinstance(cmd.args, str) else list(cmd.args)
    if not cmd.shell:  # say so here, as Popen would, rather than as exit code 127 from the gate
        if os.sep in argv[0]:
            if not os.path.isfile(os.path.join(cmd.cwd or "", argv[0])):
                raise FileNotFoundError(2, "No such file or directory", argv[0])
        elif shutil.which(argv[0], path=env.get("PATH", os.defpath)) is None:
            raise FileNotFoundError(2, "No such file or directory", argv[0])
    ours, theirs = socket.socketpair()
    try:
        with theirs:
            proc = _spawn([_SH, "-c", _GATE, sys.executable, _REPORTER, _reset_signals(), *argv], cmd, env,
                          stdin=theirs.fileno())
        try:
            line = _read_line(ours, 30.0)
            if not line.isdigit():
                raise CommandError(
                    f"command {cmd.__name__!r}: its starter (/bin/sh, then {sys.executable} -I -S; pid {proc.pid}) "
                    f"did not report the command's pid (got {line!r}); check that both run here.",
                    returncode=None, stderr="")
            pid = int(line)
            lower_priority(idle, nice, tid=pid)
            if affinity is not None:
                os.sched_setaffinity(pid, affinity)
            if mem is not None:
                resource.prlimit(pid, resource.RLIMIT_AS, (mem, mem))
            ours.sendall(b"go\n")
        except BaseException:
            ours.close()  # the command reads EOF instead of "go" and exits with 125, having run nothing
            proc.kill()
            proc.wait()
            raise
        for hook in (cmd.on_start, on_start):
            if hook is not None:
                try:
                    hook(pid)
                except Exception:  # noqa: BLE001 - a broken hook must not orphan the running command
                    pass
        out: list[str] = []
        err: list[str] = []
        readers = [
            threading.Thread(target=_reader, args=(proc.stdout, out, cmd.max_output, cmd.on_stdout), daemon=True),
            threading.Thread(target=_reader, args=(proc.stderr, err, cmd.max_output, cmd.on_stderr), daemon=True),
        ]
        for t in readers:
            t.start()
        peak = 0
        # The first tree sample waits 50 ms: the reporter's rusage gives the command's own
        # peak exactly, and a short command should not pay a scan of /proc for its tree.
        next_sample = time.monotonic() + 0.05
        timed_out = False
        reaped_by = 0.0
        reported = False
        while True:
            gate_pid, gate_status, _ = os.wait4(proc.pid, os.WNOHANG)
            if gate_pid:
                break
            now = time.monotonic()
            if now >= next_sample:  # the summed tree catches concurrent grandchildren that a max misses
                peak = max(peak, tree_rss(pid))
                next_sample = now + 0.1
            if deadline is not None and now >= deadline and not timed_out:
                timed_out = True
                kill_tree(pid)  # the command's tree; the reporter then reaps it and reports
                reaped_by = now + 5.0
            if timed_out and now >= reaped_by:
                os.killpg(proc.pid, signal.SIGKILL)  # the reporter is stuck: give up on its report
                _, gate_status, _ = os.wait4(proc.pid, 0)
                break
            if reported:  # the report is in (or the reporter is gone): it exits now
                time.sleep(0.001)
                continue
            # Sleep until the reporter writes the exit status (the command ended), the next
            # sample or the deadline, whichever comes first: no polling latency per command.
            wake = next_sample
            if deadline is not None and not timed_out:
                wake = min(wake, deadline)
            if timed_out:
                wake = min(wake, reaped_by)
            readable, _, _ = select.select([ours], [], [], max(0.0, wake - now))
            reported = bool(readable)
        proc.returncode = os.waitstatus_to_exitcode(gate_status)
        report = _read_line(ours, 1.0).split()
    finally:
        ours.close()
    try:  # leftover grandchildren in the session would keep the pipes open forever
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for t in readers:
        t.join(5)
    if len(report) != 4:
        kill_tree(pid)
        if not timed_out:
            raise CommandError(
                f"command {cmd.__name__!r} (pid {pid}): its exit status was lost, the reporter process "
                f"(pid {proc.pid}, {sys.executable} -I -S) ended with code {proc.returncode} without reporting; "
                f"its stderr ends with: {''.join(err)[-500:]!r}",
                returncode=proc.returncode, stderr="".join(err)[-2000:],
            )
        report = [str(signal.SIGKILL), "0", "0.0", "0.0"]
    status, maxrss_kib, utime, stime = int(report[0]), int(report[1]), float(report[2]), float(report[3])
    returncode = os.waitstatus_to_exitcode(status)
    peak = max(peak, maxrss_kib * 1024)
    result = CommandResult(
        args=cmd.args,
        returncode=returncode,
        stdout="".join(out),
        stderr="".join(err),
        pid=pid,
        cpu_time=utime + stime,
        peak_rss=peak,
    )
    if timed_out:
        raise TaskTimeoutError(
            f"command {cmd.__name__!r} (pid {pid}) passed its timeout and its process tree was killed",
            pid=pid,
        )
    if cmd.check and returncode != 0:
        tail = result.stderr[-2000:]
        if mem is not None and "MemoryError" in tail:
            raise MemoryLimitError(
                f"command {cmd.__name__!r} exceeded its memory_limit of {mem} bytes (exit code {returncode}). "
                "Raise memory_limit or reduce the command's memory use.",
                returncode=returncode,
                stderr=tail,
                memory_limit=mem,
            )
        raise CommandError(
            f"command {cmd.args!r} exited with code {returncode}; stderr ends with: {tail[-500:]!r}",
            returncode=returncode,
            stderr=tail,
        )
    return result
