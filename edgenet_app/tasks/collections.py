"""Persisted, named hnswlib vector collections shared by the worker processes of one node.

A collection lives in `<data_dir>/collections/<name>/`:

    meta.json          {"format", "uid", "version", "dim", "space", "count", "m",
                        "ef_construction", "index_file", "index_size"}
    index-<version>.bin  the hnswlib index that meta.json names
    .lock              the lock file (its content is unused)

Writers hold an exclusive lock on `.lock` (fcntl.flock on POSIX, msvcrt.locking on Windows)
and readers a shared one (exclusive on Windows, which has no shared locks). A write saves the
index under a new versioned name (temporary file, fsync, os.replace), then replaces meta.json the
same way, then removes the old index: meta.json always names a complete index, so a worker killed
at any point leaves the previous or the new collection, never a torn one. Loaded indexes stay in
the worker's `ctx.cache` and are reloaded only when meta.json's (uid, version) changed.

Ids are caller-chosen integers in [0, 2^63); adding an id that exists replaces its vector
(hnswlib updates the element in place). Distances are hnswlib's: cosine = 1 − cos(q, v),
ip = 1 − q·v, l2 = squared Euclidean distance.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import hnswlib  # type: ignore[import-untyped]
import numpy as np

from .._fs import fsync_dir
from .base import ExecContext, PayloadError, ResourceLimitError, TaskError

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SPACES = ("cosine", "l2", "ip")
MAX_ID = 2**63 - 1
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
FORMAT = 1
META = "meta.json"
LOCK = ".lock"
_CACHE_KEY = "collections"
_SEED = 100  # hnswlib's random seed for the level generator
_PROCESS_LOCK = threading.RLock()  # the cached indexes are shared by the threads of a process


@dataclass(frozen=True)
class Meta:
    uid: str
    version: int
    dim: int
    space: str
    count: int
    m: int
    ef_construction: int
    index_file: str
    index_size: int
    format: int = FORMAT


@dataclass
class Collection:
    """A loaded collection: its meta and the in-memory hnswlib index (owned by the cache)."""

    name: str
    meta: Meta
    index: Any  # hnswlib.Index
    _all: tuple[np.ndarray, np.ndarray] | None = None

    def all_vectors(self, cache: bool) -> tuple[np.ndarray, np.ndarray]:
        """(ids sorted ascending as uint64, vectors float32) — as stored (cosine: normalised)."""
        if self._all is not None:
            return self._all
        ids = np.sort(np.asarray(self.index.get_ids_list(), dtype=np.uint64))
        vecs = np.asarray(self.index.get_items(ids), dtype=np.float32).reshape(len(ids), -1)
        if cache:
            self._all = (ids, vecs)
        return ids, vecs


def check_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise PayloadError(
            f"{path}: a collection name is 1–64 characters of a-z, 0-9, '_' and '-', "
            f"starting with a letter or digit; got {str(value)[:80]!r}"
        )
    return value


def collection_dir(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "collections" / name


def exists(data_dir: Path, name: str) -> bool:
    return (collection_dir(data_dir, name) / META).is_file()


# -- locking -------------------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(path: Path, *, exclusive: bool, timeout_s: float) -> Iterator[None]:
    """Hold an advisory lock on `path` (created if missing); ResourceLimitError after timeout."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        pause = 0.001
        while not _try_lock(fd, exclusive):
            if time.monotonic() >= deadline:
                raise ResourceLimitError(
                    f"collection {path.parent.name!r} stayed locked by another worker for "
                    f"{timeout_s:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows CI
    import msvcrt

    def _try_lock(fd: int, exclusive: bool) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # Windows has no shared byte-range locks
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int, exclusive: bool) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


# -- files ---------------------------------------------------------------------------------


def _corrupt(name: str, why: str) -> TaskError:
    return TaskError(f"collection {name!r} is damaged: {why}", code="corrupt_collection")


def _read_meta(d: Path) -> Meta | None:
    try:
        raw = (d / META).read_bytes()
    except FileNotFoundError:
        return None
    try:
        obj = json.loads(raw)
        meta = Meta(**obj)
    except (ValueError, TypeError) as exc:
        raise _corrupt(d.name, f"unreadable {META} ({exc})") from None
    ints = (meta.version, meta.dim, meta.count, meta.m, meta.ef_construction, meta.index_size)
    ok = (
        meta.format == FORMAT
        and all(type(v) is int and v >= 0 for v in ints)
        and isinstance(meta.uid, str)
        and meta.space in SPACES
        and 1 <= meta.dim <= 4096
        and re.fullmatch(r"index-\d+\.bin", str(meta.index_file)) is not None
    )
    if not ok:
        raise _corrupt(d.name, f"invalid {META}")
    return meta


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows needs write access
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save(d: Path, index: Any, meta: Meta) -> Meta:
    """Write index then meta atomically; returns meta with the index file's size filled in."""
    tag = f".tmp-{os.getpid()}-{secrets.token_hex(4)}"
    final = d / meta.index_file
    tmp = d / (meta.index_file + tag)
    try:
        index.save_index(str(tmp))
        _fsync_file(tmp)
        os.replace(tmp, final)
        meta = replace(meta, index_size=final.stat().st_size)
        tmp = d / (META + tag)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(asdict(meta), fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, d / META)
        fsync_dir(d)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    # Leftovers: the index this write superseded, and files of writers killed mid-save.
    for p in d.iterdir():
        if p.name != meta.index_file and (p.name.startswith("index-") or ".tmp-" in p.name):
            with contextlib.suppress(OSError):
                p.unlink()
    return meta


def _load(ctx: ExecContext, d: Path, meta: Meta, extra: int = 0) -> Collection:
    """The collection for `meta`, from the cache if current, else read from disk."""
    cache: dict[str, Collection] = ctx.cache.setdefault(_CACHE_KEY, {})
    key = str(d.resolve())
    hit = cache.get(key)
    if hit is not None and (hit.meta.uid, hit.meta.version) == (meta.uid, meta.version):
        return hit
    cache.pop(key, None)
    path = d / meta.index_file
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _corrupt(d.name, f"{meta.index_file} is missing") from None
    if size != meta.index_size:
        raise _corrupt(d.name, f"{meta.index_file} is {size} bytes, expected {meta.index_size}")
    index = hnswlib.Index(space=meta.space, dim=meta.dim)
    try:
        index.load_index(str(path), max_elements=meta.count + extra)
    except (RuntimeError, ValueError) as exc:
        raise _corrupt(d.name, f"hnswlib cannot load {meta.index_file} ({exc})") from None
    if index.element_count != meta.count:
        raise _corrupt(d.name, f"index holds {index.element_count} vectors, meta says {meta.count}")
    coll = Collection(d.name, meta, index)
    cache[key] = coll
    return coll


# -- operations ----------------------------------------------------------------------------


@contextlib.contextmanager
def reading(ctx: ExecContext, name: str) -> Iterator[Collection]:
    """The current collection `name`, usable (in memory) for the duration of the block."""
    d = collection_dir(ctx.data_dir, name)
    with _PROCESS_LOCK:
        if not (d / META).is_file():
            raise TaskError(f"no collection named {name!r} on this node", code="no_collection")
        with file_lock(d / LOCK, exclusive=False, timeout_s=ctx.limits.timeout_s):
            meta = _read_meta(d)
            if meta is None:
                raise TaskError(f"no collection named {name!r} on this node", code="no_collection")
            coll = _load(ctx, d, meta)
        yield coll


def estimated_bytes(count: int, dim: int, m: int) -> int:
    """hnswlib's memory for `count` vectors: data, level-0 links, label, upper levels."""
    return count * (dim * 4 + (2 * m + 1) * 4 + 8 + m * 4 + 16)


@dataclass(frozen=True)
class InsertOutcome:
    meta: Meta
    added: int  # ids that were new
    replaced: int  # ids whose vector was replaced


def insert(
    ctx: ExecContext,
    name: str,
    vectors: np.ndarray,
    ids: np.ndarray,
    *,
    space: str | None,
    m: int | None,
    ef_construction: int | None,
) -> InsertOutcome:
    """Add (or replace) `vectors` under `ids`, creating the collection if needed."""
    d = collection_dir(ctx.data_dir, name)
    d.mkdir(parents=True, exist_ok=True)
    n, dim = vectors.shape
    with _PROCESS_LOCK, file_lock(d / LOCK, exclusive=True, timeout_s=ctx.limits.timeout_s):
        meta = _read_meta(d)
        if meta is None:
            meta = Meta(
                uid=secrets.token_hex(8),
                version=0,
                dim=dim,
                space=space or "cosine",
                count=0,
                m=m or DEFAULT_M,
                ef_construction=ef_construction or DEFAULT_EF_CONSTRUCTION,
                index_file="index-0.bin",
                index_size=0,
            )
            _check_memory(ctx, name, n, meta)
            index = hnswlib.Index(space=meta.space, dim=dim)
            index.init_index(
                max_elements=max(n, 64),
                M=meta.m,
                ef_construction=meta.ef_construction,
                random_seed=_SEED,
            )
            coll = Collection(name, meta, index)
        else:
            _check_compatible(name, meta, dim, space, m, ef_construction)
            _check_memory(ctx, name, meta.count + n, meta)
            coll = _load(ctx, d, meta, extra=n)
        cache: dict[str, Collection] = ctx.cache.setdefault(_CACHE_KEY, {})
        key = str(d.resolve())
        cache.pop(key, None)  # the in-memory index is about to diverge from disk until saved
        index = coll.index
        needed = meta.count + n
        if needed > index.max_elements:
            index.resize_index(max(needed, index.max_elements + index.max_elements // 2))
        index.add_items(vectors, ids, num_threads=1)  # the worker owns one CPU
        count = int(index.element_count)
        version = meta.version + 1
        new_meta = replace(meta, version=version, count=count, index_file=f"index-{version}.bin")
        new_meta = _save(d, index, new_meta)
        coll.meta, coll._all = new_meta, None
        cache[key] = coll
        added = count - meta.count
        return InsertOutcome(new_meta, added, n - added)


def _check_compatible(
    name: str, meta: Meta, dim: int, space: str | None, m: int | None, ef_construction: int | None
) -> None:
    if dim != meta.dim:
        raise TaskError(
            f"vector_insert.vectors: collection {name!r} holds {meta.dim}-dimensional "
            f"vectors, got {dim}",
            code="dim_mismatch",
        )
    if space is not None and space != meta.space:
        raise TaskError(
            f"vector_insert.space: collection {name!r} uses space {meta.space!r}, "
            f"got {space!r} (space is fixed when a collection is created)",
            code="space_mismatch",
        )
    for field, given, have in (
        ("m", m, meta.m),
        ("ef_construction", ef_construction, meta.ef_construction),
    ):
        if given is not None and given != have:
            raise PayloadError(
                f"vector_insert.{field}: collection {name!r} was created with "
                f"{field}={have}, got {given} (fixed at creation)"
            )


def _check_memory(ctx: ExecContext, name: str, count: int, meta: Meta) -> None:
    need = estimated_bytes(count, meta.dim, meta.m)
    limit = ctx.limits.memory_mb * 1024 * 1024
    if need > limit:
        raise ResourceLimitError(
            f"collection {name!r} would need about {need / 2**20:.0f} MB for {count:,} vectors, "
            f"over the worker memory limit of {ctx.limits.memory_mb} MB"
        )


__all__ = [
    "NAME_RE",
    "SPACES",
    "Collection",
    "InsertOutcome",
    "Meta",
    "check_name",
    "collection_dir",
    "exists",
    "file_lock",
    "insert",
    "reading",
]
