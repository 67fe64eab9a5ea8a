"""An in-test attacker on the wire: its own identity, the real relay, real WebRTC links to
real `edgenet node` processes (`Net`), sending whatever frames a test hands it.

`WireAttacker.deliver` sends frames to one node in order and knows which of them the node
has read: after each frame it sends a `bkts` frame for the last bucket only, which the
node answers with one `ents` frame, and a node reads a link's frames one at a time, in
order. A node that cuts the link does so while reading a frame, and reads that frame to
its end first (it judges every event of it), so a frame followed by the link closing
counts as read. A cut link is dialled again (the node does not refuse a peer it cut), and
delivery goes on with the next frame, as a persistent attacker would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from edgenet_app.core.errors import WireError
from edgenet_app.core.identity import Identity
from edgenet_app.core.peerwire import BUCKETS, DIGEST_BYTES, Buckets, Entries, parse
from edgenet_app.runtime.net.relay_client import RelayClient
from edgenet_app.runtime.net.webrtc import DialError, LinkClosed, PeerHub, PeerLink
from support.netharness import Net

# answered with exactly one `ents` frame (the round's last page): our receipt for a frame
RECEIPT = Buckets(bytes(BUCKETS * DIGEST_BYTES), BUCKETS - 1).frame()


@dataclass
class Delivery:
    """What `WireAttacker.deliver` achieved."""

    frames: int = 0  # frames the node read (acknowledged, or read as the link was cut)
    dials: int = 0  # links opened to the node
    cuts: int = 0  # links the node closed on us
    failed_dials: int = 0
    timeouts: int = 0  # frames sent again: no receipt in time
    seconds: float = 0.0
    cut_after: list[int] = field(default_factory=list)  # frames read when each cut came


class WireAttacker:
    """A peer speaking the link protocol by hand (see module docstring)."""

    def __init__(self, net: Net, identity: Identity | None = None) -> None:
        self.net = net
        self.identity = identity or Identity.generate()
        self.client: RelayClient | None = None
        self.hub: PeerHub | None = None

    async def __aenter__(self) -> WireAttacker:
        self.client = RelayClient(self.net.url, self.identity, self.net.genesis.network_id)
        await self.client.connect()
        self.hub = PeerHub(self.client, timeout_s=15)
        self.hub.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.hub is not None:
            await self.hub.close()
        if self.client is not None:
            await self.client.close()

    async def link(self, peer: bytes) -> PeerLink:
        assert self.hub is not None, "use WireAttacker as an async context manager"
        return await self.hub.connect(peer)

    async def deliver(
        self, peer: bytes, frames: Sequence[bytes], *, timeout: float = 60
    ) -> Delivery:
        """Send `frames` to `peer` in order, each read by it before the next goes, dialling
        again whenever it cuts the link, until all were read or `timeout` s passed."""
        out = Delivery()
        start = time.monotonic()
        end = start + timeout
        link: PeerLink | None = None
        while out.frames < len(frames) and time.monotonic() < end:
            if link is None or not link.open:
                try:
                    link = await self.link(peer)
                except (TimeoutError, DialError):
                    out.failed_dials += 1
                    await asyncio.sleep(0.1)
                    continue
                out.dials += 1
                while not link.inbox.empty():  # what an earlier link left unread
                    link.inbox.get_nowait()
            try:
                await link.send(frames[out.frames])
            except LinkClosed:  # closed before it was sent: send it again on a new link
                link = None
                continue
            try:
                await link.send(RECEIPT)
                await self._receipt(link, end)
            except TimeoutError:  # no receipt in time: the frame goes again on a new link
                out.timeouts += 1
                await link.close()
                link = None
                continue
            except LinkClosed:  # cut while reading the frame: read to its end all the same
                out.cuts += 1
                out.cut_after.append(out.frames + 1)
                link = None
            out.frames += 1
        if link is not None and link.open:
            await link.close()
        out.seconds = time.monotonic() - start
        return out

    @staticmethod
    async def _receipt(link: PeerLink, end: float) -> None:
        while True:
            raw = await link.recv(timeout=max(0.1, end - time.monotonic()))
            with contextlib.suppress(WireError):
                frame = parse(raw)
                if isinstance(frame, Entries) and frame.resume != -1:
                    return
