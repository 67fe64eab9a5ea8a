"""The node's place in the mesh: its relay connection (with reconnect and backoff) and its
links to peers (dialing with backoff, topping up to the target degree, noticing loss)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from ...core.errors import NoRelayError, WireError
from ...core.genesis import Genesis
from ...core.identity import Identity, node_id_of
from ...core.notifications import ErrorNote, RelayNote
from ..net.mesh import Mesh
from ..net.relay_client import RelayClient, RelayError
from ..net.webrtc import PeerLink
from .background import Background
from .notify import Notifier
from .options import NodeOptions

log = logging.getLogger(__name__)

TARGET_DEGREE = 8
REJOIN_GRACE_S = 8.0  # a peer that left the relay but kept its link may come back this soon
RELAY_BACKOFF_S = 0.5
RELAY_BACKOFF_MAX_S = 30.0
DIAL_BACKOFF_MS = 5_000  # after a failed dial, wait 5 s, 10 s, … up to 5 min before retrying
DIAL_BACKOFF_MAX_MS = 300_000
MAX_DIAL_BACKOFFS = 4096  # peers remembered as unreachable (the oldest are forgotten)


async def connect_relay(identity: Identity, genesis: Genesis, options: NodeOptions) -> RelayClient:
    """The first relay that answers: the configured ones, then (setting network.mdns)
    relays of this network advertised on the LAN. NoRelayError if none does."""
    errors: list[str] = []
    tried: set[str] = set()

    async def attempt(urls: list[str]) -> RelayClient | None:
        for url in urls:
            if url in tried:
                continue
            tried.add(url)
            client = RelayClient(url, identity, genesis.network_id)
            try:
                await client.connect()
                return client
            except (RelayError, WireError) as exc:
                errors.append(f"{url}: {exc}")
        return None

    client = await attempt(list(options.relays or genesis.body.relays))
    if client is None and options.mdns:
        from ..net.lan import browse_relays  # zeroconf: loaded only when it is needed

        found = await browse_relays(genesis.network_id, loopback=options.loopback)
        if found:
            log.info("found relays on the LAN: %s", ", ".join(found))
        client = await attempt(found)
    if client is not None:
        return client
    if not errors:
        raise NoRelayError(
            "no relay: pass --relay URL, use a network that lists relays, or run "
            "`edgenet relay --host 0.0.0.0` on this LAN (setting network.mdns)"
        )
    raise NoRelayError("no relay answered: " + "; ".join(errors))


class Links:
    """Keeps the node linked: reconnects the relay, dials peers up to TARGET_DEGREE links.

    `on_change()` is called when a link opens or closes (the activity depends on having
    peers); `on_peer_lost(peer)` when a peer is gone for good (its tasks are reassigned).
    """

    def __init__(
        self,
        identity: Identity,
        genesis: Genesis,
        options: NodeOptions,
        mesh: Mesh,
        *,
        background: Background,
        notifier: Notifier,
        on_change: Callable[[], None],
        on_peer_lost: Callable[[bytes], None],
        clock: Callable[[], int],
    ) -> None:
        self.identity, self.genesis, self.options, self.mesh = identity, genesis, options, mesh
        self._bg, self._notifier = background, notifier
        self._on_change, self._on_peer_lost, self._clock = on_change, on_peer_lost, clock
        self.dialing: set[bytes] = set()
        self.dial_backoff: dict[bytes, tuple[int, int]] = {}  # peer → (failures, retry at)
        mesh.hub.on_link = self.on_link
        mesh.on_link_lost.append(self.link_lost)
        mesh.hub.on_left.append(self._left_relay)

    def dial_first(self) -> None:
        """Dial up to TARGET_DEGREE of the peers the relay listed when we joined."""
        first = list(self.mesh.hub.relay.peers)
        random.shuffle(first)  # the relay lists peers in join order: do not all pick the oldest
        for peer in first[:TARGET_DEGREE]:
            self._bg.spawn(self.dial(peer))

    async def on_link(self, link: PeerLink) -> None:
        """A link opened (accepted or dialed): serve it."""
        await self.mesh.attach(link)
        self._on_change()

    async def keep_relay(self) -> None:
        """Reconnect to a relay (any of the network's) with backoff when the connection ends."""
        hub = self.mesh.hub
        while True:
            await hub.relay_lost()
            log.warning("lost the relay; reconnecting")
            self._notifier.emit(ErrorNote("lost the relay connection; reconnecting"))
            failures = 0
            while True:
                delay = min(RELAY_BACKOFF_MAX_S, RELAY_BACKOFF_S * 2**failures)
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
                try:
                    relay = await connect_relay(self.identity, self.genesis, self.options)
                    break
                except NoRelayError as exc:
                    failures += 1
                    log.info("relay still unreachable: %s", exc)
            await hub.replace_relay(relay)
            log.info("reconnected to %s (%d peers online)", relay.url, len(relay.peers))
            self._notifier.emit(RelayNote(relay.url, len(relay.peers)))
            self.top_up(dial_any=True)

    def top_up(self, *, dial_any: bool = False) -> None:
        """Dial peers until TARGET_DEGREE links are open: those the relay lists first, then
        those learned through peer exchange (signaled through the neighbour that listed
        them). Only the peer with the smaller key dials a given pair in routine upkeep, so
        two peers do not dial each other at once; after a (re)connect we dial anyone. A peer
        that could not be reached is retried after a growing delay.
        """
        hub, me, now = self.mesh.hub, self.identity.public_key, self._clock()
        open_links = set(self.mesh.open_peers())
        want = TARGET_DEGREE - len(open_links) - len(self.dialing)
        if want <= 0:
            return

        def eligible(p: bytes) -> bool:
            retry_at = self.dial_backoff.get(p, (0, 0))[1]
            return (
                p != me
                and p not in open_links
                and p not in self.dialing
                and (dial_any or me < p)
                and now >= retry_at
            )

        listed = set() if hub.relay.closed else hub.online
        first = [p for p in listed if eligible(p)]
        then = [p for p in self.mesh.learned_peers() - listed if eligible(p)]
        random.shuffle(first)
        random.shuffle(then)
        for peer in (first + then)[:want]:
            self._bg.spawn(self.dial(peer))

    async def dial(self, peer: bytes) -> None:
        self.dialing.add(peer)
        try:
            await self.mesh.connect(peer)  # through the relay, or a neighbour that knows it
            self.dial_backoff.pop(peer, None)
            self._on_change()  # "offline" ends with the first link, not 2 s later
        except (TimeoutError, RelayError, OSError, WireError) as exc:
            log.info("could not reach %s: %s", node_id_of(peer), exc or "timeout")
            failures = self.dial_backoff.get(peer, (0, 0))[0] + 1
            delay = min(DIAL_BACKOFF_MAX_MS, DIAL_BACKOFF_MS * 2 ** min(failures - 1, 16))
            self.dial_backoff[peer] = (failures, self._clock() + delay)
            if len(self.dial_backoff) > MAX_DIAL_BACKOFFS:  # bounded: forget the oldest
                self.dial_backoff.pop(next(iter(self.dial_backoff)))
        finally:
            self.dialing.discard(peer)

    def link_lost(self, peer: bytes) -> None:
        """A peer's link closed or it left the relay."""
        self._on_change()  # the last link gone: offline now, not at the next review
        self._on_peer_lost(peer)

    def _left_relay(self, peer: bytes) -> None:
        """The relay saw `peer` go. Without a link to it, it is gone; with one, it may only
        have lost its relay (it rejoins within seconds), so wait before giving up on it."""
        link = self.mesh.hub.links.get(peer)
        if link is None or not link.open:
            self.link_lost(peer)
        else:
            self._bg.spawn(self._lost_unless_back(peer, link))

    async def _lost_unless_back(self, peer: bytes, link: PeerLink) -> None:
        await asyncio.sleep(REJOIN_GRACE_S)
        if link.open and peer not in self.mesh.hub.online:
            log.info("%s left the relay and did not come back", node_id_of(peer))
            self.link_lost(peer)
