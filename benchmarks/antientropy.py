"""Anti-entropy benchmark: two replicas of 1,000,000 events over 100,000 authors.

    python benchmarks/antientropy.py [--authors 100000] [--events 1000000] [--repeat 20]

Prints one JSON line:
- `antientropy_ms`: one in-sync exchange, both directions (each side builds its `sum`, the
  other parses it and compares it with its own root: nothing else is sent), median;
- `after_change_ms`: the same right after both sides gained one event (one author's summary
  and its bucket are updated, the root rehashed);
- `index_build_ms`: the first summary of a freshly loaded ledger (every author summarised);
- `frame_max_bytes`: the largest frame of the exchange and of a full pull round served to an
  empty peer (every bucket's entries in pages, then a `want` of 1,000 authors answered);
- `round_frames` / `round_bytes`: the pages of that full round (the whole version vector);
  the old single `vv` frame would have been about `old_vv_bytes`.

Events are unsigned stand-ins built without PyNaCl (their ids hash-chain as real ones do):
an in-sync exchange carries no events, and serving a `want` never decodes one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import time

from edgenet_app.core.events import _TRUSTED, ZERO_HASH, Event, GenesisGrant
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.core.ledger import Ledger
from edgenet_app.core.peerwire import BUCKETS, Buckets, Entries, LedgerSync, Recon, Want, parse

T0 = 1_700_000_000_000
PEERS = bytes(16)


def stand_in(network: bytes, author: bytes, seq: int, prev: bytes) -> Event:
    raw = b"bench" + author + seq.to_bytes(8, "big") + prev
    eid = hashlib.blake2b(raw, digest_size=32, person=b"edgenet-event").digest()
    return Event(
        network, author, seq, prev, T0 + seq, GenesisGrant(), bytes(64), raw, eid, _TRUSTED
    )


def build(genesis: Genesis, n_authors: int, n_events: int) -> list[Event]:
    rnd = random.Random(7)
    per, extra = divmod(n_events, n_authors)
    out = []
    for i in range(n_authors):
        author = rnd.randbytes(32)
        prev = ZERO_HASH
        for seq in range(1, per + (1 if i < extra else 0) + 1):
            e = stand_in(genesis.network_id, author, seq, prev)
            out.append(e)
            prev = e.id
    return out


def exchange(rx: Recon, ry: Recon) -> tuple[int, int]:
    """One in-sync exchange, both directions: (frames beyond the two sums, largest frame)."""
    extra, biggest = 0, 0
    for a, b in ((rx, ry), (ry, rx)):
        data = a.summary(PEERS)
        biggest = max(biggest, len(data))
        frame = parse(data)
        out = b.on_summary(frame, T0)  # type: ignore[arg-type]
        extra += len(out)
    return extra, biggest


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    genesis = Genesis.create(Identity(b"\x01" * 32), "bench", T0)
    t = time.perf_counter()
    events = build(genesis, args.authors, args.events)
    x, y = Ledger(genesis), Ledger(genesis)
    for e in events:
        x.add(e)
        y.add(e)
    build_s = time.perf_counter() - t
    held = len(x)

    t = time.perf_counter()
    x.sync_index.root()
    index_build_ms = (time.perf_counter() - t) * 1000
    y.sync_index.root()

    rx, ry = Recon(LedgerSync(x)), Recon(LedgerSync(y))
    extra, biggest = exchange(rx, ry)
    assert extra == 0, "replicas holding the same events must be in sync"
    antientropy_ms = timed(lambda: exchange(rx, ry), args.repeat)

    def change() -> None:
        e = events[random.randrange(len(events))]
        n = stand_in(genesis.network_id, e.author, 10**9 + random.randrange(10**9), e.id)
        x.add(n)
        y.add(n)
        assert exchange(rx, ry)[0] == 0

    after_change_ms = timed(change, args.repeat)

    # a full pull round served to an empty peer: every bucket's entries, in pages
    empty = Ledger(genesis).sync_index.bucket_digests()
    round_frames = round_bytes = 0
    start = 0
    t = time.perf_counter()
    while start < BUCKETS:
        pages = rx.on_buckets(Buckets(empty, start))
        round_frames += len(pages)
        round_bytes += sum(len(p) for p in pages)
        biggest = max(biggest, *map(len, pages))
        last = parse(pages[-1])
        assert isinstance(last, Entries)
        start = last.resume
    round_ms = (time.perf_counter() - t) * 1000
    authors = sorted({e.author for e in events[:: max(1, len(events) // 1000)]})[:1000]
    replies = rx.on_want(Want(tuple((a, 1, b"") for a in authors)))
    biggest = max(biggest, *map(len, replies))

    print(
        json.dumps(
            {
                "authors": args.authors,
                "events": held,
                "antientropy_ms": round(antientropy_ms, 4),
                "after_change_ms": round(after_change_ms, 4),
                "index_build_ms": round(index_build_ms, 1),
                "frame_max_bytes": biggest,
                "sum_bytes": len(rx.summary(PEERS)),
                "round_frames": round_frames,
                "round_bytes": round_bytes,
                "round_ms": round(round_ms, 1),
                "old_vv_bytes": args.authors * 56,
                "build_s": round(build_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
