"""Durability: SIGKILL a process mid-write, 50 times, and the store must stay whole.

Each round a real child process (tests/support/_store_writer.py) opens the same store file and
appends signed, chained events in a tight loop, one transaction per random batch; the parent
kills it at a random moment and then checks the file: it opens, `integrity_check` is ok, every
event decodes and verifies, every chain is contiguous and linked, nothing acknowledged was lost,
and nothing beyond the batch in flight appeared. The next child is started one round ahead and
waits for "go", so its interpreter start-up overlaps the current round.
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgenet_app.core.events import ZERO_HASH, Event
from edgenet_app.runtime.store.store import Store

pytestmark = [
    pytest.mark.skipif(os.name != "posix", reason="SIGKILL and select() on pipes are POSIX-only"),
    pytest.mark.slow,
]

WRITER = Path(__file__).parents[1] / "support" / "_store_writer.py"
NETWORK = hashlib.blake2b(b"sigkill-network", digest_size=32).digest()
ROUNDS = 50
AUTHORS = 6
MAX_BATCH = 20


def spawn(path: Path, seed: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), NETWORK.hex(), str(AUTHORS), seed],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()
    child.communicate()


class Checker:
    """Remembers every verified event so each round only decodes the new rows."""

    def __init__(self) -> None:
        self.raw: dict[bytes, bytes] = {}  # id -> verified bytes
        self.chains: dict[bytes, dict[int, tuple[bytes, bytes]]] = {}  # author -> seq -> (id, prev)

    def check(self, path: Path) -> int:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            rows = conn.execute(
                "SELECT id, network, author, seq, ts, kind, raw FROM events"
            ).fetchall()
        finally:
            conn.close()
        for rid, network, author, seq, ts, kind, raw in rows:
            known = self.raw.get(rid)
            if known is not None:
                assert raw == known, f"stored bytes of event {rid.hex()} changed"
                continue
            event = Event.decode(raw)  # raises unless well-formed and correctly signed
            assert (event.id, event.network, event.author, event.seq, event.ts, event.kind) == (
                rid,
                network,
                author,
                seq,
                ts,
                kind,
            )
            self.raw[rid] = raw
            chain = self.chains.setdefault(author, {})
            assert seq not in chain, f"the writer never equivocates, yet seq {seq} is doubled"
            chain[seq] = (rid, event.prev)
        assert len(rows) == len(self.raw), "an event that was stored has disappeared"
        for author, chain in self.chains.items():
            assert sorted(chain) == list(range(1, len(chain) + 1)), f"gap in {author.hex()[:8]}"
            for seq, (_, prev) in chain.items():
                assert prev == (ZERO_HASH if seq == 1 else chain[seq - 1][0])
        return len(rows)


def test_sigkill_mid_write_never_corrupts(tmp_path: Path) -> None:
    seed = os.environ.get("EDGENET_SIGKILL_SEED") or os.urandom(4).hex()
    rng = random.Random(seed)
    path = tmp_path / "data" / "edgenet.sqlite3"
    Store.open(path).close()
    checker = Checker()
    previous = 0
    landed_unacked = 0  # rounds where the kill fell between a COMMIT and its acknowledgement
    started = time.monotonic()
    child = spawn(path, f"{seed}-0")
    alive = [child]
    try:
        for round_no in range(ROUNDS):
            where = f"(seed {seed}, round {round_no})"
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(b"go\n")
            child.stdin.flush()
            ready, _, _ = select.select([child.stdout], [], [], 30)
            first = child.stdout.readline() if ready else b""
            if not first:
                stop(child)
                pytest.fail(
                    f"writer did not start {where}: {child.stderr and child.stderr.read()!r}"
                )
            upcoming = spawn(path, f"{seed}-{round_no + 1}") if round_no + 1 < ROUNDS else None
            if upcoming is not None:
                alive.append(upcoming)
            time.sleep(rng.uniform(0.020, 0.200))
            os.kill(child.pid, signal.SIGKILL)
            out, err = child.communicate()
            assert child.returncode == -signal.SIGKILL, f"writer failed {where}: {err.decode()}"
            acked = max(int(x) for x in (first + out).split())

            with Store.open(path) as store:  # opens (and recovers the WAL) after the kill
                count = store.event_count()
            assert checker.check(path) == count
            assert count >= acked, f"{acked - count} acknowledged events lost {where}"
            assert count - acked <= MAX_BATCH, f"more than the batch in flight appeared {where}"
            assert count > previous, f"count went from {previous} to {count} {where}"
            previous = count
            landed_unacked += count > acked
            if upcoming is not None:
                child = upcoming
    finally:
        for proc in alive:
            stop(proc)

    with Store.open(path) as store:
        report = store.verify()
        assert report.ok, report.problems
        assert report.events_valid == previous and report.chains == AUTHORS
        assert len(store.load_events(NETWORK)) == previous and store.skipped_on_load == 0
    elapsed = time.monotonic() - started
    print(
        f"sigkill: {ROUNDS} rounds, {previous} events, {landed_unacked} unacknowledged commits "
        f"kept, {elapsed:.1f}s (seed {seed})"
    )
