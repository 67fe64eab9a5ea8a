"""The mesh: ledger anti-entropy and gossip over every open peer link.

For each link the mesh sends its version vector on connect and periodically, answers the
peer's version vector with the events it lacks, adds received events to the persisted
ledger, and floods new events and gossip (deduplicated, TTL-bounded) to the other links.
Every frame is parsed strictly; a peer that sends bad frames is scored and, past a
threshold, disconnected. Nothing a peer sends can crash the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from ..core.errors import WireError
from ..core.events import Event
from ..core.identity import node_id_of
from ..core.peerwire import (
    Dedup,
    Direct,
    Events,
    Gossip,
    LedgerSync,
    Part,
    Reassembly,
    VersionVector,
    direct_frames,
    parse,
)
from .ledger_store import LedgerStore, now_ms
from .webrtc import LinkClosed, PeerHub, PeerLink

log = logging.getLogger("edgenet.mesh")

RESYNC_S = 30.0
MAX_BAD_FRAMES = 10

GossipHandler = Callable[[Gossip, PeerLink], Awaitable[None]]
DirectHandler = Callable[[bytes, PeerLink], Awaitable[None]]


class Mesh:
    def __init__(
        self,
        hub: PeerHub,
        ledger: LedgerStore,
        *,
        on_gossip: GossipHandler | None = None,
        on_direct: DirectHandler | None = None,
        resync_s: float = RESYNC_S,
    ) -> None:
        self.on_direct = on_direct
        self.hub = hub
        self.ledger = ledger
        self.on_gossip = on_gossip
        self.resync_s = resync_s
        self.dedup = Dedup()
        self.bad_frames: dict[bytes, int] = {}
        self._tasks: dict[bytes, asyncio.Task[None]] = {}
        self.on_new_events: list[Callable[[list[Event]], None]] = []
        self.on_link_lost: list[Callable[[bytes], None]] = []

    async def attach(self, link: PeerLink) -> None:
        """Start serving a link (accepted or dialed)."""
        old = self._tasks.pop(link.remote, None)
        if old is not None:
            old.cancel()
        self._tasks[link.remote] = asyncio.create_task(self._serve(link))

    async def connect(self, peer: bytes) -> PeerLink:
        link = await self.hub.connect(peer)
        await self.attach(link)
        return link

    async def _serve(self, link: PeerLink) -> None:
        sync = LedgerSync(self.ledger.ledger)
        parts = Reassembly()
        try:
            for frame in sync.hello():
                await link.send(frame)
            while True:
                try:
                    data = await link.recv(self.resync_s)
                except TimeoutError:
                    for frame in sync.hello():  # periodic anti-entropy
                        await link.send(frame)
                    continue
                await self._handle(link, sync, parts, data)
        except LinkClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not take the node down
            log.exception("link to %s failed", node_id_of(link.remote))
        finally:
            if self._tasks.get(link.remote) is asyncio.current_task():
                del self._tasks[link.remote]
                if not link.open:  # not replaced by a newer link to the same peer
                    for cb in self.on_link_lost:
                        cb(link.remote)

    async def _handle(
        self, link: PeerLink, sync: LedgerSync, parts: Reassembly, data: bytes
    ) -> None:
        try:
            frame = parse(data)
        except WireError as exc:
            await self._penalise(link, f"bad frame: {exc}")
            return
        if isinstance(frame, VersionVector):
            for out in sync.on_version_vector(frame):
                await link.send(out)
        elif isinstance(frame, Events):
            rejected = sync.report.rejected
            fresh = sync.on_events(frame, now_ms())
            if fresh:
                self.ledger.store.append_events(fresh)
            for _ in range(sync.report.rejected - rejected):
                await self._penalise(link, f"bad event: {sync.report.last_error}")
            if fresh:
                await self._flood(Events(tuple(e.raw for e in fresh)).frame(), exclude=link.remote)
                for cb in self.on_new_events:
                    cb(fresh)
        elif isinstance(frame, Direct):
            if self.on_direct is not None:
                await self.on_direct(frame.body, link)
        elif isinstance(frame, Part):
            try:
                body = parts.add(frame, now_ms())
            except WireError as exc:
                await self._penalise(link, f"bad part: {exc}")
                return
            if body is not None and self.on_direct is not None:
                await self.on_direct(body, link)
        elif isinstance(frame, Gossip):
            if not self.dedup.first_time(frame.id, now_ms()):
                return
            if self.on_gossip is not None:
                await self.on_gossip(frame, link)
            nxt = frame.forwarded()
            if nxt is not None:
                await self._flood(nxt.frame(), exclude=link.remote)

    async def _penalise(self, link: PeerLink, why: str) -> None:
        n = self.bad_frames.get(link.remote, 0) + 1
        self.bad_frames[link.remote] = n
        log.info("peer %s: %s (%d)", node_id_of(link.remote), why, n)
        if n >= MAX_BAD_FRAMES:
            log.warning("disconnecting %s after %d bad frames", node_id_of(link.remote), n)
            await link.close()

    async def _flood(self, frame: bytes, *, exclude: bytes | None = None) -> None:
        for peer, link in list(self.hub.links.items()):
            if peer != exclude and link.open:
                with contextlib.suppress(LinkClosed, ValueError):
                    await link.send(frame)

    async def send_direct(self, peer: bytes, body: bytes) -> None:
        """Send a task message to one peer, dialing it first if there is no open link."""
        frames = direct_frames(body, os.urandom(16))
        link = self.hub.links.get(peer)
        if link is None or not link.open:
            link = await self.connect(peer)
        for frame in frames:
            await link.send(frame)

    async def publish_events(self, events: list[Event]) -> None:
        """Send our own new ledger events to every peer."""
        if events:
            await self._flood(Events(tuple(e.raw for e in events)).frame())

    async def gossip(self, kind: str, body: bytes, ttl: int = 4) -> Gossip:
        me = self.hub.relay.identity.public_key
        g = Gossip(Gossip.make_id(me, kind, body), me, ttl, kind, body)
        self.dedup.first_time(g.id, now_ms())
        await self._flood(g.frame())
        return g

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()
