"""Real WebRTC data channels (aiortc) on loopback, signaled through a real relay."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from support.ledger_helpers import GENESIS, NODES

from edgenet_app.runtime.net.relay import serve
from edgenet_app.runtime.net.relay_client import RelayClient
from edgenet_app.runtime.net.webrtc import DialError, LinkClosed, PeerHub, PeerLink, loopback_only

A, B, C = NODES[:3]


@pytest.fixture
async def relay_url() -> AsyncIterator[str]:
    loopback_only()
    runner, port = await serve(GENESIS, "127.0.0.1", 0)
    yield f"ws://127.0.0.1:{port}/ws"
    await runner.cleanup()
    loopback_only(False)


async def hub(url: str, who, on_link=None) -> PeerHub:  # type: ignore[no-untyped-def]
    client = RelayClient(url, who, GENESIS.network_id)
    await client.connect()
    h = PeerHub(client, timeout_s=15, on_link=on_link)
    h.start()
    return h


async def test_two_peers_connect_and_exchange_frames(relay_url: str) -> None:
    accepted: asyncio.Queue[PeerLink] = asyncio.Queue()

    async def on_link(link: PeerLink) -> None:
        await accepted.put(link)

    b = await hub(relay_url, B, on_link)
    a = await hub(relay_url, A)
    try:
        link = await a.connect(B.public_key)
        theirs = await asyncio.wait_for(accepted.get(), 15)
        assert theirs.remote == A.public_key and link.remote == B.public_key
        payload = os.urandom(100_000)
        await link.send(payload)
        assert await theirs.recv(10) == payload
        await theirs.send(b"pong")
        assert await link.recv(10) == b"pong"
        # the peer vanishes: the other side notices instead of hanging
        await b.close()
        with pytest.raises((LinkClosed, asyncio.TimeoutError)):
            while True:
                await link.recv(20)
    finally:
        await a.close()
        await b.close()


async def test_dialing_an_absent_peer_times_out(relay_url: str) -> None:
    a = await hub(relay_url, A)
    a.timeout_s = 1.0
    try:
        with pytest.raises(asyncio.TimeoutError):
            await a.connect(B.public_key)
    finally:
        await a.close()


async def test_a_node_with_its_links_full_refuses_new_offers(relay_url: str) -> None:
    b = await hub(relay_url, B)
    b.max_links = 1
    a = await hub(relay_url, A)
    c = await hub(relay_url, C)
    c.timeout_s = 2.0
    try:
        first = await a.connect(B.public_key)
        assert first.open
        with pytest.raises((asyncio.TimeoutError, DialError)):
            await c.connect(B.public_key)  # b answers nobody new: its one link is taken
        assert list(b.links) == [A.public_key] and first.open
    finally:
        for h in (a, b, c):
            await h.close()


async def test_offers_and_answers_can_travel_another_way(relay_url: str) -> None:
    """`connect(signal=…)` / `accept(…, reply)`: the mesh uses these to signal through a
    neighbour; here the two hubs hand the SDP to each other directly."""
    accepted: asyncio.Queue[PeerLink] = asyncio.Queue()

    async def on_link(link: PeerLink) -> None:
        await accepted.put(link)

    a = await hub(relay_url, A)
    b = await hub(relay_url, B, on_link)
    seen: list[tuple[bytes, str]] = []

    async def a_to_b(to: bytes, kind: str, data: bytes) -> None:
        seen.append((to, kind))
        b.accept(A.public_key, data, b_to_a)

    async def b_to_a(to: bytes, kind: str, data: bytes) -> None:
        seen.append((to, kind))
        a.deliver_answer(B.public_key, data)

    async def garbage(to: bytes, kind: str, data: bytes) -> None:
        a.deliver_answer(to, b"\xff not an SDP")

    try:
        link = await a.connect(B.public_key, signal=a_to_b)
        theirs = await asyncio.wait_for(accepted.get(), 15)
        assert seen == [(B.public_key, "offer"), (A.public_key, "answer")]
        assert theirs.remote == A.public_key
        await link.send(b"ping")
        assert await theirs.recv(10) == b"ping"
        await link.close()
        with pytest.raises(DialError):  # a bad answer fails the dial, nothing else
            await a.connect(B.public_key, signal=garbage)
        assert not a.deliver_answer(B.public_key, b"late")  # no dial waits for it
    finally:
        await a.close()
        await b.close()


async def test_crossed_dials_end_with_one_link_both_sides_agree_on(relay_url: str) -> None:
    accepted: asyncio.Queue[PeerLink] = asyncio.Queue()

    async def on_link(link: PeerLink) -> None:
        await accepted.put(link)

    a = await hub(relay_url, A, on_link)
    b = await hub(relay_url, B, on_link)
    try:
        la, lb = await asyncio.gather(a.connect(B.public_key), b.connect(A.public_key))
        await asyncio.sleep(0.5)  # let the losing links close
        assert a.links[B.public_key] is la and b.links[A.public_key] is lb
        assert la.open and lb.open
        # both kept the link the smaller key dialed: they are the two ends of one channel
        smaller_dialed = A.public_key < B.public_key
        assert la.dialed == smaller_dialed and lb.dialed != smaller_dialed
        await la.send(b"ping")
        assert await lb.recv(10) == b"ping"
        await lb.send(b"pong")
        assert await la.recv(10) == b"pong"
    finally:
        await a.close()
        await b.close()


async def test_signals_not_signed_by_the_named_peer_are_refused(relay_url: str) -> None:
    """The relay (or anyone through it) cannot offer or answer in a peer's name."""
    import time

    from edgenet_app.core.peerwire import Fwd

    C = NODES[2]
    accepted: asyncio.Queue[PeerLink] = asyncio.Queue()

    async def on_link(link: PeerLink) -> None:
        await accepted.put(link)

    b = await hub(relay_url, B, on_link)
    mallory = RelayClient(relay_url, A, GENESIS.network_id)  # authenticated as A
    await mallory.connect()
    try:
        net, now = GENESIS.network_id, int(time.time() * 1000)
        sdp = b"v=0\r\n"
        forged = [
            sdp,  # a bare SDP, as an unsigned relay would pass on
            Fwd.create(C, net, B.public_key, "offer", sdp, now).frame(),  # signed by another
            Fwd.create(A, net, C.public_key, "offer", sdp, now).frame(),  # for someone else
            Fwd.create(A, net, B.public_key, "offer", sdp, now - 3_600_000).frame(),  # stale
            Fwd.create(A, b"\x00" * 32, B.public_key, "offer", sdp, now).frame(),  # other net
        ]
        offers: list[tuple[bytes, bytes]] = []
        b.accept = lambda peer, offer, reply: offers.append((peer, offer)) or True  # type: ignore[method-assign]
        for data in forged:
            await mallory.signal(B.public_key, "offer", data)
        await asyncio.sleep(1.0)
        assert offers == []  # nothing reached the point of being answered
        # a genuine signed offer from A goes through, once: the replay is recognised
        real = Fwd.create(A, net, B.public_key, "offer", sdp, now).frame()
        for _ in range(2):
            await mallory.signal(B.public_key, "offer", real)
        await asyncio.sleep(0.5)
        assert offers == [(A.public_key, sdp)]
    finally:
        await mallory.close()
        await b.close()
