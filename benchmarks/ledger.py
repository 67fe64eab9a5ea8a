"""Ledger benchmark: verify and merge 10,000 signed events from 100 authors.

    python benchmarks/ledger.py [--authors 100] [--events 10000] [--repeat 3]
    python benchmarks/ledger.py --scale [--tasks 1000000] [--json]

`--scale` simulates a network history of `--tasks` tasks (signed, batched as the nodes
batch them) and measures a node living with it: see benchmarks/_scale.py. With `--json`
its last line is one JSON object (network_tasks, events_per_task, node_rss_mb, start_s,
store_mb, join_s, join_copies, antientropy_ms, and the targets).

Prints events/s for decode+verify+merge (target ≥ 5,000/s), PyNaCl's raw verify rate
for comparison, the time to compute balances and the state root, and peak memory.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc

import nacl.signing

from edgenet_app.core import economics as econ
from edgenet_app.core.events import GenesisGrant, Settlement, Stake, Transfer
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.core.ledger import Ledger

T0 = 1_700_000_000_000


def make_history(n_authors: int, n_events: int) -> tuple[Genesis, list[bytes]]:
    rnd = random.Random(7)
    nodes = [Identity(rnd.randbytes(32)) for _ in range(n_authors)]
    genesis = Genesis.create(
        Identity(b"\x01" * 32),
        "bench",
        T0,
        grants=tuple((n.node_id, 10_000 * econ.MICRO) for n in nodes),
    )
    ledger = Ledger(genesis)
    ts = T0 + econ.HOUR_MS
    for n in nodes:
        ledger.append(n, GenesisGrant(), ts)
    for n in nodes[: n_authors // 2]:
        ledger.append(n, Stake(econ.STAKE_REQUIRED), ts)
    task = 0
    while len(ledger) < n_events:
        ts += rnd.randint(1, 2000)
        me, you = rnd.sample(nodes, 2)
        if rnd.random() < 0.5:
            task += 1
            body = Settlement(
                task.to_bytes(16, "big"),
                you.public_key,
                econ.MICRO,
                rnd.randint(1, 60_000),
                "embedding",
            )
        else:
            body = Transfer(you.public_key, rnd.randint(1, 10) * econ.MICRO)
        ledger.append(me, body, ts)
    raws = [e.raw for e in ledger.events()]
    rnd.shuffle(raws)  # delivery order differs from authoring order
    return genesis, raws


def verify_and_merge(genesis: Genesis, raws: list[bytes]) -> Ledger:
    ledger = Ledger(genesis)
    for raw in raws:
        ledger.add_raw(raw)
    ledger.state  # noqa: B018 - compute balances
    return ledger


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors", type=int, default=100)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", action="store_true", help="the seed-scale history (slow)")
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--submitters", type=int, default=20)
    ap.add_argument("--workers", type=int, default=80)
    ap.add_argument("--tasks-per-min", type=int, default=1_000)
    ap.add_argument("--redundancy", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    args = ap.parse_args()
    if args.scale:
        scale(args)
        return

    t = time.perf_counter()
    genesis, raws = make_history(args.authors, args.events)
    took = time.perf_counter() - t
    print(f"generated {len(raws)} events from {args.authors} authors in {took:.1f} s")

    key = nacl.signing.SigningKey.generate()
    signed = key.sign(b"x" * 200)
    vk = key.verify_key
    t = time.perf_counter()
    for _ in range(3000):
        vk.verify(signed)
    nacl_rate = 3000 / (time.perf_counter() - t)

    rates, roots = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        ledger = verify_and_merge(genesis, raws)
        rates.append(len(raws) / (time.perf_counter() - t))
        ledger._state = None  # time a full rebuild of balances separately
        t = time.perf_counter()
        ledger.state  # noqa: B018
        rebuild = time.perf_counter() - t
        t = time.perf_counter()
        root = ledger.state_root()
        roots.append(time.perf_counter() - t)
    assert not ledger.rejected(), "benchmark history should be all valid"

    # merging two replicas that each hold half
    half_a, half_b = Ledger(genesis), Ledger(genesis)
    for i, raw in enumerate(raws):
        (half_a if i % 2 else half_b).add_raw(raw)
    t = time.perf_counter()
    half_a.merge(half_b)
    half_a.state  # noqa: B018
    merge_s = time.perf_counter() - t
    assert half_a.state_root() == root

    tracemalloc.start()
    verify_and_merge(genesis, raws)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    rate = statistics.median(rates)
    print(
        f"verify+merge: {rate:,.0f} events/s (median of {args.repeat}; target ≥ 5,000/s, "
        f"{rate / 5000:.2f}× target)"
    )
    print(f"PyNaCl raw Ed25519 verify: {nacl_rate:,.0f}/s (ledger: {rate / nacl_rate:.0%} of it)")
    print(f"balances rebuild from scratch: {rebuild * 1000:.1f} ms")
    print(f"state root: {statistics.median(roots) * 1000:.1f} ms")
    print(f"merge of two half replicas (+ balances): {merge_s * 1000:.1f} ms")
    print(f"peak traced memory while verifying+merging: {peak / 2**20:.1f} MiB")
    print(
        f"network CPU-hours {ledger.network_cpu_hours():.2f}, "
        f"multiplier {ledger.multiplier():.4f}, "
        f"supply {econ.format_credits(ledger.state.total_supply)} credits"
    )


def scale(args: argparse.Namespace) -> None:
    import json
    import tempfile
    from pathlib import Path

    from _scale import run

    with tempfile.TemporaryDirectory() as tmp:
        result = run(
            args.tasks,
            args.submitters,
            args.workers,
            args.tasks_per_min,
            args.redundancy,
            Path(tmp),
        )
    if not args.json:
        for key, value in result.items():
            print(f"{key}: {value}")
        return
    print(json.dumps(result))


if __name__ == "__main__":
    main()
