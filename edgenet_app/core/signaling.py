"""Relay protocol messages (signaling and bootstrap), sans-IO.

Every frame on the relay's websocket is one canonical encoding of a map with a type
field `t`. A connection starts with the relay's `challenge`; the peer answers `hello`,
signing the challenge nonce with its identity key; the relay replies `welcome` with
who is online. After that, peers exchange `signal` messages (SDP offers and answers,
ICE candidates) addressed to a public key; the relay forwards them with the sender's
authenticated key and nothing else. The relay never sees task payloads: those travel
only on the peers' own WebRTC data channels, sealed to the recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from . import codec
from .errors import SchemaError, SignatureError, WireError
from .frames import TypedFrame, parse_typed
from .identity import Identity, verify
from .schema import spec

HELLO_DOMAIN = b"edgenet-relay-hello-v1\x00"
MAX_FRAME_BYTES = 64 * 1024
MAX_SIGNAL_BYTES = 32 * 1024
MAX_PEERS_LISTED = 64


class Message(TypedFrame):
    """A frame between a peer and the relay."""


@dataclass(frozen=True)
class Challenge(Message):
    T: ClassVar[str] = "challenge"
    network: bytes = spec(length=32)
    nonce: bytes = spec(length=32)
    relay_ms: int = spec(min=0, max=2**53)


@dataclass(frozen=True)
class Hello(Message):
    T: ClassVar[str] = "hello"
    network: bytes = spec(length=32)
    public_key: bytes = spec(length=32)
    nonce: bytes = spec(length=32)
    ts: int = spec(min=0, max=2**53)
    sig: bytes = spec(length=64)

    @staticmethod
    def signed_part(network: bytes, public_key: bytes, nonce: bytes, ts: int) -> bytes:
        return HELLO_DOMAIN + codec.encode(
            {"network": network, "public_key": public_key, "nonce": nonce, "ts": ts}
        )

    @classmethod
    def create(cls, identity: Identity, challenge: Challenge, ts: int) -> Hello:
        part = cls.signed_part(challenge.network, identity.public_key, challenge.nonce, ts)
        return cls(challenge.network, identity.public_key, challenge.nonce, ts, identity.sign(part))

    def check(self, challenge: Challenge) -> None:
        """Raise WireError unless this answers `challenge` with a valid signature."""
        if self.network != challenge.network:
            raise WireError("hello: another network")
        if self.nonce != challenge.nonce:
            raise WireError("hello: does not answer this connection's challenge")
        try:
            verify(
                self.public_key,
                self.signed_part(self.network, self.public_key, self.nonce, self.ts),
                self.sig,
            )
        except SignatureError:
            raise WireError("hello: signature does not verify") from None


@dataclass(frozen=True)
class Welcome(Message):
    T: ClassVar[str] = "welcome"
    peers: tuple[bytes, ...] = spec(max_len=MAX_PEERS_LISTED)

    def validate(self) -> None:
        if any(len(p) != 32 for p in self.peers):
            raise SchemaError("peers", "every peer is a 32-byte public key")


@dataclass(frozen=True)
class Signal(Message):
    """Peer → relay: `to` is the recipient. Relay → peer: `to` is the authenticated sender."""

    T: ClassVar[str] = "signal"
    to: bytes = spec(length=32)
    kind: str = spec(choices=("offer", "answer", "candidate", "bye"))
    data: bytes = spec(max_len=MAX_SIGNAL_BYTES)


@dataclass(frozen=True)
class Joined(Message):
    T: ClassVar[str] = "joined"
    peer: bytes = spec(length=32)


@dataclass(frozen=True)
class Left(Message):
    T: ClassVar[str] = "left"
    peer: bytes = spec(length=32)


@dataclass(frozen=True)
class Ping(Message):
    T: ClassVar[str] = "ping"


@dataclass(frozen=True)
class Pong(Message):
    T: ClassVar[str] = "pong"


@dataclass(frozen=True)
class Error(Message):
    T: ClassVar[str] = "error"
    reason: str = spec(max_len=300)


TYPES: dict[str, type[Message]] = {
    m.T: m for m in (Challenge, Hello, Welcome, Signal, Joined, Left, Ping, Pong, Error)
}


def parse_frame(data: Any, *, allowed: tuple[type[Message], ...] | None = None) -> Message:
    """Decode one frame. Raises WireError (naming what is wrong) and nothing else."""
    return parse_typed(data, TYPES, max_bytes=MAX_FRAME_BYTES, allowed=allowed)
