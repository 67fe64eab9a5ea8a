"""`vector_search`: the k nearest neighbours of query vectors in a persisted collection.

Payload: {"collection": name, "queries": [[float]…] (1–1,000) or "query": [float] (exactly one
of the two), "k": 1–100 (default 10), "ef": 10–1000 (HNSW search breadth, default
max(64, k)), "exact": bool (default false)}.
Result: {"results": [[{"id", "distance"}…] per query], "exact": bool}, each list ordered by
distance ascending, then id; k larger than the collection returns every vector.

Collections of at most 2,000 vectors, and "exact": true, are searched by brute force (numpy,
float64, rounded to float32 like hnswlib); larger ones through the HNSW graph. Distances are
hnswlib's: cosine 1 − cos, ip 1 − dot, l2 squared Euclidean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import collections
from .base import ExecContext, Json, PayloadError, TaskError, TaskKind, Verification
from .payload import Fields

MAX_QUERIES = 1000
EXACT_MAX = 2000  # collections up to this size are always searched exactly
DEFAULT_EF = 64
_BLOCK = 4_000_000  # query×vector distances per block when brute-forcing a large collection


@dataclass(frozen=True)
class Payload:
    collection: str
    queries: np.ndarray  # float32 (q, dim)
    k: int
    ef: int | None
    exact: bool


def parse(obj: Json) -> Payload:
    f = Fields(obj, "vector_search")
    name = collections.check_name(f.str("collection", max_len=64), f.path("collection"))
    has_many, has_one = f.has("queries"), f.has("query")
    if has_many == has_one:
        raise PayloadError(
            "vector_search: give exactly one of 'queries' (a list of vectors) "
            "or 'query' (one vector)"
        )
    if has_many:
        queries = f.matrix("queries", max_rows=MAX_QUERIES)
        f.raw("query", required=False)
    else:
        queries = f.vector("query")[None, :]
        f.raw("queries", required=False)
    k = f.int("k", 1, 100, default=10)
    ef = f.int("ef", 10, 1000) if f.raw("ef", required=False) is not None else None
    exact = f.bool("exact", default=False)
    f.done()
    return Payload(name, queries, k, ef, exact)


def execute(p: Payload, ctx: ExecContext) -> Json:
    with collections.reading(ctx, p.collection) as coll:
        meta = coll.meta
        if p.queries.shape[1] != meta.dim:
            raise TaskError(
                f"vector_search.queries: collection {p.collection!r} holds "
                f"{meta.dim}-dimensional vectors, got {p.queries.shape[1]}",
                code="dim_mismatch",
            )
        k = min(p.k, meta.count)
        exact = p.exact or meta.count <= EXACT_MAX
        if k == 0:
            return {"results": [[] for _ in p.queries], "exact": exact}
        if not exact:
            found = _hnsw(coll, p.queries, k, max(p.ef or DEFAULT_EF, k))
            if found is None:  # the graph could not yield k results: fall back to brute force
                exact = True
        if exact:
            found = _brute(coll, p.queries, k)
        assert found is not None
        labels, dists = found
    return {"results": [_rows(labels[i], dists[i]) for i in range(len(labels))], "exact": exact}


def _rows(labels: np.ndarray, dists: np.ndarray) -> list[dict[str, Json]]:
    order = np.lexsort((labels, dists))
    return [{"id": int(labels[j]), "distance": float(dists[j])} for j in order]


def _hnsw(
    coll: collections.Collection, q: np.ndarray, k: int, ef: int
) -> tuple[np.ndarray, np.ndarray] | None:
    index = coll.index
    index.set_ef(ef)
    try:
        labels, dists = index.knn_query(
            np.ascontiguousarray(q, dtype=np.float32), k=k, num_threads=1
        )
    except RuntimeError:
        return None
    return np.asarray(labels, dtype=np.uint64), np.asarray(dists, dtype=np.float32)


def distances(space: str, q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """hnswlib's distances between queries q (m, d) and stored vectors v (n, d), as float32."""
    q64, v64 = q.astype(np.float64), v.astype(np.float64)
    if space == "cosine":  # stored vectors are already normalised; normalise like hnswlib
        q64 = q64 / (np.sqrt(np.einsum("ij,ij->i", q64, q64))[:, None] + 1e-30)
    dot = q64 @ v64.T
    if space == "l2":
        qq = np.einsum("ij,ij->i", q64, q64)[:, None]
        vv = np.einsum("ij,ij->i", v64, v64)[None, :]
        d = np.maximum(qq + vv - 2.0 * dot, 0.0)
    else:
        d = 1.0 - dot
    out: np.ndarray = d.astype(np.float32)
    return out


def _brute(coll: collections.Collection, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    count = coll.meta.count
    if count <= EXACT_MAX:
        ids, vecs = coll.all_vectors(cache=True)
        return _topk(ids, distances(coll.meta.space, q, vecs), k)
    all_ids = np.sort(np.asarray(coll.index.get_ids_list(), dtype=np.uint64))
    best_ids = np.zeros((len(q), 0), dtype=np.uint64)
    best_d = np.zeros((len(q), 0), dtype=np.float32)
    chunk = max(1000, _BLOCK // len(q))
    for start in range(0, len(all_ids), chunk):
        ids = all_ids[start : start + chunk]
        vecs = np.asarray(coll.index.get_items(ids), dtype=np.float32).reshape(len(ids), -1)
        d = distances(coll.meta.space, q, vecs)
        cand_ids = np.concatenate([best_ids, np.broadcast_to(ids, d.shape)], axis=1)
        best_ids, best_d = _topk_rows(cand_ids, np.concatenate([best_d, d], axis=1), k)
    return best_ids, best_d


def _topk(ids: np.ndarray, d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    return _topk_rows(np.broadcast_to(ids, d.shape), d, k)


def _topk_rows(ids: np.ndarray, d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k smallest (distance, id) pairs, ties at the boundary broken by id."""
    out_ids = np.empty((len(d), k), dtype=np.uint64)
    out_d = np.empty((len(d), k), dtype=np.float32)
    for i in range(len(d)):
        row_d, row_ids = d[i], ids[i]
        if len(row_d) > k:
            cut = np.partition(row_d, k - 1)[k - 1]
            keep = row_d <= cut
            row_d, row_ids = row_d[keep], row_ids[keep]
        order = np.lexsort((row_ids, row_d))[:k]
        out_ids[i], out_d[i] = row_ids[order], row_d[order]
    return out_ids, out_d


def size(p: Payload) -> int:
    return max(1, len(p.queries))


def small_example() -> Json:
    """Searches the collection `vectors_insert.small_example()` creates."""
    return {"collection": "example", "query": [1.0, 0.1, 0.0, 0.0], "k": 2}


KIND = TaskKind(
    name="vector_search",
    summary="k nearest neighbours in a persisted hnswlib collection (exact when small)",
    payload_schema={
        "collection": {"type": "string", "required": True, "rule": "an existing collection"},
        "queries": {
            "type": "list of number lists",
            "required": False,
            "rule": f"1–{MAX_QUERIES:,} vectors of the collection's dimension; "
            "exactly one of queries / query",
        },
        "query": {"type": "list of numbers", "required": False, "rule": "one vector"},
        "k": {"type": "integer", "required": False, "rule": "1–100, default 10"},
        "ef": {
            "type": "integer",
            "required": False,
            "rule": f"10–1000 HNSW search breadth, default max({DEFAULT_EF}, k)",
        },
        "exact": {
            "type": "boolean",
            "required": False,
            "rule": f"brute force; always used for ≤ {EXACT_MAX:,} vectors",
        },
    },
    result_schema={
        "results": {
            "type": "list of lists of {id, distance}",
            "rule": "per query, ≤ k neighbours by distance ascending then id; "
            "cosine 1−cos, ip 1−dot, l2 squared Euclidean",
        },
        "exact": {"type": "boolean", "rule": "whether brute force was used"},
    },
    verification=Verification("tolerance", 1e-4),
    parse=parse,
    size=size,
    execute=execute,
    small_example=small_example,
)

__all__ = ["KIND", "Payload", "distances", "execute", "parse", "size"]
