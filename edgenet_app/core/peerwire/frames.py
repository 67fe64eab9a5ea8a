"""The frames of a peer link: typed, canonical-encoded maps with a type field `t`.

Ledger anti-entropy (pull-based range reconciliation, see sync.py and recon.py):

- `sum {root, peers}` — the periodic summary: a 16-byte root over my 256 bucket digests and
  the 16-byte digest of the peer list I last sent this link (≈ 50 bytes, whatever the size
  of the ledger). A side whose root differs asks for what it may lack:
- `bkts {digests, start}` — my 256 bucket digests (16 bytes each, 4 KiB): send me your
  entries for the buckets from `start` on that differ;
- `ents {bucket, entries: [[author, seq, prefix, tail], …], last, resume}` — one page
  (≤ 1,000 entries, ≈ 80 KB) of a bucket's per-author summaries, `last` on its last page;
  `resume` (on the round's last page only, else −1) is the bucket to ask from next, 256
  when every differing bucket was sent;
- `want {items: [[author, from_seq, digest], …]}` — ≤ 1,000 authors whose events from
  `from_seq` I lack; `digest` (16 bytes, or empty) is my prefix digest at `from_seq` − 1:
  if the sender's differs it sends from seq 1;
- `reply {raw, more, last}` — events answering a `want` (≤ 256 per frame, ≤ ~190 KB), in seq
  order per author, ≤ 2,048 per `want`; the `last` frame lists in `more` the want items still
  to ask for (same shape as `want`).

Other frames:

- `events {raw: [event bytes, …]}` — new ledger events, flooded (≤ 256 per frame);
- `gossip {id, origin, ttl, kind, body}` — a deduplicated, TTL-bounded broadcast;
- `direct {body}` — a task-protocol message for this peer only, or `part {id, index, count,
  total, chunk}` pieces of one too large for a frame (direct.py cuts and joins them);
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
BUCKETS = 256  # authors are split by the first byte of their key
MAX_PAGE_ENTRIES = 1000  # entries per `ents` page
MAX_WANT_ITEMS = 1000  # authors per `want` (and per `reply.more`)
MAX_SEQ = 2**40
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
    """Sent on connect and periodically: a few dozen bytes, whatever the ledger's size."""

    T: ClassVar[str] = "sum"
    root: bytes = spec(length=DIGEST_BYTES)
    peers: bytes = spec(length=DIGEST_BYTES)


@dataclass(frozen=True)
class Buckets(Frame):
    """My bucket digests: send me your entries for those from `start` on that differ."""

    T: ClassVar[str] = "bkts"
    digests: bytes = spec(length=BUCKETS * DIGEST_BYTES)
    start: int = spec(min=0, max=BUCKETS - 1)

    def digest(self, bucket: int) -> bytes:
        return self.digests[bucket * DIGEST_BYTES : (bucket + 1) * DIGEST_BYTES]


Entry = tuple[bytes, int, bytes, bytes]  # author, contiguous seq, prefix digest, tail digest
WantItem = tuple[bytes, int, bytes]  # author, from seq, prefix digest at from − 1 (or b"")


@dataclass(frozen=True)
class Entries(Frame):
    """One page of a bucket's per-author summaries (see core/ledger_index.py)."""

    T: ClassVar[str] = "ents"
    bucket: int = spec(min=0, max=BUCKETS - 1)
    entries: tuple[Entry, ...] = spec(max_len=MAX_PAGE_ENTRIES)
    last: bool = spec()  # the bucket's last page
    resume: int = spec(min=-1, max=BUCKETS)  # on the round's last page: where to go on

    def validate(self) -> None:
        prev = b""
        for i, (author, seq, prefix, tail) in enumerate(self.entries):
            if len(author) != 32 or author[0] != self.bucket:
                raise SchemaError(f"entries[{i}]", "author must be 32 bytes, in this bucket")
            if not 0 <= seq <= MAX_SEQ:
                raise SchemaError(f"entries[{i}]", f"seq must be in 0..{MAX_SEQ}")
            if len(prefix) != DIGEST_BYTES or len(tail) not in (0, DIGEST_BYTES):
                raise SchemaError(f"entries[{i}]", "expected a 16-byte prefix, a 0/16-byte tail")
            if author <= prev:
                raise SchemaError(f"entries[{i}]", "authors must be sorted and distinct")
            prev = author
        if self.resume != -1 and not self.last:
            raise SchemaError("resume", "only on a bucket's last page")
        if self.resume != -1 and self.resume <= self.bucket:
            raise SchemaError("resume", "must be past this bucket")


def _check_items(items: tuple[WantItem, ...], field: str) -> None:
    seen = set()
    for i, (author, start, digest) in enumerate(items):
        if len(author) != 32 or not 1 <= start <= MAX_SEQ:
            raise SchemaError(f"{field}[{i}]", f"expected a 32-byte author and a seq 1..{MAX_SEQ}")
        if len(digest) not in (0, DIGEST_BYTES) or (start == 1 and digest):
            raise SchemaError(f"{field}[{i}]", "digest must be empty, or 16 bytes past seq 1")
        if author in seen:
            raise SchemaError(f"{field}[{i}]", "author listed twice")
        seen.add(author)


@dataclass(frozen=True)
class Want(Frame):
    """Authors whose events from a seq on I lack (pull: nothing is sent unasked)."""

    T: ClassVar[str] = "want"
    items: tuple[WantItem, ...] = spec(min_len=1, max_len=MAX_WANT_ITEMS)

    def validate(self) -> None:
        _check_items(self.items, "items")


@dataclass(frozen=True)
class Reply(Frame):
    """Events answering a `want`; the last frame says what is left to ask for."""

    T: ClassVar[str] = "reply"
    raw: tuple[bytes, ...] = spec(max_len=MAX_EVENTS_PER_FRAME)
    more: tuple[WantItem, ...] = spec(max_len=MAX_WANT_ITEMS)
    last: bool = spec()

    def validate(self) -> None:
        _check_items(self.more, "more")
        if self.more and not self.last:
            raise SchemaError("more", "only on the last frame of a reply")


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
    f.T: f
    for f in (Summary, Buckets, Entries, Want, Reply, Events, Gossip, Direct, Part, Peers, Fwd)
}


def parse(data: Any) -> Frame:
    """Decode one frame from a peer. Raises WireError (naming the problem) only."""
    return parse_typed(data, FRAMES, max_bytes=MAX_FRAME_BYTES)
