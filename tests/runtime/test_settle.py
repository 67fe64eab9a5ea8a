"""Batched settlements (`Settler`): a quiet submitter pays at once, a busy one pays many
workers an event at the rate the ledger allows, and what is queued stays reserved."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support.ledger_helpers import GENESIS, NODES, M

from edgenet_app.core import economics as econ
from edgenet_app.core.events import Event, GenesisGrant, Pay, Settlements, Transfer
from edgenet_app.core.taskflow import Verdict
from edgenet_app.core.taskflow.common import Payment
from edgenet_app.runtime.node.background import Background
from edgenet_app.runtime.node.settle import Settler
from edgenet_app.runtime.store.ledger_store import LedgerStore
from edgenet_app.runtime.store.store import StoreError

A, B, C, D = NODES[:4]


def verdict(n: int) -> Verdict:
    pays = tuple(Payment(w.public_key, M // 10, 1000) for w in (B, C, D))
    return Verdict(
        n.to_bytes(16, "big"), True, None, M // 10, 3 * M // 10, 3, pays, (), (), 0, False, ""
    )


def now() -> int:
    return int(time.time() * 1000)


@pytest.mark.asyncio
async def test_a_busy_submitter_pays_many_tasks_in_one_event(tmp_path: Path) -> None:
    ledger = LedgerStore.open(tmp_path, GENESIS)
    ledger.append(A, GenesisGrant())
    published: list[Event] = []

    async def publish(events: list[Event]) -> None:
        published.extend(events)

    settler = Settler(A, ledger, publish=publish, background=Background(), clock=now, every_s=0.3)
    # a quiet submitter: paid at once, one event per task
    await settler.pay("embedding", verdict(0))
    assert [len(e.body.items) for e in published if isinstance(e.body, Settlements)] == [3]
    # busy: what comes within the period waits for it, and goes in one event
    published.clear()
    before = ledger.ledger.balance(A.public_key, now()).available
    for n in range(1, 41):
        await settler.pay("embedding", verdict(n))
    assert published == [] and settler.pending == 40 * 3 * M // 10  # queued and reserved
    await asyncio.sleep(0.6)
    batches = [e for e in published if isinstance(e.body, Settlements)]
    assert [len(e.body.items) for e in batches] == [120]
    assert settler.pending == 0
    assert ledger.ledger.balance(A.public_key, now()).available == before - 12 * M
    # quiet again: the first is paid at once; of the rest, more than a batch holds goes
    # a period later in full batches, and what is left a period after that
    await asyncio.sleep(0.5)  # a period and more since the last batch
    published.clear()
    for n in range(41, 41 + 50):
        await settler.pay("embedding", verdict(n))
    await asyncio.sleep(1.0)
    sizes = [len(e.body.items) for e in published if isinstance(e.body, Settlements)]
    assert sizes == [3, econ.MAX_BATCH_ITEMS, 49 * 3 - econ.MAX_BATCH_ITEMS]
    ledger.close()


@pytest.mark.asyncio
async def test_what_the_disk_cannot_take_stays_queued(tmp_path: Path) -> None:
    ledger = LedgerStore.open(tmp_path, GENESIS)
    ledger.append(A, GenesisGrant())

    async def publish(events: list[Event]) -> None:
        pass

    settler = Settler(A, ledger, publish=publish, background=Background(), clock=now, every_s=60)
    conn = ledger.store._connection()  # the disk fills up (SQLite's own limit)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError):
        for _ in range(100):
            ledger.append(A, Transfer(B.public_key, M, "x" * 140))
    pay = (Payment(NODES[5].public_key, M, 1),)
    big = Verdict(bytes(16), True, None, M, M, 1, pay, (), (), 0, False, "")
    await settler.pay("embedding", big)
    assert len(settler.queue) == 1 and settler.pending == M  # still owed, still reserved
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert len(await settler.flush()) == 1 and settler.queue == []
    settler.close()
    ledger.close()


@pytest.mark.asyncio
async def test_what_can_never_be_paid_is_dropped_and_the_rest_waits_its_turn(
    tmp_path: Path,
) -> None:
    ledger = LedgerStore.open(tmp_path, GENESIS)
    ledger.append(A, GenesisGrant())

    async def publish(events: list[Event]) -> None:
        pass

    settler = Settler(A, ledger, publish=publish, background=Background(), clock=now, every_s=60)
    await settler.pay("embedding", verdict(1))  # written at once
    # the same verdict again (a replay) and a (task, worker) twice: queued once, and what
    # was settled already is dropped; the new task's payments go through
    settler._last_write = -float("inf")
    twice = Verdict(bytes(16), True, None, M, M, 2, verdict(2).payments * 2, (), (), 0, False, "")
    settler.queue.append(verdict_pay(1))  # settled already: never payable
    settler.pending += M // 10
    cost = await settler.pay("embedding", twice)
    assert cost == 3 * M // 10 and settler.queue == [] and settler.pending == 0
    # more than it holds: nothing is dropped, it waits (reserved) for credit
    too_much = (Payment(B.public_key, 2000 * M, 1),)
    big = Verdict(bytes([9]) * 16, True, None, 0, 0, 1, too_much, (), (), 0, False, "")
    settler._last_write = -float("inf")
    await settler.pay("embedding", big)
    assert len(settler.queue) == 1 and settler.pending == 2000 * M
    settler.close()
    ledger.close()


def verdict_pay(n: int) -> Pay:
    return Pay(n.to_bytes(16, "big"), B.public_key, M // 10, 1000, "embedding")
