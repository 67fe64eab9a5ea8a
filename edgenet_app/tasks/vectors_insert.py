"""`vector_insert`: add vectors under caller-chosen ids to a persisted hnswlib collection.

Payload: {"collection": name, "vectors": [[float]…] (1–10,000 rows, dimension 1–4096),
"ids": [int] (one per vector, unique, 0 ≤ id < 2^63), "space": "cosine"|"l2"|"ip" (fixed when
the collection is created, default cosine; if given later it must match), "m" (4–64, default
16) and "ef_construction" (10–2000, default 200), both fixed at creation}.
Result: {"collection", "inserted", "replaced", "count", "dim", "space"}. An id that already
exists has its vector replaced. See `collections` for the on-disk format and locking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import collections
from .base import EXACT, ExecContext, Json, PayloadError, TaskKind
from .payload import Fields

MAX_ROWS = 10_000
MAX_DIM = 4096


@dataclass(frozen=True)
class Payload:
    collection: str
    vectors: np.ndarray  # float32 (n, dim)
    ids: np.ndarray  # uint64 (n,)
    space: str | None
    m: int | None
    ef_construction: int | None


def parse(obj: Json) -> Payload:
    f = Fields(obj, "vector_insert")
    name = collections.check_name(f.str("collection", max_len=64), f.path("collection"))
    vectors = f.matrix("vectors", max_rows=MAX_ROWS, max_dim=MAX_DIM)
    ids = check_ids(f.raw("ids"), f.path("ids"), len(vectors))
    space = f.str("space", required=False, choices=collections.SPACES)
    m = _optional_int(f, "m", 4, 64)
    ef_construction = _optional_int(f, "ef_construction", 10, 2000)
    f.done()
    return Payload(name, vectors, ids, space, m, ef_construction)


def _optional_int(f: Fields, name: str, lo: int, hi: int) -> int | None:
    if f.raw(name, required=False) is None:
        return None
    value: int = f.int(name, lo, hi)
    return value


def check_ids(v: Any, path: str, n: int) -> np.ndarray:
    if not isinstance(v, list):
        raise PayloadError(f"{path}: must be a list of integers (one per vector)")
    if len(v) != n:
        raise PayloadError(f"{path}: must hold one id per vector ({n}), got {len(v)}")
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, int):
            raise PayloadError(f"{path}[{i}]: must be an integer, got {type(x).__name__}")
        if not 0 <= x <= collections.MAX_ID:
            raise PayloadError(f"{path}[{i}]: must be between 0 and 2^63-1, got {x}")
    ids = np.array(v, dtype=np.uint64)
    uniq, counts = np.unique(ids, return_counts=True)
    if len(uniq) != n:
        dup = int(uniq[np.argmax(counts > 1)])
        raise PayloadError(f"{path}: ids must be unique; {dup} appears more than once")
    return ids


def execute(p: Payload, ctx: ExecContext) -> Json:
    out = collections.insert(
        ctx, p.collection, p.vectors, p.ids, space=p.space, m=p.m, ef_construction=p.ef_construction
    )
    return {
        "collection": p.collection,
        "inserted": len(p.ids),
        "replaced": out.replaced,
        "count": out.meta.count,
        "dim": out.meta.dim,
        "space": out.meta.space,
    }


def size(p: Payload) -> int:
    return max(1, len(p.ids))


def small_example() -> Json:
    return {
        "collection": "example",
        "vectors": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]],
        "ids": [1, 2, 3],
        "space": "cosine",
    }


KIND = TaskKind(
    name="vector_insert",
    summary="add vectors under integer ids to a persisted hnswlib collection (k-NN index)",
    payload_schema={
        "collection": {
            "type": "string",
            "required": True,
            "rule": "1–64 of a-z 0-9 _ -, starting with a letter or digit",
        },
        "vectors": {
            "type": "list of number lists",
            "required": True,
            "rule": f"1–{MAX_ROWS:,} vectors of equal dimension 1–{MAX_DIM}; "
            "must match the collection's dimension",
        },
        "ids": {
            "type": "list of integers",
            "required": True,
            "rule": "one per vector, unique, 0 ≤ id < 2^63; an existing id is replaced",
        },
        "space": {
            "type": "string",
            "required": False,
            "rule": "cosine | l2 | ip, set at creation (default cosine); must match later",
        },
        "m": {"type": "integer", "required": False, "rule": "4–64, default 16, set at creation"},
        "ef_construction": {
            "type": "integer",
            "required": False,
            "rule": "10–2000, default 200, set at creation",
        },
    },
    result_schema={
        "collection": {"type": "string", "rule": "the collection name"},
        "inserted": {"type": "integer", "rule": "vectors written by this task"},
        "replaced": {"type": "integer", "rule": "of those, ids that already existed"},
        "count": {"type": "integer", "rule": "vectors in the collection afterwards"},
        "dim": {"type": "integer", "rule": "the collection's dimension"},
        "space": {"type": "string", "rule": "cosine | l2 | ip"},
    },
    verification=EXACT,
    parse=parse,
    size=size,
    execute=execute,
    small_example=small_example,
)

__all__ = ["KIND", "Payload", "check_ids", "execute", "parse", "size"]
