"""Frames on a peer link, and ledger anti-entropy, sans-IO.

A peer link carries canonical-encoded maps with a type field `t`:

- `vv {entries: [[author, seq, digest], …]}` — what I hold (the ledger's version vector);
- `events {raw: [event bytes, …]}` — ledger events the other side lacks (≤ 256 per frame);
- `gossip {id, origin, ttl, kind, body}` — a deduplicated, TTL-bounded broadcast;
- `sum {vv, peers}` — the periodic summary: 16-byte digests of my version vector and of the
  peer list I last sent this link (a mismatching `vv` digest is answered with a full `vv`);
- `peers {keys}` — peer exchange: up to 32 public keys I have open links to;
- `fwd {to, sender, kind, ts, data, sig}` — an SDP offer or answer signed by `sender`, for a
  neighbour to pass on, one hop, to `to` (signaling through the mesh).

`LedgerSync` turns frames into actions for one link: on connect it sends its version
vector; on a version vector it sends what the peer lacks, in frames of bounded size; on
events it adds them to the ledger (each authenticated and checked; a bad one is counted,
never applied). `Dedup` remembers recently seen gossip ids. `PeerBook` holds what peer
exchange taught (who can forward to whom), `PeerAdvert` decides when a link gets a new
`peers` frame, and `FwdRouter` decides what to do with a `fwd` frame.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from . import codec
from .errors import LedgerError, SchemaError, SignatureError, WireError
from .events import Event
from .frames import TypedFrame, parse_typed
from .identity import Identity, verify
from .ledger import Ledger
from .schema import spec
from .taskflow.common import TokenBucket

MAX_FRAME_BYTES = 256 * 1024
MAX_EVENTS_PER_FRAME = 256
MAX_VV_ENTRIES = 20_000
MAX_TTL = 8


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


MAX_DIRECT_BYTES = 4 * 1024 * 1024  # a whole task message (codec.MAX_MESSAGE_BYTES)
PART_BYTES = 192 * 1024
MAX_PARTS = -(-MAX_DIRECT_BYTES // PART_BYTES)


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


def direct_frames(body: bytes, msg_id: bytes) -> list[bytes]:
    """Frames carrying one direct message: one `direct`, or `part`s when it is large."""
    if len(body) > MAX_DIRECT_BYTES:
        raise WireError(f"direct message is {len(body)} bytes; limit {MAX_DIRECT_BYTES}")
    if len(body) <= MAX_FRAME_BYTES - 1024:
        return [Direct(body).frame()]
    chunks = [body[i : i + PART_BYTES] for i in range(0, len(body), PART_BYTES)]
    return [Part(msg_id, i, len(chunks), len(body), c).frame() for i, c in enumerate(chunks)]


class Reassembly:
    """Puts `part` frames from one peer back together, with bounded memory and time.

    `add` returns the whole body when its last part arrives, None before, and raises
    WireError when parts contradict each other or a peer opens too many at once.
    """

    def __init__(self, max_open: int = 8, ttl_ms: int = 60_000) -> None:
        self.max_open = max_open
        self.ttl_ms = ttl_ms
        self._open: dict[bytes, tuple[int, int, int, dict[int, bytes]]] = {}

    def add(self, part: Part, now_ms: int) -> bytes | None:
        for key in [k for k, v in self._open.items() if now_ms - v[0] > self.ttl_ms]:
            del self._open[key]
        entry = self._open.get(part.id)
        if entry is None:
            if len(self._open) >= self.max_open:
                raise WireError(f"more than {self.max_open} large messages in flight")
            entry = (now_ms, part.count, part.total, {})
            self._open[part.id] = entry
        _, count, total, chunks = entry
        if (part.count, part.total) != (count, total):
            del self._open[part.id]
            raise WireError("parts of one message disagree on its size")
        if part.index in chunks:
            del self._open[part.id]
            raise WireError(f"part {part.index} received twice")
        chunks[part.index] = part.chunk
        if sum(map(len, chunks.values())) > total:
            del self._open[part.id]
            raise WireError("parts are larger than the announced total")
        if len(chunks) < count:
            return None
        del self._open[part.id]
        body = b"".join(chunks[i] for i in range(count))
        if len(body) != total:
            raise WireError(f"reassembled {len(body)} bytes, announced {total}")
        return body


# -- peer exchange and signaling through the mesh -----------------------------------------

MAX_PEERS_LISTED = 32
MAX_SDP_BYTES = 16 * 1024
FWD_DOMAIN = b"edgenet-fwd-signal-v1\x00"
FWD_MAX_SKEW_MS = 5 * 60 * 1000
DIGEST_BYTES = 16


def peers_digest(keys: Iterable[bytes]) -> bytes:
    """The digest of a set of public keys (order does not matter)."""
    return hashlib.blake2b(
        b"".join(sorted(set(keys))), digest_size=DIGEST_BYTES, person=b"edgenet-peers"
    ).digest()


def vv_digest(ledger: Ledger) -> bytes:
    """The digest of what a replica holds, for the periodic summary: its version vector and
    its number of events (so events held past a gap count too)."""
    vv = ledger.version_vector()
    entries = [[a, s, d] for a, (s, d) in sorted(vv.items())]
    return hashlib.blake2b(
        codec.encode([entries, len(ledger)]), digest_size=DIGEST_BYTES, person=b"edgenet-vvsum"
    ).digest()


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


@dataclass
class SyncReport:
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    last_error: str | None = None


class LedgerSync:
    """Anti-entropy for one link. Methods return the frames to send (as bytes)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.report = SyncReport()

    def hello(self) -> list[bytes]:
        vv = self.ledger.version_vector()
        entries = tuple((a, s, d) for a, (s, d) in sorted(vv.items()))
        return [VersionVector(entries[:MAX_VV_ENTRIES]).frame()]

    def on_version_vector(self, vv: VersionVector) -> list[bytes]:
        missing = self.ledger.missing_for(vv.as_dict())
        frames: list[bytes] = []
        batch: list[bytes] = []
        size = 0
        for event in missing:
            if batch and (len(batch) == MAX_EVENTS_PER_FRAME or size + len(event.raw) > 200_000):
                frames.append(Events(tuple(batch)).frame())
                batch, size = [], 0
            batch.append(event.raw)
            size += len(event.raw)
        if batch:
            frames.append(Events(tuple(batch)).frame())
        return frames

    def on_events(self, events: Events, now_ms: int) -> list[Event]:
        """Hold the events of a frame; returns those that were new. Each is authenticated
        and checked on its own: a bad one is counted in the report, never applied, and does
        not stop the rest of the frame."""
        new = []
        for raw in events.raw:
            try:
                event = Event.decode(raw)
                added = self.ledger.add(event, now_ms=now_ms)
            except (WireError, LedgerError) as exc:
                self.report.rejected += 1
                self.report.last_error = str(exc)
                continue
            if added:
                self.report.added += 1
                new.append(event)
            else:
                self.report.duplicates += 1
        return new


class Dedup:
    """Remembers gossip ids for `ttl_ms` (bounded memory)."""

    def __init__(self, ttl_ms: int = 10 * 60 * 1000, capacity: int = 100_000) -> None:
        self.ttl_ms = ttl_ms
        self.capacity = capacity
        self._seen: OrderedDict[bytes, int] = OrderedDict()

    def first_time(self, msg_id: bytes, now_ms: int) -> bool:
        while self._seen:
            _oldest, ts = next(iter(self._seen.items()))
            if now_ms - ts <= self.ttl_ms and len(self._seen) < self.capacity:
                break
            self._seen.popitem(last=False)
        if msg_id in self._seen:
            return False
        self._seen[msg_id] = now_ms
        return True


class PeerBook:
    """What peer exchange taught: for each neighbour, the peers it has links to.

    A neighbour's list replaces its previous one; it is kept while the neighbour's summaries
    confirm it (same digest) and expires `ttl_ms` after the last confirmation, or at once
    when the link to that neighbour closes (`forget`). Memory is bounded: at most
    `max_neighbours` lists of at most MAX_PEERS_LISTED keys.
    """

    def __init__(self, me: bytes, *, ttl_ms: int = 5 * 60 * 1000, max_neighbours: int = 64):
        self.me = me
        self.ttl_ms = ttl_ms
        self.max_neighbours = max_neighbours
        self._lists: OrderedDict[bytes, tuple[int, frozenset[bytes], bytes]] = OrderedDict()

    def learn(self, neighbour: bytes, keys: Iterable[bytes], now_ms: int) -> None:
        """Take `neighbour`'s list (its `peers` frame, as sent: the digest covers all)."""
        keys = list(keys)
        digest = peers_digest(keys)
        listed = frozenset(k for k in keys if k not in (self.me, neighbour))
        self._lists.pop(neighbour, None)
        self._lists[neighbour] = (now_ms, listed, digest)
        while len(self._lists) > self.max_neighbours:
            self._lists.popitem(last=False)

    def confirm(self, neighbour: bytes, digest: bytes, now_ms: int) -> bool:
        """A summary from `neighbour`: renew its list if the digest still matches."""
        entry = self._lists.get(neighbour)
        if entry is None or entry[2] != digest:
            return False
        self._lists.pop(neighbour)
        self._lists[neighbour] = (now_ms, entry[1], digest)
        return True

    def forget(self, neighbour: bytes) -> None:
        self._lists.pop(neighbour, None)

    def _expire(self, now_ms: int) -> None:
        for n in [n for n, (ts, _, _) in self._lists.items() if now_ms - ts > self.ttl_ms]:
            del self._lists[n]

    def routes(self, peer: bytes, now_ms: int) -> list[bytes]:
        """Neighbours that list `peer`, most recently confirmed first."""
        self._expire(now_ms)
        return [n for n, (_, keys, _) in reversed(self._lists.items()) if peer in keys]

    def links_of(self, neighbour: bytes, now_ms: int) -> frozenset[bytes]:
        """The peers `neighbour` said it has links to (empty if unknown or expired)."""
        self._expire(now_ms)
        entry = self._lists.get(neighbour)
        return entry[1] if entry is not None else frozenset()

    def covered_by(self, sender: bytes, now_ms: int) -> frozenset[bytes]:
        """The peers `sender` reached itself when it flooded: those it lists that also
        list it. Both ends must say so, so a neighbour lying about its links cannot stop
        us passing a frame on to anyone."""
        self._expire(now_ms)  # once: this runs for every frame passed on
        lists = self._lists
        mine = lists[sender][1] if sender in lists else frozenset()
        return frozenset(p for p in mine if p in lists and sender in lists[p][1])

    def known(self, now_ms: int) -> set[bytes]:
        """Every peer some neighbour can forward to."""
        self._expire(now_ms)
        out: set[bytes] = set()
        for _, keys, _ in self._lists.values():
            out |= keys
        return out


def flood_targets(
    linked: Iterable[bytes], came_from: bytes | None, covered: frozenset[bytes]
) -> list[bytes]:
    """Where to pass on a flooded frame (gossip, new ledger events) that came from
    `came_from`: every linked peer except that one and those it reached itself
    (`covered`, `PeerBook.covered_by`: links both ends list). In a dense mesh this removes
    nearly every duplicate; a stale list can make a peer miss one copy, which the next
    announce or ledger anti-entropy makes up for."""
    return [p for p in linked if p != came_from and p not in covered]


class PeerAdvert:
    """When to send one link a `peers` frame: on connect; when the list changed a lot (a
    quarter of it, at least one key; not more often than `min_interval_ms`); and with the
    periodic summary when it changed at all. An unchanged list costs nothing."""

    def __init__(self, min_interval_ms: int = 5_000) -> None:
        self.min_interval_ms = min_interval_ms
        self.sent: frozenset[bytes] | None = None
        self.sent_ms = 0

    @staticmethod
    def listing(links: Iterable[bytes], remote: bytes) -> frozenset[bytes]:
        """What a link is told: my open links except the link's own peer, at most 32."""
        return frozenset(sorted(k for k in links if k != remote)[:MAX_PEERS_LISTED])

    def digest(self) -> bytes:
        return peers_digest(self.sent or ())

    def wait_ms(self, current: frozenset[bytes], now_ms: int) -> int | None:
        """None when nothing is pending, else how long until `due` will send (0: now)."""
        if self.sent is None:
            return 0
        if current == self.sent:
            return None
        if len(current ^ self.sent) < max(1, len(self.sent) // 4):
            return None  # small change: it goes with the next summary
        return max(0, self.sent_ms + self.min_interval_ms - now_ms)

    def due(
        self, current: frozenset[bytes], now_ms: int, *, periodic: bool = False
    ) -> bytes | None:
        """The `peers` frame to send now, if any."""
        wait = self.wait_ms(current, now_ms)
        if not (wait == 0 or (periodic and current != self.sent)):
            return None
        self.sent, self.sent_ms = current, now_ms
        return Peers(tuple(sorted(current))).frame()


@dataclass(frozen=True)
class Deliver:
    """A verified offer or answer for this node."""

    fwd: Fwd


@dataclass(frozen=True)
class Forward:
    """Pass the frame on to `to`, a neighbour of ours (one hop)."""

    to: bytes


@dataclass(frozen=True)
class Refuse:
    reason: str
    penalise: bool


class FwdRouter:
    """Decides what to do with a `fwd` frame received from a neighbour (sans-IO).

    Rate limits: a token bucket per neighbour (`neighbour_rate` per second, burst
    `neighbour_burst`; bounds the signature checks a neighbour can make us do) and one per
    signer (`rate_per_s`, `burst`). A frame for someone else is forwarded only if its
    signer is the neighbour that handed it over (one hop: a forwarded frame is never
    forwarded again), it verifies, it is fresh, it was not seen before and we have a link
    to its recipient. A frame for us must verify, be fresh and new. Bad signatures, stale
    or replayed frames and floods are the neighbour's fault (`Refuse.penalise`); a signer
    over its own rate that the neighbour only forwarded is dropped without blame.
    """

    def __init__(
        self,
        me: bytes,
        network: bytes,
        *,
        rate_per_s: float = 1.0,
        burst: float = 16.0,
        neighbour_rate: float = 5.0,
        neighbour_burst: float = 40.0,
        max_skew_ms: int = FWD_MAX_SKEW_MS,
    ) -> None:
        self.me = me
        self.network = network
        self.max_skew_ms = max_skew_ms
        self.per_neighbour = TokenBucket(neighbour_rate, neighbour_burst, capacity=1024)
        self.per_signer = TokenBucket(rate_per_s, burst, capacity=4096)
        self.seen = Dedup(ttl_ms=2 * max_skew_ms, capacity=10_000)

    def on_fwd(
        self, fwd: Fwd, neighbour: bytes, now_ms: int, linked: Collection[bytes]
    ) -> Deliver | Forward | Refuse:
        if not self.per_neighbour.allow(neighbour, now_ms):
            return Refuse("too many fwd frames", True)
        if fwd.to != self.me and fwd.sender != neighbour:
            return Refuse("fwd for another peer that its signer did not hand over (one hop)", True)
        if fwd.sender == self.me:
            return Refuse("fwd claims to come from us", True)
        try:
            fwd.check(self.network, now_ms, self.max_skew_ms)
        except WireError as exc:
            return Refuse(str(exc), True)
        if not self.seen.first_time(fwd.message_id(self.network), now_ms):
            return Refuse("fwd replayed", True)
        if not self.per_signer.allow(fwd.sender, now_ms):
            return Refuse("too many offers and answers from one signer", fwd.sender == neighbour)
        if fwd.to == self.me:
            return Deliver(fwd)
        if fwd.to not in linked:
            return Refuse(f"no link to the recipient of a fwd ({fwd.kind})", False)
        return Forward(fwd.to)
