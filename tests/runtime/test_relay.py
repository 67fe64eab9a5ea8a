"""The relay, for real: websocket clients on loopback, and `edgenet relay` as a process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from support.ledger_helpers import GENESIS, NODES, OTHER_GENESIS

from edgenet_app.core import codec
from edgenet_app.core import signaling as sig
from edgenet_app.core.errors import WireError
from edgenet_app.core.identity import Identity
from edgenet_app.runtime.net.relay import serve
from edgenet_app.runtime.net.relay_client import RelayClient, RelayError

A, B, C = NODES[:3]


@pytest.fixture
async def relay_url() -> AsyncIterator[str]:
    runner, port = await serve(GENESIS, "127.0.0.1", 0)
    yield f"ws://127.0.0.1:{port}/ws"
    await runner.cleanup()


async def next_of(client: RelayClient, cls: type[sig.Message], timeout: float = 5) -> sig.Message:
    while True:
        msg = await client.recv(timeout)
        if isinstance(msg, cls):
            return msg


async def test_peers_authenticate_see_each_other_and_exchange_signals(relay_url: str) -> None:
    async with RelayClient(relay_url, A, GENESIS.network_id) as a:
        assert a.peers == []
        async with RelayClient(relay_url, B, GENESIS.network_id) as b:
            assert b.peers == [A.public_key]
            joined = await next_of(a, sig.Joined)
            assert joined == sig.Joined(B.public_key)
            await a.signal(B.public_key, "offer", b"v=0 sdp...")
            got = await next_of(b, sig.Signal)
            # the relay replaces the recipient with the authenticated sender
            assert got == sig.Signal(A.public_key, "offer", b"v=0 sdp...")
            await a.send(sig.Ping())
            assert isinstance(await next_of(a, sig.Pong), sig.Pong)
        left = await next_of(a, sig.Left)
        assert left == sig.Left(B.public_key)


async def test_wrong_network_or_forged_hello_is_refused(relay_url: str) -> None:
    with pytest.raises(RelayError, match="another network"):
        await RelayClient(relay_url, A, OTHER_GENESIS.network_id).connect()

    class Forger(RelayClient):
        async def connect(self) -> list[bytes]:
            import aiohttp

            self._session = aiohttp.ClientSession()
            self._ws = await self._session.ws_connect(self.url)
            ch = await self.recv(5)
            assert isinstance(ch, sig.Challenge)
            real = sig.Hello.create(Identity(b"\x09" * 32), ch, 1)
            forged = sig.Hello(ch.network, A.public_key, ch.nonce, 1, real.sig)  # A's key
            await self._ws.send_bytes(forged.frame())
            msg = await self.recv(5)
            assert isinstance(msg, sig.Error), msg
            raise RelayError(msg.reason)

    f = Forger(relay_url, A, GENESIS.network_id)
    with pytest.raises(RelayError, match="signature"):
        await f.connect()
    await f.close()


async def test_garbage_drops_only_the_sender(relay_url: str) -> None:
    async with RelayClient(relay_url, A, GENESIS.network_id) as a:
        bad = RelayClient(relay_url, B, GENESIS.network_id)
        await bad.connect()
        for junk in (b"\xc1\xc1", codec.encode({"t": "signal", "to": b"x"}), "text frame"):
            await bad.send_raw(junk)
        errors = []
        with pytest.raises(RelayError):
            while True:
                msg = await bad.recv(5)
                if isinstance(msg, sig.Error):
                    errors.append(msg.reason)
        assert any("bad frame" in e for e in errors) and "too many bad frames" in errors
        await bad.close()
        # A is unharmed and can still talk to a newcomer
        async with RelayClient(relay_url, C, GENESIS.network_id) as c:
            await a.signal(C.public_key, "candidate", b"cand")
            assert (await next_of(c, sig.Signal)).data == b"cand"  # type: ignore[attr-defined]


async def test_signal_to_an_absent_peer_and_oversize_frames(relay_url: str) -> None:
    async with RelayClient(relay_url, A, GENESIS.network_id) as a:
        await a.signal(B.public_key, "offer", b"x")
        err = await next_of(a, sig.Error)
        assert "not connected" in err.reason  # type: ignore[attr-defined]
        with pytest.raises(WireError):
            sig.Signal(B.public_key, "offer", b"x" * (sig.MAX_SIGNAL_BYTES + 1))
        await a.send_raw(b"\x00" * (sig.MAX_FRAME_BYTES + 10))
        with pytest.raises(RelayError):  # aiohttp closes on oversize frames
            while True:
                await a.recv(5)


async def test_a_second_connection_replaces_the_first(relay_url: str) -> None:
    first = RelayClient(relay_url, A, GENESIS.network_id)
    await first.connect()
    async with RelayClient(relay_url, A, GENESIS.network_id):
        msg = await first.recv(5)
        assert isinstance(msg, sig.Error) and "replaced" in msg.reason
    await first.close()


async def test_hostile_frames_only_raise_wire_errors() -> None:
    for blob in (
        b"",
        b"\x80",
        os.urandom(100),
        codec.encode({"t": "nope"}),
        codec.encode({"t": "hello"}),
        codec.encode([1, 2]),
    ):
        with pytest.raises(WireError):
            sig.parse_frame(blob)


@pytest.mark.slow
async def test_relay_command_runs_as_a_process(tmp_path: object) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgenet_app", "relay", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("ws://127.0.0.1:")
        from edgenet_app.core.default_network import default_network

        async with RelayClient(url, A, default_network().network_id) as a:
            assert a.peers == []
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()


async def test_a_flooding_peer_is_rate_limited(relay_url: str) -> None:
    async with RelayClient(relay_url, A, GENESIS.network_id) as a:
        for _ in range(400):
            await a.send(sig.Ping())
        reasons = []
        try:
            while True:
                msg = await a.recv(2)
                if isinstance(msg, sig.Error):
                    reasons.append(msg.reason)
        except TimeoutError:
            pass
        assert any("rate limit" in r for r in reasons)
