"""Nodes for real: a relay, worker nodes and a submitter on loopback WebRTC."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edgenet_app.core import economics as econ
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.runtime import keystore
from edgenet_app.runtime.node import Node, NodeOptions
from edgenet_app.runtime.relay import serve
from edgenet_app.tasks.base import Limits

KEY, NONCE = bytes(range(32)), bytes(12)


async def until(cond, timeout: float = 15) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[tuple[list[Node], Node, Genesis]]:
    submitter_dir = tmp_path / "submitter"
    keystore.create_identity(submitter_dir, ops=1, mem=8192)
    me = keystore.load_identity(submitter_dir)
    genesis = Genesis.create(
        Identity(b"\x42" * 32),
        "node-test",
        int(time.time() * 1000) - 3_600_000,
        grants=((me.node_id, 1000 * econ.MICRO),),
    )
    runner, port = await serve(genesis, "127.0.0.1", 0)
    opts = NodeOptions(
        relays=(f"ws://127.0.0.1:{port}/ws",),
        cpu_limit=1.0,
        loopback=True,
        limits=Limits(timeout_s=30),
    )
    workers = []
    for i in range(3):
        n = Node(tmp_path / f"w{i}", genesis, opts)
        await n.start()
        workers.append(n)
    submitter = Node(submitter_dir, genesis, opts)
    await submitter.start()
    assert submitter.ledger is not None and submitter.identity is not None
    yield workers, submitter, genesis
    for n in [*workers, submitter]:
        await n.stop()
    await runner.cleanup()


async def test_a_task_runs_on_three_workers_is_verified_and_paid(
    network: tuple[list[Node], Node, Genesis],
) -> None:
    workers, submitter, _ = network
    assert await until(lambda: len(submitter.stats()["peers"]) == 3)
    payload = {
        "op": "encrypt",
        "key": base64.b64encode(KEY).decode(),
        "nonce": base64.b64encode(NONCE).decode(),
        "data": base64.b64encode(b"hello network").decode(),
    }
    out = await submitter.submit("encryption", payload, redundancy=3, timeout_s=30)
    assert out.verified, out.reason
    assert out.result["data"] == AESGCM(KEY).encrypt(NONCE, b"hello network", None)
    assert sorted(out.workers) == sorted(w.identity.node_id for w in workers)  # type: ignore[union-attr]
    price = econ.task_price_micro("encryption", 13)
    assert out.cost == 3 * price
    # every node's ledger agrees on the payments
    root = submitter.ledger.ledger.state_root()  # type: ignore[union-attr]
    assert await until(lambda: all(w.ledger.ledger.state_root() == root for w in workers))  # type: ignore[union-attr]
    for w in workers:
        assert w.ledger is not None and w.identity is not None
        bal = w.ledger.ledger.balance(w.identity.public_key, int(time.time() * 1000))
        assert bal.locked == price  # paid, locked for an hour (unstaked: no bonus)
    state = submitter.ledger.ledger.state  # type: ignore[union-attr]
    assert state.total_supply == state.total_minted - state.burned
    # the dashboard's view: task history on both sides, earnings, rank
    sub_hist = submitter.history()
    assert [(t["role"], t["status"], t["kind"]) for t in sub_hist["tasks"]] == [
        ("submitted", "done", "encryption")
    ]
    assert sub_hist["tasks"][0]["credits"] == econ.format_credits(3 * price)
    for w in workers:
        h = w.history()
        assert [(t["role"], t["status"]) for t in h["tasks"]] == [("executed", "done")]
        assert [p[1] for p in h["earnings"]] == [price]
        assert w.stats()["rank"][1] == 4  # the submitter and three workers hold credits
    assert submitter.stats()["rank"] == [1, 4]
