"""WebRTC peer links (aiortc data channels), signaled through a relay or through the mesh.

`PeerHub` owns one relay connection: it reads the relay's messages, answers offers from
other peers, and dials peers on request. How an offer or answer travels is pluggable
(`SendSignal`): through the relay by default, or through a neighbour on the mesh
(`runtime/net/mesh.py` signs it and wraps it in a `fwd` frame). Each `PeerLink` is one
RTCPeerConnection with one ordered, reliable data channel carrying canonical-encoded
frames. Every step has a timeout (aiortc waits forever when there is no usable candidate).
ICE servers come from the network and settings and default to none; `loopback_only()`
restricts host candidates to 127.0.0.1 for tests and single-machine demos (aioice skips
loopback otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from ...core import signaling as sig
from ...core.errors import EdgenetError, WireError
from ...core.identity import node_id_of
from ...core.peerwire import FWD_MAX_SKEW_MS, Dedup, Fwd
from ...core.peerwire import parse as parse_frame
from .relay_client import RelayClient, RelayError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
MAX_PENDING_ACCEPTS = 32  # offers being answered at once (each is an RTCPeerConnection)
MAX_LINKS = 64  # open links at most (8 dialed + those peers open to us; ~0.2 MB each)
MAX_FRAME = 256 * 1024
HIGH_WATER = 1024 * 1024  # bytes buffered in a channel before send() waits
_orig_hosts = aioice.ice.get_host_addresses


def loopback_only(enabled: bool = True) -> None:
    """Gather only 127.0.0.1 host candidates (tests, demos on one machine)."""

    def hosts(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = hosts if enabled else _orig_hosts


def configuration(ice_servers: tuple[str, ...] = ()) -> RTCConfiguration:
    return RTCConfiguration(iceServers=[RTCIceServer(urls=u) for u in ice_servers])


class LinkClosed(EdgenetError):
    """The link is closed (or closed while a frame was being sent or awaited)."""


class DialError(EdgenetError, ConnectionError):
    """A dial failed for a reason other than a timeout (a bad answer, no route, …)."""


# (recipient, kind "offer" | "answer", SDP bytes) → sent through the relay or a neighbour
SendSignal = Callable[[bytes, str, bytes], Awaitable[None]]


class PeerLink:
    """One data channel to one authenticated peer (its key came through the relay, or signed
    the offer or answer that a neighbour forwarded)."""

    def __init__(self, pc: RTCPeerConnection, channel: RTCDataChannel, remote: bytes) -> None:
        self.pc = pc
        self.channel = channel
        self.remote = remote
        self.dialed = False  # True on the side that sent the offer
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.bytes_in = 0
        self.bytes_out = 0
        self.dropped = 0

        @channel.on("message")
        def on_message(message: bytes | str) -> None:
            if not isinstance(message, bytes) or len(message) > MAX_FRAME:
                self.dropped += 1
                return
            self.bytes_in += len(message)
            self.inbox.put_nowait(message)

        @channel.on("close")
        def on_close() -> None:
            self.inbox.put_nowait(None)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self.inbox.put_nowait(None)

    @property
    def open(self) -> bool:
        return self.channel.readyState == "open"

    async def send(self, frame: bytes) -> None:
        if len(frame) > MAX_FRAME:
            raise ValueError(f"frame of {len(frame)} bytes; limit {MAX_FRAME}")
        if not self.open:
            raise LinkClosed(f"link to {node_id_of(self.remote)} is closed")
        while self.channel.bufferedAmount > HIGH_WATER:  # backpressure
            await asyncio.sleep(0.005)
            if not self.open:
                raise LinkClosed(f"link to {node_id_of(self.remote)} is closed")
        self.channel.send(frame)
        self.bytes_out += len(frame)

    async def recv(self, timeout: float | None = None) -> bytes:
        frame = await asyncio.wait_for(self.inbox.get(), timeout)
        if frame is None:
            self.inbox.put_nowait(None)
            raise LinkClosed(f"link to {node_id_of(self.remote)} closed")
        return frame

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.pc.close()


async def _wait_open(channel: RTCDataChannel, timeout: float) -> None:
    if channel.readyState == "open":
        return
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_open() -> None:
        if not opened.done():
            opened.set_result(None)

    channel.on("open", on_open)
    await asyncio.wait_for(opened, timeout)


class PeerHub:
    """Dial and accept WebRTC links through one relay connection."""

    def __init__(
        self,
        relay: RelayClient,
        *,
        ice_servers: tuple[str, ...] = (),
        timeout_s: float = CONNECT_TIMEOUT_S,
        on_link: Callable[[PeerLink], Awaitable[None]] | None = None,
        max_links: int = MAX_LINKS,
    ) -> None:
        self.relay = relay
        self.max_links = max_links
        self.identity = relay.identity
        self._seen_signals = Dedup(ttl_ms=2 * FWD_MAX_SKEW_MS, capacity=10_000)
        self.network = relay.network
        self.ice_servers = ice_servers
        self.timeout_s = timeout_s
        self.on_link = on_link
        self.links: dict[bytes, PeerLink] = {}
        self.on_left: list[Callable[[bytes], None]] = []
        self.online: set[bytes] = set(relay.peers)  # listed by the relay we are connected to
        self._answers: dict[bytes, asyncio.Future[bytes]] = {}
        self._via_relay: set[bytes] = set()  # dials whose offer went through the relay
        self._reader: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read_relay())

    async def relay_lost(self) -> None:
        """Return when the relay connection ends (links already open stay up)."""
        if self._reader is not None:
            await asyncio.shield(self._reader)

    async def replace_relay(self, relay: RelayClient) -> None:
        """Signal through a new relay connection from now on (after a reconnect)."""
        old = self.relay
        if self._reader is not None:
            self._reader.cancel()
        self.relay = relay
        self.online = set(relay.peers)
        for peer in self._via_relay:  # offers sent through the old relay are lost
            fut = self._answers.pop(peer, None)
            if fut is not None and not fut.done():
                fut.set_exception(RelayError("the relay connection was replaced"))
        self._via_relay.clear()
        self.start()
        if old is not relay:
            await old.close()

    async def _read_relay(self) -> None:
        while True:
            try:
                msg = await self.relay.recv()
            except asyncio.CancelledError:
                return
            except RelayError:
                self.online = set()  # nobody is "relay-online" without a relay
                return
            if isinstance(msg, sig.Joined):
                self.online.add(msg.peer)
            elif isinstance(msg, sig.Left):
                self.online.discard(msg.peer)
                for cb in self.on_left:  # the relay saw it go: usually a dead process
                    cb(msg.peer)
            elif isinstance(msg, sig.Signal):
                sdp = self._open_relay_signal(msg)
                if sdp is None:
                    continue
                if msg.kind == "offer":
                    self.accept(msg.to, sdp, self.relay_signal)
                elif msg.kind == "answer":
                    self.deliver_answer(msg.to, sdp)
            elif isinstance(msg, sig.Error):
                log.info("relay: %s", msg.reason)

    async def relay_signal(self, to: bytes, kind: str, data: bytes) -> None:
        """The default `SendSignal`: through the relay we are connected to now, signed like a
        forwarded one, so the relay cannot answer in a peer's name (the SDP carries the DTLS
        fingerprint: the link that results is bound to the signer's key)."""
        try:
            signed = Fwd.create(self.identity, self.network, to, kind, data, _now_ms()).frame()
        except WireError as exc:  # e.g. an SDP over 16 KiB
            raise DialError(f"cannot signal a {kind}: {exc}") from None
        await self.relay.signal(to, kind, signed)

    def _open_relay_signal(self, msg: sig.Signal) -> bytes | None:
        """The SDP of a signal the relay delivered, if the peer the relay names signed it for
        us, on this network, recently, and it is not a replay; else None (logged)."""
        try:
            fwd = parse_frame(msg.data)
            if not isinstance(fwd, Fwd):
                raise WireError(f"expected a signed signal, got {fwd.T!r}")
            if fwd.sender != msg.to or fwd.to != self.identity.public_key or fwd.kind != msg.kind:
                raise WireError("the signal is signed for another sender, recipient or kind")
            now = _now_ms()
            fwd.check(self.network, now)
            if not self._seen_signals.first_time(fwd.message_id(self.network), now):
                raise WireError("a replayed signal")
        except WireError as exc:
            log.info("relay signal from %s refused: %s", node_id_of(msg.to), exc)
            return None
        return fwd.data

    def deliver_answer(self, peer: bytes, sdp: bytes) -> bool:
        """An answer from `peer` (authenticated by the caller): completes our dial, if any."""
        fut = self._answers.pop(peer, None)
        self._via_relay.discard(peer)
        if fut is None or fut.done():
            return False
        fut.set_result(sdp)
        return True

    async def connect(self, peer: bytes, *, signal: SendSignal | None = None) -> PeerLink:
        """Dial `peer` (offer → `signal` → answer) and wait for the data channel to open.

        `signal` defaults to the relay. Raises TimeoutError, RelayError or DialError.
        """
        existing = self.links.get(peer)
        if existing is not None and existing.open:
            return existing
        if signal is None:
            signal = self.relay_signal
        pc = RTCPeerConnection(configuration(self.ice_servers))
        channel = pc.createDataChannel("edgenet", ordered=True)
        link = PeerLink(pc, channel, peer)
        answer_fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        try:
            offer = await pc.createOffer()
            await asyncio.wait_for(pc.setLocalDescription(offer), self.timeout_s)
            self._answers[peer] = answer_fut
            if signal == self.relay_signal:
                self._via_relay.add(peer)
            await signal(peer, "offer", pc.localDescription.sdp.encode())
            sdp = await asyncio.wait_for(answer_fut, self.timeout_s)
            answer = RTCSessionDescription(sdp.decode(), "answer")
            await asyncio.wait_for(pc.setRemoteDescription(answer), self.timeout_s)
            await _wait_open(channel, self.timeout_s)
        except BaseException as exc:
            if self._answers.get(peer) is answer_fut:
                del self._answers[peer]
                self._via_relay.discard(peer)
            await link.close()
            if isinstance(exc, Exception) and not isinstance(exc, TimeoutError | RelayError):
                raise DialError(f"could not dial {node_id_of(peer)}: {exc}") from exc
            raise
        link.dialed = True
        return await self._install(link)

    async def _install(self, link: PeerLink) -> PeerLink:
        """Make `link` the one link to its peer and return the link to use.

        When both peers dialed each other at once, each side holds two links; both sides
        keep the one dialed by the smaller key and close the other, so they agree on one.
        A new link from the same dialer as the old one replaces it (a reconnect).
        """
        peer = link.remote
        old = self.links.get(peer)
        if old is not None and old is not link and old.open and old.dialed != link.dialed:
            me_smaller = self.relay.identity.public_key < peer
            keep_new = link.dialed == me_smaller  # the new link was dialed by the smaller key
            if not keep_new:
                await link.close()
                return old
        self.links[peer] = link
        if old is not None and old is not link:
            await old.close()
        return link

    def accept(self, peer: bytes, offer_sdp: bytes, reply: SendSignal) -> bool:
        """Answer an offer from `peer` (authenticated by the caller) through `reply`, in the
        background. False when too many offers are being answered already, or when this
        node has `max_links` open links and `peer` is not one of them (a re-dial replaces
        its link): the dialer times out and tries elsewhere."""
        if len(self._pending) >= MAX_PENDING_ACCEPTS:
            log.info("too many offers in progress; dropped one from %s", node_id_of(peer))
            return False
        known = self.links.get(peer)
        open_links = sum(1 for link in self.links.values() if link.open)
        if (known is None or not known.open) and open_links >= self.max_links:
            log.info("%d links open; refused an offer from %s", open_links, node_id_of(peer))
            return False
        t = asyncio.create_task(self._accept(peer, offer_sdp, reply))
        self._pending.add(t)
        t.add_done_callback(self._pending.discard)
        return True

    async def _accept(self, peer: bytes, offer_sdp: bytes, reply: SendSignal) -> None:
        pc = RTCPeerConnection(configuration(self.ice_servers))
        got: asyncio.Future[PeerLink] = asyncio.get_running_loop().create_future()

        def on_channel(channel: RTCDataChannel) -> None:
            # wrap at once: frames can arrive before `open` is seen here
            if not got.done():
                got.set_result(PeerLink(pc, channel, peer))

        pc.on("datachannel", on_channel)
        try:
            offer = RTCSessionDescription(offer_sdp.decode(), "offer")
            await asyncio.wait_for(pc.setRemoteDescription(offer), self.timeout_s)
            answer = await pc.createAnswer()
            await asyncio.wait_for(pc.setLocalDescription(answer), self.timeout_s)
            await reply(peer, "answer", pc.localDescription.sdp.encode())
            link = await asyncio.wait_for(got, self.timeout_s)
            await _wait_open(link.channel, self.timeout_s)
        except Exception as exc:  # a bad offer or a vanished peer harms nobody else
            log.info("could not accept %s: %s", node_id_of(peer), exc)
            with contextlib.suppress(Exception):
                await pc.close()
            return
        if await self._install(link) is not link:
            return  # a crossed dial: the link this side dialed wins
        if self.on_link is not None:
            await self.on_link(link)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        for t in list(self._pending):
            t.cancel()
        for link in list(self.links.values()):
            await link.close()
        self.links.clear()
        await self.relay.close()


def _now_ms() -> int:
    return int(time.time() * 1000)
