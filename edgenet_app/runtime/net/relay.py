"""`edgenet relay`: the signaling and bootstrap relay (aiohttp websockets).

Peers connect to `ws://HOST:PORT/ws`, answer a signed challenge for the relay's network,
and then exchange WebRTC signaling messages addressed by public key. The relay keeps one
connection per identity (a new one replaces the old), caps frame sizes, rate-limits each
identity, drops a connection after repeated bad frames, and never lets one client's
garbage affect another. It forwards only signaling; it never sees task payloads.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from ...core import signaling as sig
from ...core.errors import WireError
from ...core.genesis import Genesis
from ...core.identity import node_id_of

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 5.0
RATE_PER_S = 50.0
BURST = 200.0
MAX_BAD_FRAMES = 3
MAX_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float = BURST
    last: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.last) * RATE_PER_S)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class RelayStats:
    connections: int = 0
    authenticated: int = 0
    forwarded: int = 0
    rejected_frames: int = 0
    rate_limited: int = 0


class Relay:
    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.network = genesis.network_id
        self.clients: dict[bytes, web.WebSocketResponse] = {}
        self.stats = RelayStats()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws", self.handle)
        app.router.add_get("/health", self.health)
        app.on_shutdown.append(self._close_all)
        return app

    async def _close_all(self, app: web.Application) -> None:
        """On shutdown, close every client at once (peers reconnect to another relay)."""
        for ws in list(self.clients.values()):
            await ws.close(code=1001, message=b"relay shutting down")

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"network": self.network.hex(), "peers": len(self.clients), "ok": True}
        )

    async def _send(self, ws: web.WebSocketResponse, msg: sig.Message) -> bool:
        if ws.closed:
            return False
        try:
            await ws.send_bytes(msg.frame())
            return True
        except (ConnectionError, RuntimeError):
            return False

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=sig.MAX_FRAME_BYTES, heartbeat=30)
        await ws.prepare(request)
        self.stats.connections += 1
        if len(self.clients) >= MAX_CLIENTS:
            await self._send(ws, sig.Error("the relay is full"))
            await ws.close()
            return ws
        peer = await self._authenticate(ws, request)
        if peer is None:
            await ws.close()
            return ws
        try:
            await self._serve(ws, peer)
        finally:
            if self.clients.get(peer) is ws:
                del self.clients[peer]
                await self._broadcast(sig.Left(peer), exclude=peer)
            log.info("peer %s left", node_id_of(peer))
        return ws

    async def _authenticate(self, ws: web.WebSocketResponse, request: web.Request) -> bytes | None:
        challenge = sig.Challenge(self.network, os.urandom(32), int(time.time() * 1000))
        if not await self._send(ws, challenge):
            return None
        try:
            msg = await ws.receive(timeout=HELLO_TIMEOUT_S)
        except TimeoutError:
            await self._send(ws, sig.Error("no hello within 5 s"))
            return None
        if msg.type != WSMsgType.BINARY:
            await self._send(ws, sig.Error("expected a binary hello frame"))
            return None
        try:
            hello = sig.parse_frame(msg.data, allowed=(sig.Hello,))
            assert isinstance(hello, sig.Hello)
            hello.check(challenge)
        except WireError as exc:
            self.stats.rejected_frames += 1
            log.info("refused %s: %s", request.remote, exc)
            await self._send(ws, sig.Error(str(exc)[:300]))
            return None
        peer = hello.public_key
        old = self.clients.get(peer)
        self.clients[peer] = ws
        if old is not None and old is not ws:
            await self._send(old, sig.Error("replaced by a newer connection of this identity"))
            await old.close()
        self.stats.authenticated += 1
        others = [p for p in self.clients if p != peer][: sig.MAX_PEERS_LISTED]
        await self._send(ws, sig.Welcome(tuple(others)))
        await self._broadcast(sig.Joined(peer), exclude=peer)
        log.info("peer %s joined (%d online)", node_id_of(peer), len(self.clients))
        return peer

    async def _serve(self, ws: web.WebSocketResponse, peer: bytes) -> None:
        bucket = _Bucket()
        bad = 0
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
                    break
                bad += 1
                self.stats.rejected_frames += 1
                await self._send(ws, sig.Error("frames must be binary"))
            elif not bucket.take():
                self.stats.rate_limited += 1
                await self._send(ws, sig.Error("rate limit exceeded; slow down"))
                continue
            else:
                try:
                    frame = sig.parse_frame(msg.data, allowed=(sig.Signal, sig.Ping))
                except WireError as exc:
                    bad += 1
                    self.stats.rejected_frames += 1
                    await self._send(ws, sig.Error(f"bad frame: {exc}"[:300]))
                else:
                    await self._dispatch(ws, peer, frame)
            if bad >= MAX_BAD_FRAMES:
                log.info("dropping %s after %d bad frames", node_id_of(peer), bad)
                await self._send(ws, sig.Error("too many bad frames"))
                break

    async def _dispatch(self, ws: web.WebSocketResponse, peer: bytes, frame: sig.Message) -> None:
        if isinstance(frame, sig.Ping):
            await self._send(ws, sig.Pong())
            return
        assert isinstance(frame, sig.Signal)
        target = self.clients.get(frame.to)
        if target is None:
            await self._send(ws, sig.Error(f"peer {node_id_of(frame.to)} is not connected"))
            return
        if await self._send(target, sig.Signal(peer, frame.kind, frame.data)):
            self.stats.forwarded += 1

    async def _broadcast(self, msg: sig.Message, *, exclude: bytes) -> None:
        for key, ws in list(self.clients.items()):
            if key != exclude:
                await self._send(ws, msg)


async def serve(genesis: Genesis, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start a relay; returns the runner (to clean up) and the bound port."""
    relay = Relay(genesis)
    runner = web.AppRunner(relay.app(), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    for address in runner.addresses:  # the real port when asked for port 0
        if isinstance(address, tuple) and len(address) >= 2:
            bound = int(address[1])
            break
    return runner, bound
