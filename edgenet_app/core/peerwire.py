"""Frames on a peer link, and ledger anti-entropy, sans-IO.

A peer link carries canonical-encoded maps with a type field `t`:

- `vv {entries: [[author, seq, digest], …]}` — what I hold (the ledger's version vector);
- `events {raw: [event bytes, …]}` — ledger events the other side lacks (≤ 256 per frame);
- `gossip {id, origin, ttl, kind, body}` — a deduplicated, TTL-bounded broadcast.

`LedgerSync` turns frames into actions for one link: on connect it sends its version
vector; on a version vector it sends what the peer lacks, in frames of bounded size; on
events it adds them to the ledger (each authenticated and checked; a bad one is counted,
never applied). `Dedup` remembers recently seen gossip ids.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import LedgerError, SchemaError, WireError
from .events import Event
from .frames import TypedFrame, parse_typed
from .ledger import Ledger
from .schema import spec

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


FRAMES: dict[str, type[Frame]] = {f.T: f for f in (VersionVector, Events, Gossip, Direct, Part)}


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
