"""The frames of a peer link: typed, canonical-encoded maps with a type field `t`.

- `vv {entries: [[author, seq, digest], …]}` — what I hold (the ledger's version vector);
- `events {raw: [event bytes, …]}` — ledger events the other side lacks (≤ 256 per frame);
- `gossip {id, origin, ttl, kind, body}` — a deduplicated, TTL-bounded broadcast;
- `direct {body}` — a task-protocol message for this peer only, or `part {id, index, count,
  total, chunk}` pieces of one too large for a frame (direct.py cuts and joins them);
- `sum {vv, peers}` — the periodic summary: 16-byte digests of my version vector and of the
  peer list I last sent this link (a mismatching `vv` digest is answered with a full `vv`);
- `peers {keys}` — peer exchange: up to 32 public keys I have open links to;
- `fwd {to, sender, kind, ts, data, sig}` — an SDP offer or answer signed by `sender`, for a
  neighbour to pass on, one hop, to `to` (signaling through the mesh).

`parse` decodes any of them, bounded by MAX_FRAME_BYTES; each frame validates itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import codec
from ..errors import SchemaError, SignatureError, WireError
from ..frames import TypedFrame, parse_typed
from ..identity import Identity, verify
from ..schema import spec

MAX_FRAME_BYTES = 256 * 1024
MAX_EVENTS_PER_FRAME = 256
MAX_VV_ENTRIES = 20_000
MAX_TTL = 8
MAX_DIRECT_BYTES = 4 * 1024 * 1024  # a whole task message (codec.MAX_MESSAGE_BYTES)
PART_BYTES = 192 * 1024
MAX_PARTS = -(-MAX_DIRECT_BYTES // PART_BYTES)
MAX_PEERS_LISTED = 32
MAX_SDP_BYTES = 16 * 1024
FWD_DOMAIN = b"edgenet-fwd-signal-v1\x00"
FWD_MAX_SKEW_MS = 5 * 60 * 1000
DIGEST_BYTES = 16


class Frame(TypedFrame):
    """A frame on a peer link."""


@dataclass(frozen=True)
class VersionVector(Frame):
    T: ClassVar[str] = "vv"
    entries: tuple[tuple[bytes, int, bytes], ...] = spec(max_len=MAX_VV_ENTRIES)

    def validate(self) -> None:
        seen = set()
        for i, (author, seq, digest) in enumerate(self.entries):
            if len(author) != 32 or len(digest) != 16 or not 0 <= seq <= 2**40:
                raise SchemaError(f"entries[{i}]", "expected [32-byte author, seq, 16-byte digest]")
            if author in seen:
                raise SchemaError(f"entries[{i}]", "author listed twice")
            seen.add(author)

    def as_dict(self) -> dict[bytes, tuple[int, bytes]]:
        return {a: (s, d) for a, s, d in self.entries}


@dataclass(frozen=True)
class Events(Frame):
    T: ClassVar[str] = "events"
    raw: tuple[bytes, ...] = spec(max_len=MAX_EVENTS_PER_FRAME)


@dataclass(frozen=True)
class Gossip(Frame):
    T: ClassVar[str] = "gossip"
    id: bytes = spec(length=16)
    origin: bytes = spec(length=32)
    ttl: int = spec(min=0, max=MAX_TTL)
    kind: str = spec(max_len=32, pattern=r"[a-z_]{1,32}")
    body: bytes = spec(max_len=64 * 1024)

    @staticmethod
    def make_id(origin: bytes, kind: str, body: bytes) -> bytes:
        return hashlib.blake2b(origin + kind.encode() + body, digest_size=16).digest()

    def forwarded(self) -> Gossip | None:
        """The copy to pass on, or None when its TTL is spent."""
        return (
            None
            if self.ttl == 0
            else Gossip(self.id, self.origin, self.ttl - 1, self.kind, self.body)
        )


@dataclass(frozen=True)
class Direct(Frame):
    """A task-protocol message for this peer only (its body is signed on its own)."""

    T: ClassVar[str] = "direct"
    body: bytes = spec(max_len=MAX_FRAME_BYTES - 64)


@dataclass(frozen=True)
class Part(Frame):
    """One piece of a direct message too large for a frame (results, payloads)."""

    T: ClassVar[str] = "part"
    id: bytes = spec(length=16)
    index: int = spec(min=0, max=MAX_PARTS - 1)
    count: int = spec(min=2, max=MAX_PARTS)
    total: int = spec(min=1, max=MAX_DIRECT_BYTES)
    chunk: bytes = spec(min_len=1, max_len=PART_BYTES)

    def validate(self) -> None:
        if self.index >= self.count:
            raise SchemaError("index", f"must be below count ({self.count})")
        super().validate()


@dataclass(frozen=True)
class Summary(Frame):
    """Sent periodically instead of the whole version vector: a few dozen bytes when idle."""

    T: ClassVar[str] = "sum"
    vv: bytes = spec(length=DIGEST_BYTES)
    peers: bytes = spec(length=DIGEST_BYTES)


@dataclass(frozen=True)
class Peers(Frame):
    """Peer exchange: public keys the sender has open links to (and can forward to)."""

    T: ClassVar[str] = "peers"
    keys: tuple[bytes, ...] = spec(max_len=MAX_PEERS_LISTED)

    def validate(self) -> None:
        if any(len(k) != 32 for k in self.keys):
            raise SchemaError("keys", "every key is a 32-byte public key")
        if len(set(self.keys)) != len(self.keys):
            raise SchemaError("keys", "a key is listed twice")


@dataclass(frozen=True)
class Fwd(Frame):
    """An SDP offer or answer from `sender` to `to`, carried by a neighbour of both.

    Signed by `sender` over FWD_DOMAIN ‖ encode({network, sender, to, kind, ts, data}), so a
    forwarder can drop or delay it but cannot forge, alter or redirect it. The SDP carries
    the DTLS certificate fingerprint, so the link that results is bound to the signer.
    """

    T: ClassVar[str] = "fwd"
    to: bytes = spec(length=32)
    sender: bytes = spec(length=32)
    kind: str = spec(choices=("offer", "answer"))
    ts: int = spec(min=0, max=2**53)
    data: bytes = spec(min_len=1, max_len=MAX_SDP_BYTES)
    sig: bytes = spec(length=64)

    def validate(self) -> None:
        if self.to == self.sender:
            raise SchemaError("to", "a peer does not signal itself")

    @staticmethod
    def signed_part(
        network: bytes, sender: bytes, to: bytes, kind: str, ts: int, data: bytes
    ) -> bytes:
        return FWD_DOMAIN + codec.encode(
            {"network": network, "sender": sender, "to": to, "kind": kind, "ts": ts, "data": data}
        )

    @classmethod
    def create(
        cls, identity: Identity, network: bytes, to: bytes, kind: str, data: bytes, ts: int
    ) -> Fwd:
        me = identity.public_key
        return cls(
            to, me, kind, ts, data, identity.sign(cls.signed_part(network, me, to, kind, ts, data))
        )

    def message_id(self, network: bytes) -> bytes:
        """What replay protection remembers: a digest of the signed content."""
        part = self.signed_part(network, self.sender, self.to, self.kind, self.ts, self.data)
        return hashlib.blake2b(part, digest_size=16).digest()

    def check(self, network: bytes, now_ms: int, max_skew_ms: int = FWD_MAX_SKEW_MS) -> None:
        """Raise WireError unless `sender` signed this for `network` within ±max_skew_ms."""
        if abs(self.ts - now_ms) > max_skew_ms:
            raise WireError(f"fwd: stamped {(self.ts - now_ms) // 1000} s from now (stale?)")
        part = self.signed_part(network, self.sender, self.to, self.kind, self.ts, self.data)
        try:
            verify(self.sender, part, self.sig)
        except SignatureError:
            raise WireError("fwd: signature does not verify (forged, or another network)") from None


FRAMES: dict[str, type[Frame]] = {
    f.T: f for f in (VersionVector, Events, Gossip, Direct, Part, Summary, Peers, Fwd)
}


def parse(data: Any) -> Frame:
    """Decode one frame from a peer. Raises WireError (naming the problem) only."""
    return parse_typed(data, FRAMES, max_bytes=MAX_FRAME_BYTES)
