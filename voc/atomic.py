"""Atomic file writes: a file people open or send is either complete or absent, never truncated.

Every brief, review, export and alert file goes through :func:`atomic_open` (or :func:`atomic_write`):
the content is written to a temporary file in the target's own folder, flushed to disk, and only then
renamed over the target with ``os.replace`` (atomic on POSIX and Windows within one file system). A
failure part-way (disk full, quota, read-only folder, a crash) leaves the old file, or none, and no
temporary file; it is raised as one ``OutputError`` naming the file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from voc.errors import OutputError


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


@contextmanager
def atomic_open(
    path: Path | str, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` for writing; on a clean exit it replaces ``path``.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (bytes). The temporary file gets the usual permissions
    (0666 minus the umask), like a file created by ``open``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    target = Path(path)
    tmp = _tmp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from e
    try:
        with os.fdopen(
            fd, mode, encoding=None if "b" in mode else encoding, newline=None if "b" in mode else newline
        ) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise OutputError(f"cannot write {target}: {e.strerror or e}") from e
        raise


def make_folder(folder: Path | str, *, for_file: Path | str | None = None) -> Path:
    """Create ``folder`` (and parents) for output; an ``OutputError`` names the file when it cannot be."""
    d = Path(folder)
    what = f"cannot write {for_file}" if for_file is not None else f"cannot create folder {d}"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:
        raise OutputError(f"{what}: {e.filename or d} is a file, not a folder") from e
    except OSError as e:
        raise OutputError(f"{what}: {e.strerror or e}") from e
    return d


def atomic_write(path: Path | str, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text as ``encoding``, or bytes) to ``path`` atomically; returns the path."""
    if isinstance(data, bytes):
        with atomic_open(path, "wb") as f:
            f.write(data)
    else:
        with atomic_open(path, "w", encoding=encoding, newline="") as f:
            f.write(data)
    return Path(path)
