"""vector_insert / vector_search: results against a numpy reference, persistence, recall,
errors, locking, and real multi-process writers."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgenet_app.tasks import collections
from edgenet_app.tasks.base import ExecContext, Limits, PayloadError, ResourceLimitError, TaskError
from edgenet_app.tasks.registry import get_kind


def run(kind: str, payload: Any, ctx: ExecContext) -> Any:
    k = get_kind(kind)
    return k.execute(k.parse(payload), ctx)


def insert(ctx: ExecContext, name: str, x: np.ndarray, ids: list[int], **extra: Any) -> Any:
    return run(
        "vector_insert", {"collection": name, "vectors": x.tolist(), "ids": ids, **extra}, ctx
    )


def search(ctx: ExecContext, name: str, q: np.ndarray, k: int = 10, **extra: Any) -> Any:
    return run("vector_search", {"collection": name, "queries": q.tolist(), "k": k, **extra}, ctx)


def reference(
    space: str, x: np.ndarray, ids: list[int], q: np.ndarray, k: int
) -> list[list[tuple[int, float]]]:
    """Independent brute force in float64: [(id, distance)] by distance, then id."""
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    out = []
    for row in q64:
        if space == "cosine":
            xn = x64 / np.linalg.norm(x64, axis=1, keepdims=True)
            d = 1.0 - xn @ (row / np.linalg.norm(row))
        elif space == "ip":
            d = 1.0 - x64 @ row
        else:
            d = ((x64 - row) ** 2).sum(axis=1)
        pairs = sorted(zip(d.tolist(), ids, strict=True))[:k]
        out.append([(i, dist) for dist, i in pairs])
    return out


def check_against(result: Any, ref: list[list[tuple[int, float]]], tol: float = 1e-5) -> None:
    assert len(result["results"]) == len(ref)
    for got, want in zip(result["results"], ref, strict=True):
        assert [h["id"] for h in got] == [i for i, _ in want]
        for h, (_, dist) in zip(got, want, strict=True):
            assert h["distance"] == pytest.approx(dist, abs=tol)


@pytest.fixture
def ctx(tmp_path: Path) -> ExecContext:
    return ExecContext(tmp_path)


def clustered(n: int, dim: int, centers: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, dim))
    x = c[rng.integers(0, centers, n)] + 0.3 * rng.normal(size=(n, dim))
    q = c[rng.integers(0, centers, 200)] + 0.3 * rng.normal(size=(200, dim))
    return x.astype(np.float32), q.astype(np.float32)


@pytest.mark.parametrize("space", ["cosine", "l2", "ip"])
def test_exact_search_matches_numpy_reference(ctx: ExecContext, space: str) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    ids = [int(i) for i in rng.choice(10**12, size=300, replace=False)]
    ids[0] = 2**63 - 1  # the largest allowed id survives the round trip
    out = insert(ctx, "c", x[:120], ids[:120], space=space)
    assert out == {
        "collection": "c",
        "inserted": 120,
        "replaced": 0,
        "count": 120,
        "dim": 16,
        "space": space,
    }
    assert insert(ctx, "c", x[120:], ids[120:])["count"] == 300  # space inherited
    q = rng.normal(size=(20, 16)).astype(np.float32)
    res = search(ctx, "c", q, k=7)
    assert res["exact"] is True
    check_against(res, reference(space, x, ids, q, 7))
    everything = search(ctx, "c", q[:2], k=100)  # k larger than... a 300-vector collection
    check_against(everything, reference(space, x, ids, q[:2], 100))
    one = run("vector_search", {"collection": "c", "query": q[0].tolist(), "k": 3}, ctx)
    check_against(one, reference(space, x, ids, q[:1], 3))


def test_k_larger_than_collection_returns_all_sorted_ties_by_id(ctx: ExecContext) -> None:
    x = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    insert(ctx, "t", x, [40, 7, 3, 12], space="l2")
    res = run("vector_search", {"collection": "t", "query": [1, 0], "k": 100}, ctx)
    assert [h["id"] for h in res["results"][0]] == [7, 12, 40, 3]
    assert [h["distance"] for h in res["results"][0]] == [0.0, 0.0, 0.0, 2.0]


def test_reinserting_an_id_replaces_its_vector(ctx: ExecContext) -> None:
    insert(ctx, "r", np.eye(3, dtype=np.float32), [1, 2, 3], space="l2")
    out = insert(ctx, "r", np.array([[5.0, 5.0, 5.0]], np.float32), [2])
    assert (out["count"], out["replaced"]) == (3, 1)
    res = run("vector_search", {"collection": "r", "query": [5, 5, 5], "k": 1}, ctx)
    assert res["results"][0] == [{"id": 2, "distance": 0.0}]


def test_persists_across_processes_and_reloads_when_changed(tmp_path: Path) -> None:
    a, b = ExecContext(tmp_path), ExecContext(tmp_path)  # two "worker processes"' caches
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 8)).astype(np.float32)
    insert(a, "p", x[:30], list(range(30)))
    q = rng.normal(size=(4, 8)).astype(np.float32)
    assert search(a, "p", q, k=5) == search(b, "p", q, k=5)
    insert(b, "p", x[30:], list(range(30, 50)))
    check_against(search(a, "p", q, k=5), reference("cosine", x, list(range(50)), q, 5))
    fresh = ExecContext(tmp_path)
    check_against(search(fresh, "p", q, k=50), reference("cosine", x, list(range(50)), q, 50))
    files = sorted(p.name for p in collections.collection_dir(tmp_path, "p").iterdir())
    assert files == [".lock", "index-2.bin", "meta.json"]  # superseded index removed


def test_hnsw_recall_on_clustered_data(ctx: ExecContext) -> None:
    x, q = clustered(20_000, 64, 200, seed=11)
    for s in range(0, len(x), 10_000):
        insert(
            ctx,
            "big",
            x[s : s + 10_000],
            list(range(s, s + 10_000)),
            space="l2",
            ef_construction=100,
        )
    res = search(ctx, "big", q, k=10)
    assert res["exact"] is False
    x64 = x.astype(np.float64)
    d = (x64**2).sum(1)[None, :] - 2 * q.astype(np.float64) @ x64.T  # + |q|², same per row
    truth = np.argsort(d, axis=1)[:, :10]
    got = [[h["id"] for h in row] for row in res["results"]]
    recall = np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth.tolist(), strict=True)])
    assert recall >= 0.95
    for row in res["results"]:
        assert [h["distance"] for h in row] == sorted(h["distance"] for h in row)
    exact = search(ctx, "big", q[:5], k=10, exact=True)
    assert exact["exact"] is True
    assert [[h["id"] for h in row] for row in exact["results"]] == truth[:5].tolist()


def test_mismatched_dimension_space_and_settings(ctx: ExecContext) -> None:
    insert(ctx, "m", np.ones((2, 4), np.float32), [1, 2], space="ip")
    with pytest.raises(TaskError, match="holds 4-dimensional") as e:
        insert(ctx, "m", np.ones((1, 5), np.float32), [3])
    assert e.value.code == "dim_mismatch"
    with pytest.raises(TaskError, match="uses space 'ip'") as e:
        insert(ctx, "m", np.ones((1, 4), np.float32), [3], space="cosine")
    assert e.value.code == "space_mismatch"
    with pytest.raises(PayloadError, match=r"vector_insert\.m: .*created with m=16"):
        insert(ctx, "m", np.ones((1, 4), np.float32), [3], m=32)
    with pytest.raises(TaskError, match=r"vector_search\.queries: .*4-dimensional") as e:
        search(ctx, "m", np.ones((1, 3), np.float32))
    assert e.value.code == "dim_mismatch"


def test_missing_collection_is_named(ctx: ExecContext) -> None:
    with pytest.raises(TaskError, match="'nope'") as e:
        run("vector_search", {"collection": "nope", "query": [1.0]}, ctx)
    assert e.value.code == "no_collection"


V = [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    ("kind", "payload", "fragment"),
    [
        (
            "vector_insert",
            {"collection": "Bad!", "vectors": V, "ids": [1, 2]},
            "vector_insert.collection",
        ),
        (
            "vector_insert",
            {"collection": "-x", "vectors": V, "ids": [1, 2]},
            "vector_insert.collection",
        ),
        ("vector_insert", {"collection": "c", "vectors": V, "ids": [1]}, "vector_insert.ids"),
        ("vector_insert", {"collection": "c", "vectors": V, "ids": [1, 1]}, "unique"),
        (
            "vector_insert",
            {"collection": "c", "vectors": V, "ids": [1, -1]},
            "vector_insert.ids[1]",
        ),
        (
            "vector_insert",
            {"collection": "c", "vectors": V, "ids": [2**63, 1]},
            "vector_insert.ids[0]",
        ),
        (
            "vector_insert",
            {"collection": "c", "vectors": V, "ids": [True, 1]},
            "vector_insert.ids[0]",
        ),
        (
            "vector_insert",
            {"collection": "c", "vectors": V, "ids": [1, 2], "space": "euclid"},
            "vector_insert.space",
        ),
        (
            "vector_insert",
            {"collection": "c", "vectors": [[1.0], [1.0, 2.0]], "ids": [1, 2]},
            "vector_insert.vectors[1]",
        ),
        (
            "vector_insert",
            {"collection": "c", "vectors": [[1.0, "x"]], "ids": [1]},
            "vector_insert.vectors[0][1]",
        ),
        ("vector_insert", {"collection": "c", "vectors": [], "ids": []}, "vector_insert.vectors"),
        (
            "vector_insert",
            {"collection": "c", "vectors": [[0.0]] * 10_001, "ids": [0] * 10_001},
            "vector_insert.vectors",
        ),
        ("vector_insert", {"collection": "c", "vectors": [[0.0] * 4097], "ids": [0]}, "dimension"),
        (
            "vector_insert",
            {"collection": "c", "vectors": V, "ids": [1, 2], "m": 1},
            "vector_insert.m",
        ),
        ("vector_insert", {"collection": "c", "vectors": V, "ids": [1, 2], "extra": 1}, "extra"),
        ("vector_search", {"collection": "c"}, "exactly one of 'queries'"),
        (
            "vector_search",
            {"collection": "c", "query": [1.0], "queries": [[1.0]]},
            "exactly one of 'queries'",
        ),
        ("vector_search", {"collection": "c", "query": [1.0], "k": 0}, "vector_search.k"),
        ("vector_search", {"collection": "c", "query": [1.0], "k": 101}, "vector_search.k"),
        ("vector_search", {"collection": "c", "query": [1.0], "ef": 5}, "vector_search.ef"),
        (
            "vector_search",
            {"collection": "c", "query": [1.0], "exact": "yes"},
            "vector_search.exact",
        ),
        ("vector_search", {"collection": "c", "query": "v"}, "vector_search.query"),
        ("vector_search", {"collection": "c", "queries": [[1.0]] * 1001}, "vector_search.queries"),
    ],
)
def test_bad_payloads_name_the_field(kind: str, payload: Any, fragment: str) -> None:
    with pytest.raises(PayloadError) as e:
        get_kind(kind).parse(payload)
    assert fragment in str(e.value)


def test_small_examples_and_sizes(ctx: ExecContext) -> None:
    ins, sea = get_kind("vector_insert"), get_kind("vector_search")
    assert ins.size(ins.parse(ins.small_example())) == 3
    run("vector_insert", ins.small_example(), ctx)
    res = run("vector_search", sea.small_example(), ctx)
    assert [h["id"] for h in res["results"][0]] == [1, 3]
    assert sea.size(sea.parse(sea.small_example())) == 1
    assert sea.verification.agree(res, json.loads(json.dumps(res)))


def test_a_held_write_lock_makes_readers_time_out(ctx: ExecContext) -> None:
    insert(ctx, "l", np.ones((1, 2), np.float32), [1])
    d = collections.collection_dir(ctx.data_dir, "l")
    ctx.limits = Limits(timeout_s=0.2)
    with collections.file_lock(d / collections.LOCK, exclusive=True, timeout_s=1):
        with pytest.raises(ResourceLimitError, match="locked"):
            run("vector_search", {"collection": "l", "query": [1, 1]}, ctx)
    assert run("vector_search", {"collection": "l", "query": [1, 1]}, ctx)["results"][0][0]["id"]


def test_damaged_meta_is_reported(ctx: ExecContext) -> None:
    insert(ctx, "d", np.ones((1, 2), np.float32), [1])
    (collections.collection_dir(ctx.data_dir, "d") / "meta.json").write_text("{not json")
    with pytest.raises(TaskError) as e:
        run("vector_search", {"collection": "d", "query": [1, 1]}, ExecContext(ctx.data_dir))
    assert e.value.code == "corrupt_collection"


def _writer(data_dir: str, first: int, batches: int, per: int, dim: int) -> None:
    ctx = ExecContext(Path(data_dir))
    rng = np.random.default_rng(first)
    for b in range(batches):
        ids = list(range(first + b * per, first + (b + 1) * per))
        insert(ctx, "shared", rng.normal(size=(per, dim)).astype(np.float32), ids)


@pytest.mark.slow
def test_concurrent_inserts_from_two_processes_keep_every_id(tmp_path: Path) -> None:
    mpc = mp.get_context("spawn")
    procs = [
        mpc.Process(target=_writer, args=(str(tmp_path), base, 15, 20, 8)) for base in (0, 10_000)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with collections.reading(ExecContext(tmp_path), "shared") as coll:
        got = set(coll.index.get_ids_list())
        assert coll.meta.count == 600
    assert got == set(range(300)) | set(range(10_000, 10_300))


def _endless_writer(data_dir: str) -> None:
    ctx = ExecContext(Path(data_dir))
    rng = np.random.default_rng(os.getpid())
    i = 0
    while True:
        insert(ctx, "k", rng.normal(size=(200, 16)).astype(np.float32), list(range(i, i + 200)))
        i += 200


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX-only")
@pytest.mark.slow
def test_a_killed_writer_never_leaves_a_broken_collection(tmp_path: Path) -> None:
    mpc = mp.get_context("fork")
    rng = np.random.default_rng(5)
    for _ in range(4):
        p = mpc.Process(target=_endless_writer, args=(str(tmp_path),))
        p.start()
        time.sleep(0.15 + float(rng.uniform(0, 0.3)))
        assert p.pid is not None
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        if not collections.exists(tmp_path, "k"):
            continue
        meta = json.loads((collections.collection_dir(tmp_path, "k") / "meta.json").read_text())
        with collections.reading(ExecContext(tmp_path), "k") as coll:
            assert coll.index.element_count == meta["count"] > 0
        res = run(
            "vector_search", {"collection": "k", "query": [0.0] * 16, "k": 3}, ExecContext(tmp_path)
        )
        assert len(res["results"][0]) == 3
