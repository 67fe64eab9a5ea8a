"""A peer's connection to a relay: authenticate, then send and receive signaling."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import TypeVar

import aiohttp

from ...core import signaling as sig
from ...core.errors import EdgenetError, WireError
from ...core.identity import Identity

M = TypeVar("M", bound=sig.Message)


class RelayError(EdgenetError):
    """The relay could not be reached, refused us, or sent something invalid."""


class RelayClient:
    def __init__(
        self, url: str, identity: Identity, network: bytes, *, timeout_s: float = 5.0
    ) -> None:
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/ws") else "/ws")
        self.identity = identity
        self.network = network
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.peers: list[bytes] = []

    async def connect(self) -> list[bytes]:
        """Connect and authenticate; returns the peers already online."""
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await asyncio.wait_for(
                self._session.ws_connect(self.url, max_msg_size=sig.MAX_FRAME_BYTES),
                self.timeout_s,
            )
            challenge = await self._expect(sig.Challenge)
            if challenge.network != self.network:
                raise RelayError("the relay serves another network")
            hello = sig.Hello.create(self.identity, challenge, int(time.time() * 1000))
            await self._ws.send_bytes(hello.frame())
            welcome = await self._expect(sig.Welcome)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self.close()
            raise RelayError(f"cannot reach the relay at {self.url}: {exc or 'timeout'}") from None
        except (RelayError, WireError):
            await self.close()
            raise
        self.peers = list(welcome.peers)
        return self.peers

    async def _expect(self, cls: type[M]) -> M:
        msg = await self.recv(self.timeout_s)
        if isinstance(msg, sig.Error):
            raise RelayError(f"the relay refused us: {msg.reason}")
        if not isinstance(msg, cls):
            raise RelayError(f"expected {cls.T!r} from the relay, got {msg.T!r}")
        return msg

    async def recv(self, timeout: float | None = None) -> sig.Message:
        """The next message from the relay (RelayError when the connection ends)."""
        if self._ws is None:
            raise RelayError("not connected")
        msg = await asyncio.wait_for(self._ws.receive(), timeout)
        if msg.type == aiohttp.WSMsgType.BINARY:
            try:
                return sig.parse_frame(msg.data)
            except WireError as exc:
                raise RelayError(f"invalid frame from the relay: {exc}") from None
        raise RelayError(f"the relay connection ended ({msg.type.name})")

    async def send(self, msg: sig.Message) -> None:
        if self._ws is None or self._ws.closed:
            raise RelayError("not connected")
        await self._ws.send_bytes(msg.frame())

    async def signal(self, to: bytes, kind: str, data: bytes) -> None:
        await self.send(sig.Signal(to, kind, data))

    async def send_raw(self, data: bytes | str) -> None:
        """For tests: send an arbitrary frame."""
        if self._ws is None:
            raise RelayError("not connected")
        if isinstance(data, str):
            await self._ws.send_str(data)
        else:
            await self._ws.send_bytes(data)

    @property
    def closed(self) -> bool:
        return self._ws is None or self._ws.closed

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        self._ws = None
        self._session = None

    async def __aenter__(self) -> RelayClient:
        await self.connect()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
