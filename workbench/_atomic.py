"""Atomic file writes: the one way the project replaces a file.

A write goes to a dot-named temporary in the target's directory (readers and
the store's listings skip dot-names), is fsynced, renamed over the target with
:func:`os.replace`, and the directory is fsynced so the rename itself survives
a crash. A reader sees the old file or the new one, never half of one. On any
failure (a full disk, a file-size limit, an interrupt) the temporary is
removed: nothing is left behind.

``durable=False`` skips both fsyncs for files that are rewritten every few
seconds and worthless after a crash (status files, a cache): the rename still
makes the write atomic for readers, only not durable across a power cut.

Standard library only: the agent, the store and ``workbench.control`` import
it, and it must cost nothing to import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_open",
    "write_bytes_atomic",
    "write_text_atomic",
    "write_json_atomic",
    "replace_durable",
    "fsync_dir",
    "temp_name",
]


def temp_name(path: Path, tag: str | None = None) -> Path:
    """A dot-named temporary beside ``path``, unique to this process and call (threads do not collide)."""
    return path.with_name(f".{tag or path.name}.{os.getpid()}.{os.urandom(3).hex()}.tmp")


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync a directory so a rename or a new name in it survives a crash; silently a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durable(src: str | os.PathLike, dst: str | os.PathLike, *, durable: bool = True) -> None:
    """``os.replace(src, dst)``, then fsync ``dst``'s directory when ``durable``.

    For a temporary the caller has already written and fsynced (a streamed
    segment whose final name is only known at the end, a report directory).
    """
    os.replace(src, dst)
    if durable:
        fsync_dir(Path(dst).parent)


@contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = True, tag: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that wants a file name (Parquet, ``shutil.copyfile``).

    When the block ends normally the temporary is fsynced (``durable``) and
    renamed to ``path``; when it raises, or the rename fails, the temporary is
    removed and the exception propagates. The writer must have closed the
    file by the end of the block. ``tag`` names the temporary instead of
    ``path``'s own name.
    """
    path = Path(path)
    tmp = temp_name(path, tag)
    try:
        yield tmp
        if durable:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", *, durable: bool = True,
                encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary beside ``path`` for writing; on a normal exit flush, fsync and rename it to ``path``.

    ``mode`` is ``"wb"`` or ``"w"`` (text, ``encoding`` defaulting to UTF-8).
    An exception inside the block removes the temporary and leaves ``path`` as
    it was.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes a whole new file: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    tmp = temp_name(path)
    try:
        if mode == "w":
            fh = open(tmp, "w", encoding=encoding or "utf-8")  # noqa: SIM115 - closed below
        else:
            fh = open(tmp, "wb")  # noqa: SIM115 - closed below
        with fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def write_bytes_atomic(path: str | os.PathLike, data: bytes | str, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (a ``str`` is encoded as UTF-8)."""
    with atomic_open(path, "wb", durable=durable) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def write_text_atomic(path: str | os.PathLike, text: str, *, durable: bool = True, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically."""
    write_bytes_atomic(path, text.encode(encoding), durable=durable)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, durable: bool = True, **json_kwargs: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON atomically; ``json_kwargs`` go to :func:`json.dumps`.

    The JSON is serialised before anything is written, so an object that does
    not serialise leaves no temporary and the old file in place.
    """
    write_bytes_atomic(path, json.dumps(obj, **json_kwargs), durable=durable)
