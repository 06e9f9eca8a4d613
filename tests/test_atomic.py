"""workbench._atomic: readers see old or new, never half; no temporary is left on any failure."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from workbench._atomic import (
    atomic_open,
    atomic_path,
    replace_durable,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def _litter(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def test_writes_and_replaces(tmp_path):
    p = tmp_path / "a.bin"
    write_bytes_atomic(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    write_bytes_atomic(p, "é", durable=False)
    assert p.read_bytes() == "é".encode()
    write_text_atomic(tmp_path / "t.txt", "hello\n")
    assert (tmp_path / "t.txt").read_text() == "hello\n"
    write_json_atomic(tmp_path / "j.json", {"b": 1, "a": [1, 2]}, indent=1, sort_keys=True)
    text = (tmp_path / "j.json").read_text()
    assert json.loads(text) == {"a": [1, 2], "b": 1}
    assert text.startswith('{\n "a"')  # json_kwargs reached json.dumps
    assert _litter(tmp_path) == []


def test_unserialisable_json_keeps_old_file(tmp_path):
    p = tmp_path / "s.json"
    write_json_atomic(p, {"ok": True})
    with pytest.raises(TypeError):
        write_json_atomic(p, {"bad": object()})
    assert json.loads(p.read_text()) == {"ok": True}
    write_json_atomic(p, {"when": object()}, default=lambda o: "obj")
    assert json.loads(p.read_text()) == {"when": "obj"}
    assert _litter(tmp_path) == []


def test_error_inside_the_block_keeps_old_file(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(p, "w") as fh:
        fh.write("half of the new")
        raise RuntimeError("writer failed")
    assert p.read_text() == "old"
    with pytest.raises(KeyboardInterrupt), atomic_path(p) as tmp:
        tmp.write_text("new")
        raise KeyboardInterrupt
    assert p.read_text() == "old"
    assert _litter(tmp_path) == []


def test_atomic_path_for_a_writer_that_wants_a_name(tmp_path):
    src = tmp_path / "src.js"
    src.write_bytes(b"x" * 5000)
    dst = tmp_path / "out" / "dst.js"
    dst.parent.mkdir()
    with atomic_path(dst, durable=False) as tmp:
        assert tmp.parent == dst.parent and tmp.name.startswith(".")
        shutil.copyfile(src, tmp)
    assert dst.read_bytes() == src.read_bytes()
    assert _litter(dst.parent) == []
    with pytest.raises(FileNotFoundError), atomic_path(dst):
        pass  # the writer wrote nothing: nothing to publish, and the old file stays
    assert dst.read_bytes() == src.read_bytes()


def test_bad_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'wb' or 'w', got 'a'"), atomic_open(tmp_path / "x", "a"):
        pass


def test_replace_durable_moves_a_directory(tmp_path):
    (tmp_path / ".run.tmp").mkdir()
    (tmp_path / ".run.tmp" / "run.json").write_text("{}")
    replace_durable(tmp_path / ".run.tmp", tmp_path / "run")
    assert (tmp_path / "run" / "run.json").read_text() == "{}"
    assert _litter(tmp_path) == []


def test_threads_writing_one_file_do_not_collide_and_readers_never_see_half(tmp_path):
    p = tmp_path / "status.json"
    bodies = [json.dumps({"writer": i, "pad": "x" * 200_000}) for i in range(4)]
    write_text_atomic(p, bodies[0])
    errors: list[BaseException] = []
    seen: set[str] = set()
    stop = threading.Event()

    def writer(i):
        try:
            for _ in range(25):
                write_text_atomic(p, bodies[i], durable=False)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def reader():
        while not stop.is_set():
            text = p.read_text()
            seen.add(text if text in bodies else "TORN")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert errors == []
    assert "TORN" not in seen
    assert p.read_text() in bodies
    assert _litter(tmp_path) == []


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A real 64 KiB tmpfs (needs root); skipped where mounting is not allowed."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True,
                         text=True)
    if res.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.parametrize("how", ["bytes", "json", "stream"])
def test_full_disk_leaves_old_file_and_no_temporary(tiny_tmpfs, how):
    p = tiny_tmpfs / "manifest.json"
    write_json_atomic(p, {"v": 1})
    big = "y" * 300_000
    with pytest.raises(OSError) as info:
        if how == "bytes":
            write_bytes_atomic(p, big.encode())
        elif how == "json":
            write_json_atomic(p, {"v": 2, "pad": big})
        else:
            with atomic_path(p) as tmp, open(tmp, "w") as fh:
                for _ in range(30):
                    fh.write(big[:10_000])
    assert info.value.errno == errno.ENOSPC
    assert json.loads(p.read_text()) == {"v": 1}
    assert _litter(tiny_tmpfs) == []
    write_json_atomic(p, {"v": 3})  # the space was given back
    assert json.loads(p.read_text()) == {"v": 3}


def test_file_size_limit_leaves_no_temporary(tmp_path):
    """The same without root: RLIMIT_FSIZE in a child makes the write fail with EFBIG."""
    script = f"""
import resource, signal, errno, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from workbench._atomic import write_bytes_atomic
p = Path({str(tmp_path)!r}) / "big.bin"
p.write_bytes(b"old")
try:
    write_bytes_atomic(p, b"z" * 100_000)
except OSError as exc:
    sys.exit(0 if exc.errno == errno.EFBIG else 3)
sys.exit(2)
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "big.bin").read_bytes() == b"old"
    assert _litter(tmp_path) == []
