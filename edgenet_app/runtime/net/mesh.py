"""The mesh: ledger anti-entropy, gossip, peer exchange and signaling over every open link.

For each link the mesh sends a short summary of its ledger on connect and periodically;
a side whose summary differs pulls what it lacks (`core/peerwire/recon.py`: bucket digests,
pages of per-author entries, `want`s answered by bounded `reply`s). The links of a node share
one `Wants`, so an author is pulled from one link at a time. Received events are added to
the persisted ledger; new events and gossip are flooded (deduplicated, TTL-bounded) to the
other links. Events pulled by anti-entropy are not flooded (the neighbours pull them
themselves): a summary goes to the other links soon after instead.

Peer exchange: each link is told which peers we have links to (`peers`), so a node learns
peers its relay does not list. To dial one of those, the offer goes to a neighbour that
listed it, signed, in a `fwd` frame; the neighbour passes it on over its own link (one
hop) and the answer comes back the same way (`core/peerwire.FwdRouter` decides).

Every frame is parsed strictly; a peer that sends bad frames is scored and, past a
threshold, disconnected. Nothing a peer sends can crash the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from ...core.errors import WireError
from ...core.events import Event
from ...core.identity import node_id_of
from ...core.peerwire import (
    Buckets,
    Dedup,
    Deliver,
    Direct,
    Entries,
    Events,
    Forward,
    Fwd,
    FwdRouter,
    Gossip,
    LedgerSync,
    Part,
    PeerAdvert,
    PeerBook,
    Peers,
    Penalties,
    Reassembly,
    Recon,
    Reply,
    Summary,
    Want,
    Wants,
    direct_frames,
    flood_targets,
    parse,
)
from ..store.ledger_store import LedgerStore, now_ms
from ..store.store import StoreError
from .webrtc import DialError, LinkClosed, PeerHub, PeerLink, SendSignal

log = logging.getLogger(__name__)


RESYNC_S = 30.0
POLL_S = 1.0  # a link pulling through others checks back this often
NUDGE_S = 2.0  # after pulling recent events, the other links get a summary this soon
REFUSALS_A_POINT = 32  # events a link passes on that admission refuses, per penalty point
RECENT_MS = 10 * 60_000  # pulled events this young may be news to the other links too
MAX_BAD_FRAMES = 10  # a link is cut at this score...
PENALTY_DECAY_MS = 60_000  # ...and a score loses a point a minute

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
        self.penalties = Penalties(limit=MAX_BAD_FRAMES, decay_ms=PENALTY_DECAY_MS)
        self._tasks: dict[bytes, asyncio.Task[None]] = {}
        self._served: dict[bytes, PeerLink] = {}
        self._dials: dict[bytes, asyncio.Future[PeerLink]] = {}
        self.on_new_events: list[Callable[[list[Event]], None]] = []
        # `cb(peer)`: `peer` holds nothing of our own chain that we lack
        self.on_synced: list[Callable[[bytes], None]] = []
        self.on_link_lost: list[Callable[[bytes], None]] = []
        self.me = hub.identity.public_key
        self.network = ledger.genesis.network_id
        self.book = PeerBook(self.me, ttl_ms=int(max(300.0, 10 * resync_s) * 1000))
        self.router = FwdRouter(self.me, self.network)
        self._adverts: dict[bytes, tuple[PeerLink, PeerAdvert]] = {}
        self.wants = Wants()  # which link each author is being pulled from
        self._pulled = 0  # counts anti-entropy pulls that brought new events
        self._advertising: asyncio.Task[None] | None = None
        self._readvertise: asyncio.TimerHandle | None = None
        self._changed = False  # links changed since the neighbours were last considered
        self._closed = False

    async def attach(self, link: PeerLink) -> None:
        """Start serving a link (accepted or dialed); a link already served is left alone.
        A peer whose score is over the limit is not served until it has decayed below (a
        cut peer that dials straight back gets nothing read: a point a minute)."""
        if self.penalties.over_limit(link.remote, now_ms()):
            log.info("refusing a link from %s: cut, and not yet forgiven", node_id_of(link.remote))
            await link.close()
            return
        old = self._tasks.get(link.remote)
        if old is not None and not old.done() and self._served.get(link.remote) is link:
            return
        self._tasks.pop(link.remote, None)
        if old is not None:
            old.cancel()
        self._served[link.remote] = link
        self._tasks[link.remote] = asyncio.create_task(self._serve(link))

    # -- dialing: through the relay or a neighbour ----------------------------------------

    def route(self, peer: bytes) -> PeerLink | None:
        """How to signal a dial to `peer`: None for the relay (it lists the peer), else an
        open link to a neighbour that listed it in peer exchange (None if there is none)."""
        if not self.hub.relay.closed and peer in self.hub.online:
            return None
        for n in self.book.routes(peer, now_ms()):
            link = self.hub.links.get(n)
            if link is not None and link.open:
                return link
        return None

    def open_links(self) -> list[PeerLink]:
        """This node's open links."""
        return [link for link in self.hub.links.values() if link.open]

    def open_peers(self) -> list[bytes]:
        """The peers this node has an open link to."""
        return [link.remote for link in self.open_links()]

    def learned_peers(self) -> set[bytes]:
        """Peers known only through peer exchange that a linked neighbour can reach."""
        now = now_ms()
        out = set()
        for peer in self.book.known(now):
            if peer != self.me and self.route(peer) is not None:
                out.add(peer)
        return out

    def known_peers(self) -> dict[bytes, bytes | None]:
        """Every peer we could dial now, with how: None through the relay (it lists the
        peer), else the neighbour to signal through (it listed the peer in peer exchange)."""
        out: dict[bytes, bytes | None] = {}
        for peer in self.book.known(now_ms()):
            link = self.route(peer)
            if link is not None:
                out[peer] = link.remote
        if not self.hub.relay.closed:
            out.update(dict.fromkeys(self.hub.online - {self.me}))
        return out

    def signal_via(self, neighbour: PeerLink) -> SendSignal:
        """A `SendSignal` that signs offers and answers and hands them to `neighbour`."""

        async def send(to: bytes, kind: str, data: bytes) -> None:
            try:
                frame = Fwd.create(self.hub.identity, self.network, to, kind, data, now_ms())
            except WireError as exc:  # e.g. an SDP over 16 KiB
                raise DialError(f"cannot forward a {kind}: {exc}") from None
            await neighbour.send(frame.frame())

        return send

    async def connect(self, peer: bytes, *, via: PeerLink | None = None) -> PeerLink:
        """Dial `peer`: through the relay if it lists the peer, else through a neighbour
        that can forward to it (or `via`). Raises TimeoutError, RelayError, DialError, …
        Concurrent dials to one peer share one attempt (two offers would cross answers)."""
        existing = self.hub.links.get(peer)
        if existing is not None and existing.open:
            return existing
        pending = self._dials.get(peer)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[PeerLink] = asyncio.get_running_loop().create_future()
        self._dials[peer] = fut
        try:
            link = await self._dial(peer, via)
        except BaseException as exc:
            if not fut.done():
                fut.set_exception(exc if isinstance(exc, Exception) else DialError("cancelled"))
                fut.exception()  # retrieved: no "never retrieved" warning if nobody waits
            raise
        else:
            fut.set_result(link)
            return link
        finally:
            if self._dials.get(peer) is fut:
                del self._dials[peer]

    async def _dial(self, peer: bytes, via: PeerLink | None) -> PeerLink:
        if via is None:
            via = self.route(peer)
        if via is None and self.hub.relay.closed:
            raise DialError(f"no relay, and no neighbour can forward to {node_id_of(peer)}")
        if via is None:  # the relay lists it (or nobody does: the relay will say so)
            link = await self.hub.connect(peer)
        else:
            link = await self.hub.connect(peer, signal=self.signal_via(via))
        await self.attach(link)
        return link

    # -- serving one link ----------------------------------------------------------------

    async def _serve(self, link: PeerLink) -> None:
        sync = LedgerSync(self.ledger.ledger)
        recon = Recon(sync, self.wants, link.remote, watch=self.me)
        parts = Reassembly()
        advert = PeerAdvert()
        self._adverts[link.remote] = (link, advert)
        loop = asyncio.get_running_loop()
        try:
            await self._advertise_to(link, advert, periodic=False)
            await link.send(recon.summary(advert.digest()))
            last_summary, pulled = loop.time(), self._pulled
            self._links_changed()
            next_summary = loop.time() + self.resync_s
            while True:
                now = loop.time()
                nudge = pulled != self._pulled and now - last_summary >= NUDGE_S
                if now >= next_summary or nudge:  # anti-entropy and peer exchange: a summary
                    next_summary, last_summary, pulled = now + self.resync_s, now, self._pulled
                    await self._advertise_to(link, advert, periodic=True)
                    await link.send(recon.summary(advert.digest()))
                    await self._accept(link, sync.retry(now_ms()), reply=True)
                    continue
                wait = next_summary - now
                if recon.busy:
                    wait = min(wait, POLL_S)
                if pulled != self._pulled:
                    wait = min(wait, max(0.05, last_summary + NUDGE_S - now))
                try:
                    data = await link.recv(wait)
                except TimeoutError:
                    for out in recon.poll(now_ms()):
                        await link.send(out)
                    continue
                await self._handle(link, sync, recon, parts, data)
        except LinkClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug (or a frame that cannot be sent) must not take the node down
            log.exception("link to %s failed; closing it", node_id_of(link.remote))
            # nobody reads this link any more: close it, so that neither end keeps a link
            # that looks open but is deaf (the peer re-dials, and syncs afresh)
            with contextlib.suppress(Exception):
                await link.close()
        finally:
            recon.close()  # other links may pull what this one was asked for
            if self._adverts.get(link.remote, (None,))[0] is link:
                del self._adverts[link.remote]
            if self._tasks.get(link.remote) is asyncio.current_task():
                del self._tasks[link.remote]
                self._served.pop(link.remote, None)
                if not link.open:  # not replaced by a newer link to the same peer
                    self.book.forget(link.remote)
                    self._links_changed()
                    for cb in self.on_link_lost:
                        cb(link.remote)

    async def _advertise_to(self, link: PeerLink, advert: PeerAdvert, *, periodic: bool) -> None:
        current = advert.listing(self.open_peers(), link.remote)
        frame = advert.due(current, now_ms(), periodic=periodic)
        if frame is not None:
            await link.send(frame)

    def _links_changed(self) -> None:
        """Our set of links changed: tell the neighbours if it changed a lot (in the
        background, coalesced; what may not go yet is re-checked when it may)."""
        if self._closed:
            return
        self._changed = True
        if self._advertising is None or self._advertising.done():
            self._advertising = asyncio.create_task(self._advertise_all())

    async def _advertise_all(self) -> None:
        soonest: int | None = None
        while self._changed:
            self._changed = False
            await asyncio.sleep(0.05)  # coalesce a burst of link changes
            now = now_ms()
            peers = self.open_peers()
            soonest = None
            for link, advert in list(self._adverts.values()):
                current = advert.listing(peers, link.remote)
                wait = advert.wait_ms(current, now)
                if wait == 0:
                    frame = advert.due(current, now)
                    if frame is not None:
                        with contextlib.suppress(LinkClosed, ValueError):
                            await link.send(frame)
                elif wait is not None:
                    soonest = wait if soonest is None else min(soonest, wait)
        if soonest is not None and self._readvertise is None:

            def again() -> None:
                self._readvertise = None
                self._links_changed()

            self._readvertise = asyncio.get_running_loop().call_later(soonest / 1000, again)

    async def _handle(
        self, link: PeerLink, sync: LedgerSync, recon: Recon, parts: Reassembly, data: bytes
    ) -> None:
        try:
            frame = parse(data)
        except WireError as exc:
            await self._penalise(link, f"bad frame: {exc}")
            return
        if isinstance(frame, Events):
            rejected = sync.report.rejected
            now = now_ms()
            await self._accept(link, sync.retry(now), reply=True)  # held since: to all
            fresh = sync.on_events(frame, now)
            await self._accept(link, fresh, reply=False)  # before scoring, which may cut it
            await self._count_rejected(link, sync, rejected)
        elif isinstance(frame, Reply):
            rejected = sync.report.rejected
            fresh, asks = recon.on_reply(frame, now_ms())
            if fresh:  # pulled, not flooded: if recent, the other links get a summary soon
                now = now_ms()
                if any(now - e.ts < RECENT_MS for e in fresh):
                    self._pulled += 1
                await self._accept(link, fresh, reply=False, flood=False)
            await self._count_rejected(link, sync, rejected, asked=True)
            for ask in asks:
                await link.send(ask)
            self._check_synced(link.remote, recon)
        elif isinstance(frame, Summary):
            self.book.confirm(link.remote, frame.peers, now_ms())
            for out in recon.on_summary(frame, now_ms()):
                await link.send(out)
            self._check_synced(link.remote, recon)
        elif isinstance(frame, Buckets):
            for out in recon.on_buckets(frame):
                await link.send(out)
        elif isinstance(frame, Entries):
            for out in recon.on_entries(frame, now_ms()):
                await link.send(out)
            self._check_synced(link.remote, recon)
        elif isinstance(frame, Want):
            for out in recon.on_want(frame):
                await link.send(out)
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
                await self._flood(nxt.frame(), came_from=link.remote)
        elif isinstance(frame, Peers):
            self.book.learn(link.remote, frame.keys, now_ms())
        elif isinstance(frame, Fwd):
            await self._on_fwd(link, frame, data)

    def _check_synced(self, peer: bytes, recon: Recon) -> None:
        """Tell `on_synced` once we hold all `peer` showed it holds of our own chain."""
        if self.on_synced and recon.watch_synced():
            recon.watch = None  # once per link
            for synced in self.on_synced:
                synced(peer)

    async def _on_fwd(self, link: PeerLink, fwd: Fwd, data: bytes) -> None:
        decision = self.router.on_fwd(fwd, link.remote, now_ms(), set(self.open_peers()))
        if isinstance(decision, Forward):
            target = self.hub.links.get(decision.to)
            if target is not None:
                with contextlib.suppress(LinkClosed, ValueError):
                    await target.send(data)  # the exact signed frame, one hop
        elif isinstance(decision, Deliver):
            # the signer is the remote: the WebRTC link is bound to its signed SDP
            if fwd.kind == "offer":
                self.hub.accept(fwd.sender, fwd.data, self.signal_via(link))
            elif not self.hub.deliver_answer(fwd.sender, fwd.data):
                log.info("unexpected answer from %s", node_id_of(fwd.sender))
        elif decision.penalise:
            await self._penalise(link, decision.reason)
        else:
            log.info("fwd from %s dropped: %s", node_id_of(link.remote), decision.reason)

    @property
    def bad_frames(self) -> dict[bytes, int]:
        """Each scored peer's misbehaviour score now (see `Penalties`)."""
        return self.penalties.scores(now_ms())

    async def _count_rejected(
        self, link: PeerLink, sync: LedgerSync, before: int, *, asked: bool = False
    ) -> None:
        for _ in range(sync.report.rejected - before):  # early events are not counted
            await self._penalise(link, f"bad event: {sync.report.last_error}")
        # refused events are not the sender's fault one by one (it may hold another state),
        # but an honest peer passes on few: 32 cost a point; not in a reply we asked for (a
        # newcomer pulls one author after another: much is refused only for now)
        report = sync.report
        if asked:
            report.refused_scored = report.refused
        while report.refused - report.refused_scored >= REFUSALS_A_POINT:
            report.refused_scored += REFUSALS_A_POINT
            await self._penalise(link, f"{REFUSALS_A_POINT} refused: {report.last_refusal}")

    async def _accept(
        self, link: PeerLink, fresh: list[Event], *, reply: bool, flood: bool = True
    ) -> None:
        """Persist new events from `link`, pass them on (unless pulled), tell the
        listeners."""
        if not fresh:
            return
        try:
            self.ledger.store.append_events(fresh)
        except StoreError as exc:  # a full disk: they are valid, pass them on all the same
            log.warning("could not store %d events from a peer: %s", len(fresh), exc)
        if flood:
            frame_out = Events(tuple(e.raw for e in fresh)).frame()
            await self._flood(frame_out, came_from=link.remote, prune=not reply)
        for cb in self.on_new_events:
            cb(fresh)

    async def _penalise(self, link: PeerLink, why: str) -> None:
        """One provably bad frame from `link`; its score decays (`Penalties`), and the link
        is cut once the score reaches MAX_BAD_FRAMES."""
        now = now_ms()
        n = self.penalties.add(link.remote, now)
        log.info("peer %s: %s (%d)", node_id_of(link.remote), why, n)
        if self.penalties.over_limit(link.remote, now):
            log.warning("disconnecting %s after %d bad frames", node_id_of(link.remote), n)
            await link.close()

    async def _flood(
        self, frame: bytes, *, came_from: bytes | None = None, prune: bool = True
    ) -> None:
        """Send to every open link; a frame passed on skips the peers its sender covered."""
        links = {p: link for p, link in list(self.hub.links.items()) if link.open}
        covered = self.book.covered_by(came_from, now_ms()) if came_from and prune else frozenset()
        for peer in flood_targets(links, came_from, covered):
            with contextlib.suppress(LinkClosed, ValueError):
                await links[peer].send(frame)

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
        self._closed = True
        if self._readvertise is not None:
            self._readvertise.cancel()
        if self._advertising is not None:
            self._advertising.cancel()
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()
