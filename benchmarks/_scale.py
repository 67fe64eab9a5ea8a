"""The ledger at the seed's scale, for `benchmarks/ledger.py --scale`.

A network history of `tasks` tasks is simulated as the nodes would write it: submitters
pay their workers in `settlements` batches, one a period (`SETTLE_EVERY_S`, as
runtime/node/settle.py does), every event signed. Then it is measured the way a node lives
with it:

- `events_per_task`: events in the history per task (target ≤ 0.1);
- `store_mb`: the node's SQLite store holding that history;
- `start_s`, `node_rss_mb`: a fresh process opening that store (every event read back and
  authenticated, the state rebuilt), its wall time and resident memory (targets ≤ 2 s,
  ≤ 100 MB);
- `join_s`, `join_copies`: a newcomer pulling the history from three peers through the real
  reconciliation objects (one shared `Wants`), frames encoded and parsed, every event
  authenticated and admitted; copies = events received / events in the history (targets
  ≤ 10 s, ≤ 1.2);
- `antientropy_ms`: one in-sync exchange between two replicas of the history (≤ 20 ms).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from edgenet_app.core import economics as econ
from edgenet_app.core.events import ZERO_HASH, Event, GenesisGrant, Pay, Settlements, Stake
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.core.ledger import Ledger
from edgenet_app.core.peerwire import (
    Buckets,
    Entries,
    Events,
    LedgerSync,
    Recon,
    Reply,
    Summary,
    Want,
    Wants,
    parse,
)
from edgenet_app.runtime.node.settle import SETTLE_EVERY_S
from edgenet_app.runtime.store.store import Store

T0 = 1_700_000_000_000
PEERS = bytes(16)
PRICE = 1_000  # micro-credits a worker is paid for a task (0.001 credit)


class Chain:
    """One author's chain as it is written."""

    def __init__(self, who: Identity, network: bytes) -> None:
        self.who, self.network, self.seq, self.prev = who, network, 0, ZERO_HASH

    def sign(self, ts: int, body: Any) -> Event:
        self.seq += 1
        event = Event.create(self.who, self.network, self.seq, self.prev, ts, body)
        self.prev = event.id
        return event


def history(
    tasks: int, submitters: int, workers: int, per_min: int, redundancy: int
) -> tuple[Genesis, list[Event]]:
    subs = [Identity(i.to_bytes(4, "big") * 8) for i in range(1, submitters + 1)]
    wks = [Identity((10_000 + i).to_bytes(4, "big") * 8) for i in range(workers)]
    budget = tasks * redundancy * PRICE // submitters + 1_000 * econ.MICRO
    genesis = Genesis.create(
        Identity(b"\xc0" * 32),
        "scale",
        T0,
        grants=tuple((s.node_id, budget) for s in subs)
        + tuple((w.node_id, 101 * econ.MICRO) for w in wks),
    )
    net = genesis.network_id
    chains = {who.public_key: Chain(who, net) for who in subs + wks}
    out: list[Event] = []
    ts = T0 + 1_000
    for who in subs + wks:
        out.append(chains[who.public_key].sign(ts, GenesisGrant()))
    for who in wks:  # staked workers: every payment mints its bonus too
        out.append(chains[who.public_key].sign(ts + 1, Stake(econ.STAKE_REQUIRED)))
    gap_ms = 60_000 / per_min
    period = int(SETTLE_EVERY_S * 1000)
    queues: list[list[Pay]] = [[] for _ in subs]
    next_flush = ts + period
    start = ts + 10
    for n in range(tasks):
        now = start + int(n * gap_ms)
        while now >= next_flush:
            out += flush(queues, subs, chains, next_flush)
            next_flush += period
        task = n.to_bytes(16, "big")
        first = (n * redundancy) % workers
        for r in range(redundancy):
            w = wks[(first + r) % workers]
            queues[n % submitters].append(Pay(task, w.public_key, PRICE, 1_000, "embedding"))
    out += flush(queues, subs, chains, next_flush)
    return genesis, out


def flush(
    queues: list[list[Pay]], subs: list[Identity], chains: dict[bytes, Chain], ts: int
) -> list[Event]:
    out = []
    for i, queue in enumerate(queues):
        while queue:
            batch, queue[:] = queue[: econ.MAX_BATCH_ITEMS], queue[econ.MAX_BATCH_ITEMS :]
            out.append(chains[subs[i].public_key].sign(ts + i, Settlements(tuple(batch))))
    return out


OPEN_STORE = """
import json, sys, time, psutil
t = time.perf_counter()
from edgenet_app.core.genesis import Genesis
from edgenet_app.runtime.store.ledger_store import LedgerStore
from edgenet_app.runtime.store.store import Store
genesis = Genesis.decode(open(sys.argv[2], "rb").read())
ls = LedgerStore(Store.open(sys.argv[1]), genesis)
ls.ledger.state
took = time.perf_counter() - t
print(json.dumps({"start_s": took, "rss_mb": psutil.Process().memory_info().rss / 2**20,
                  "events": len(ls.ledger), "rejected": len(ls.ledger.rejected())}))
"""


def open_in_process(store: Path, genesis_file: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", OPEN_STORE, str(store), str(genesis_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def join(genesis: Genesis, source: Ledger, now_ms: int) -> tuple[Ledger, float, float]:
    """A newcomer pulls everything from three peers (each a replica of `source`)."""
    joiner = Ledger(genesis)
    wants = Wants()
    names = ["p1", "p2", "p3"]
    mine = {p: Recon(LedgerSync(joiner), wants, p.encode()) for p in names}
    theirs = {p: Recon(LedgerSync(source), Wants(), b"j") for p in names}
    queue: deque[tuple[str, str, bytes]] = deque()
    received = 0
    t = time.perf_counter()
    for p in names:
        queue.append((p, "j", theirs[p].summary(PEERS)))
    while True:
        while queue:
            src, dst, data = queue.popleft()
            frame = parse(data)
            recon = mine[src] if dst == "j" else theirs[dst]
            if isinstance(frame, Reply):
                received += len(frame.raw)
                _, out = recon.on_reply(frame, now_ms)
            elif isinstance(frame, Summary):
                out = recon.on_summary(frame, now_ms)
            elif isinstance(frame, Buckets):
                out = recon.on_buckets(frame)
            elif isinstance(frame, Entries):
                out = recon.on_entries(frame, now_ms)
            elif isinstance(frame, Want):
                out = recon.on_want(frame)
            elif isinstance(frame, Events):
                out = []
            else:  # pragma: no cover
                raise AssertionError(f"unexpected frame {frame!r}")
            back = src if dst == "j" else "j"
            here = dst
            for f in out:
                queue.append((here, back, f))
        polled = False
        for p in names:
            for f in mine[p].poll(now_ms):
                queue.append(("j", p, f))
                polled = True
        if not polled:
            break
    took = time.perf_counter() - t
    return joiner, took, received / max(1, len(source))


def in_sync_exchange_ms(a: Ledger, b: Ledger, repeat: int = 50) -> float:
    ra, rb = Recon(LedgerSync(a)), Recon(LedgerSync(b))
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        for x, y in ((ra, rb), (rb, ra)):
            frame = parse(x.summary(PEERS))
            assert isinstance(frame, Summary)
            assert y.on_summary(frame, 0) == []
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def run(
    tasks: int, submitters: int, workers: int, per_min: int, redundancy: int, tmp: Path
) -> dict[str, Any]:
    t = time.perf_counter()
    genesis, events = history(tasks, submitters, workers, per_min, redundancy)
    build_s = time.perf_counter() - t
    source = Ledger(genesis)
    source.add_many(events)
    assert not source.rejected(), list(source.rejected().values())[:3]
    now_ms = max(e.ts for e in events) + 1_000
    store_path = tmp / "node.sqlite3"
    store = Store.open(store_path)
    for i in range(0, len(events), 1_000):
        store.append_events(events[i : i + 1_000])
    store.close()
    genesis_file = tmp / "genesis.bin"
    genesis_file.write_bytes(genesis.encode())
    opened = open_in_process(store_path, genesis_file)
    joiner, join_s, copies = join(genesis, source, now_ms)
    assert joiner.state_root() == source.state_root(), "the newcomer did not converge"
    return {
        "network_tasks": tasks,
        "submitters": submitters,
        "workers": workers,
        "tasks_per_min": per_min,
        "redundancy": redundancy,
        "events": len(events),
        "events_per_task": round(len(events) / tasks, 4),
        "store_mb": round(os.path.getsize(store_path) / 2**20, 1),
        "start_s": round(opened["start_s"], 2),
        "node_rss_mb": round(opened["rss_mb"], 1),
        "join_s": round(join_s, 2),
        "join_copies": round(copies, 3),
        "antientropy_ms": round(in_sync_exchange_ms(source, joiner), 4),
        "build_s": round(build_s, 1),
        "targets": {
            "events_per_task": 0.1,
            "node_rss_mb": 100,
            "start_s": 2,
            "join_s": 10,
            "join_copies": 1.2,
            "antientropy_ms": 20,
        },
    }
