"""The ledger store (runtime/store/ledger_store.py): an event of ours is held in memory, and
so served to peers, only once its write has committed. A full disk stops appends with a
clear error and leaves nothing half-done: no event in memory that the file does not hold,
and no second, different event at a seq that was already signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.ledger_helpers import GENESIS, NODES, T0, M

from edgenet_app.core.events import GenesisGrant, Transfer
from edgenet_app.runtime.store.ledger_store import LedgerStore
from edgenet_app.runtime.store.store import Store, StoreError

A, B = NODES[0], NODES[1]


def own_events(ls: LedgerStore) -> list[int]:
    return sorted(e.seq for e in ls.ledger.events() if e.author == A.public_key)


def test_a_full_disk_stops_appends_and_leaves_nothing_half_done(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    ls = LedgerStore(Store.open(path), GENESIS)
    ls.append(A, GenesisGrant(), T0 + 1_000)
    # the disk is full from here on (SQLite's own limit: the same error as a full disk)
    conn = ls.store._connection()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    memo = "x" * 140  # a few events fill the last page
    failed = None
    for i in range(2, 200):
        try:
            ls.append(A, Transfer(B.public_key, 1 * M, memo), T0 + i * 1_000)
        except StoreError as exc:
            failed = (i, exc)
            break
    assert failed is not None, "the store never filled up"
    i, exc = failed
    assert "full" in str(exc)  # a clear message: "database or disk is full"
    written = own_events(ls)
    assert written == list(range(1, len(written) + 1))  # nothing held that was not written
    for _ in range(3):  # every later attempt fails the same way, and holds nothing
        with pytest.raises(StoreError):
            ls.append(A, Transfer(B.public_key, 1 * M, memo), T0 + i * 1_000)
        assert own_events(ls) == written
    ls.close()

    # after a restart (space freed), the file and the chain agree, and the next event
    # takes the next seq: the node never signed two events at one seq
    again = LedgerStore(Store.open(path), GENESIS)
    assert own_events(again) == written
    ev = again.append(A, Transfer(B.public_key, 1 * M), T0 + 500_000)
    assert ev.seq == len(written) + 1
    assert again.ledger.balance(A.public_key, T0 + 600_000).available > 0
    again.close()
