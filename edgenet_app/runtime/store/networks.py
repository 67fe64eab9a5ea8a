"""Reading and writing genesis files (`--network FILE`)."""

from __future__ import annotations

import os
from pathlib import Path

from ...core.default_network import default_network
from ...core.errors import EdgenetError, WireError
from ...core.genesis import MAX_GENESIS_BYTES, Genesis


class NetworkFileError(EdgenetError):
    """A genesis file could not be read or is not valid."""


def load_network(path: str | os.PathLike[str] | None) -> Genesis:
    """The network defined by the genesis file at `path`, or the built-in default."""
    if path is None:
        return default_network()
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(MAX_GENESIS_BYTES + 1)
    except FileNotFoundError:
        raise NetworkFileError(f"no network file at {p}") from None
    except OSError as exc:
        raise NetworkFileError(f"cannot read network file {p}: {exc.strerror}") from None
    try:
        return Genesis.load(data)
    except WireError as exc:
        raise NetworkFileError(f"{p} is not a valid edgenet network file: {exc}") from None


def write_network(genesis: Genesis, path: Path, *, force: bool = False) -> None:
    """Write a genesis file; refuses to replace an existing file unless `force`."""
    data = genesis.encode()
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise NetworkFileError(f"{path} exists; pass --force to replace it") from None
    except OSError as exc:
        raise NetworkFileError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
