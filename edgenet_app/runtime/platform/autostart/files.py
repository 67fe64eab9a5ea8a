"""Files of the backends that write one: replaced atomically, every failure an
`AutostartError` naming the path."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ...._fs import fsync_dir
from .base import AutostartError


def reason(exc: OSError) -> str:
    """The readable part of an OSError, for a message."""
    return exc.strerror or str(exc) or type(exc).__name__


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (mode 0644) via a temporary file in the same directory."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AutostartError(f"cannot create {path.parent}: {reason(exc)}") from exc
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise AutostartError(f"cannot write {path}: {reason(exc)}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AutostartError(f"cannot write {path}: {reason(exc)}") from exc
        raise
    fsync_dir(path.parent)


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None if there is no such file."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise AutostartError(f"cannot read {path}: {reason(exc)}") from exc


def remove(path: Path) -> None:
    """Delete `path` if it exists (and make that durable)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise AutostartError(f"cannot remove {path}: {reason(exc)}") from exc
    fsync_dir(path.parent)
