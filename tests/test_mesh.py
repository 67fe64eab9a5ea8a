"""Ledger sync and gossip over real WebRTC links on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ledger_helpers import GENESIS, NODES, T0, M

from edgenet_app.core.events import GenesisGrant, Transfer
from edgenet_app.core.peerwire import Gossip
from edgenet_app.runtime.ledger_store import LedgerStore
from edgenet_app.runtime.mesh import Mesh
from edgenet_app.runtime.relay import serve
from edgenet_app.runtime.relay_client import RelayClient
from edgenet_app.runtime.webrtc import PeerHub, PeerLink, loopback_only

A, B, C = NODES[:3]


@pytest.fixture
async def relay_url() -> AsyncIterator[str]:
    loopback_only()
    runner, port = await serve(GENESIS, "127.0.0.1", 0)
    yield f"ws://127.0.0.1:{port}/ws"
    await runner.cleanup()
    loopback_only(False)


async def make_node(url: str, who, d: Path, gossip_box=None) -> Mesh:  # type: ignore[no-untyped-def]
    client = RelayClient(url, who, GENESIS.network_id)
    await client.connect()
    mesh_ref: list[Mesh] = []

    async def on_link(link: PeerLink) -> None:
        await mesh_ref[0].attach(link)

    hub = PeerHub(client, on_link=on_link)

    async def on_gossip(g: Gossip, link: PeerLink) -> None:
        if gossip_box is not None:
            await gossip_box.put(g)

    mesh = Mesh(hub, LedgerStore.open(d, GENESIS), on_gossip=on_gossip, resync_s=2)
    mesh_ref.append(mesh)
    hub.start()
    return mesh


async def until(cond, timeout: float = 10) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_ledgers_converge_and_new_events_spread(relay_url: str, tmp_path: Path) -> None:
    box: asyncio.Queue[Gossip] = asyncio.Queue()
    a = await make_node(relay_url, A, tmp_path / "a")
    b = await make_node(relay_url, B, tmp_path / "b", box)
    c = await make_node(relay_url, C, tmp_path / "c", box)
    try:
        a.ledger.append(A, GenesisGrant(), T0 + 1)
        a.ledger.append(A, Transfer(B.public_key, 5 * M), T0 + 2)
        await a.connect(B.public_key)
        await b.connect(C.public_key)  # C reaches A's events only through B
        root = a.ledger.ledger.state_root()
        assert await until(lambda: c.ledger.ledger.state_root() == root)
        # a new event spreads in well under a second
        t = time.perf_counter()
        ev = a.ledger.append(A, Transfer(C.public_key, M), T0 + 3)
        await a.publish_events([ev])
        assert await until(lambda: ev.id in c.ledger.ledger, timeout=5)
        took = time.perf_counter() - t
        assert took < 2.0, f"propagation took {took:.2f} s"
        # gossip reaches both others once
        await a.gossip("announce", b"task 1")
        got = {await asyncio.wait_for(box.get(), 5), await asyncio.wait_for(box.get(), 5)}
        assert {g.body for g in got} == {b"task 1"}
        # persisted: reopening C's store gives the same ledger
        c.ledger.close()
        with LedgerStore.open(tmp_path / "c", GENESIS) as again:
            assert again.ledger.state_root() == a.ledger.ledger.state_root()
    finally:
        for m in (a, b, c):
            await m.close()
            await m.hub.close()


async def test_garbage_over_a_data_channel_is_dropped(relay_url: str, tmp_path: Path) -> None:
    a = await make_node(relay_url, A, tmp_path / "a")
    b = await make_node(relay_url, B, tmp_path / "b")
    try:
        link = await a.hub.connect(B.public_key)  # A speaks raw frames, no mesh on its side
        for junk in (b"\x00\x01", b"\xc1", b"\x81\xa1t\xa3bad"):
            await link.send(junk)
        assert await until(lambda: b.bad_frames.get(A.public_key, 0) >= 3)
        a.ledger.append(A, GenesisGrant(), T0 + 1)
        await a.attach(link)  # now A speaks properly: B still syncs
        assert await until(lambda: len(b.ledger.ledger) == 1)
    finally:
        for m in (a, b):
            await m.close()
            await m.hub.close()
