"""Ledger events: signed, hash-chained records of every credit movement.

Wire form (canonical encoding of a map)::

    {"network": 32B, "author": 32B, "seq": int>=1, "prev": 32B, "ts": ms,
     "kind": str, "body": {...kind fields...}, "sig": 64B}

`sig` is the author's Ed25519 signature over ``SIGN_DOMAIN + encode(map without sig)``.
The event id is BLAKE2b-256 of the whole encoding; `prev` is the id of the author's
previous event (32 zero bytes for seq 1). An `Event` object can only exist with a valid
signature: building one checks it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from . import codec
from .economics import MAX_BATCH_ITEMS, MAX_CREDITS
from .errors import SchemaError, SignatureError, WireError
from .identity import Identity, verify
from .schema import Record, spec

SIGN_DOMAIN = b"edgenet-event-v1\x00"
COMMIT_DOMAIN = b"edgenet-result-v1\x00"
ZERO_HASH = bytes(32)
_TRUSTED = object()  # only create() and decode() build events without re-checking them
MAX_EVENT_BYTES = 16 * 1024
MAX_SEQ = 2**40
MAX_TS = 2**53


def _id(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=32, person=b"edgenet-event").digest()


def event_id(raw: bytes) -> bytes:
    """The id an event encoded as `raw` has, without decoding or authenticating it (cheap:
    a held event is recognised by it before any signature is checked)."""
    return _id(bytes(raw))


# --- bodies -------------------------------------------------------------------------


class Body(Record):
    KIND: ClassVar[str]


@dataclass(frozen=True)
class GenesisGrant(Body):
    """The author claims its grant from the genesis document (once)."""

    KIND: ClassVar[str] = "genesis_grant"


@dataclass(frozen=True)
class Transfer(Body):
    KIND: ClassVar[str] = "transfer"
    to: bytes = spec(length=32)
    amount: int = spec(min=1, max=MAX_CREDITS)
    memo: str = spec(max_len=140, default="")


@dataclass(frozen=True)
class Settlement(Body):
    """The author (the task's payer) pays `amount` to `worker` for verified work."""

    KIND: ClassVar[str] = "settlement"
    task: bytes = spec(length=16)
    worker: bytes = spec(length=32)
    amount: int = spec(min=1, max=MAX_CREDITS)
    cpu_ms: int = spec(min=0, max=10**12)
    task_kind: str = spec(max_len=32, pattern=r"[a-z_]{1,32}")


@dataclass(frozen=True)
class Pay(Record):
    """One item of a `Settlements` batch: like a `Settlement`, with short field names (a
    batch of MAX_BATCH_ITEMS fits one event)."""

    t: bytes = spec(length=16)  # task
    w: bytes = spec(length=32)  # worker
    a: int = spec(min=1, max=MAX_CREDITS)  # amount
    c: int = spec(min=0, max=10**12)  # cpu_ms
    k: str = spec(max_len=32, pattern=r"[a-z_]{1,32}")  # task kind

    def as_settlement(self) -> Settlement:
        return Settlement(self.t, self.w, self.a, self.c, self.k)

    @classmethod
    def of(cls, s: Settlement) -> Pay:
        return cls(s.task, s.worker, s.amount, s.cpu_ms, s.task_kind)


@dataclass(frozen=True)
class Settlements(Body):
    """The author pays many workers for verified work in one event (the submitter batches
    what it settles over a short period): each item is applied as a `Settlement` would be,
    and the event is applied whole or not at all."""

    KIND: ClassVar[str] = "settlements"
    items: tuple[Pay, ...] = spec(min_len=1, max_len=MAX_BATCH_ITEMS)

    def validate(self) -> None:
        keys = {(p.t, p.w) for p in self.items}
        if len(keys) != len(self.items):
            raise SchemaError("items", "a (task, worker) pair is paid twice in one batch")

    @functools.cached_property
    def _settlements(self) -> tuple[Settlement, ...]:
        return tuple(p.as_settlement() for p in self.items)

    def settlements(self) -> tuple[Settlement, ...]:
        """The items as `Settlement`s (built once per event: replays apply them often)."""
        return self._settlements


@dataclass(frozen=True)
class Uptime(Body):
    """The author claims the uptime reward for the time window [start_ms, end_ms)."""

    KIND: ClassVar[str] = "uptime"
    start_ms: int = spec(min=0, max=MAX_TS)
    end_ms: int = spec(min=0, max=MAX_TS)

    def validate(self) -> None:
        if self.end_ms <= self.start_ms:
            raise SchemaError("end_ms", "must be after start_ms")


@dataclass(frozen=True)
class Referral(Body):
    """The author names who referred it (once)."""

    KIND: ClassVar[str] = "referral"
    referrer: bytes = spec(length=32)


@dataclass(frozen=True)
class Stake(Body):
    KIND: ClassVar[str] = "stake"
    amount: int = spec(min=1, max=MAX_CREDITS)


@dataclass(frozen=True)
class Unstake(Body):
    KIND: ClassVar[str] = "unstake"
    amount: int = spec(min=1, max=MAX_CREDITS)


@dataclass(frozen=True)
class Slash(Body):
    """Burn part of `offender`'s stake; `proofs` are signed evidence anyone can check.

    reason "equivocation": two encoded events by the offender with the same seq.
    reason "wrong_result": encoded ResultCommitments for one task, the offender's first,
    then at least two from other workers who agree with each other and not with it.
    """

    KIND: ClassVar[str] = "slash"
    offender: bytes = spec(length=32)
    reason: str = spec(choices=("equivocation", "wrong_result"))
    proofs: tuple[bytes, ...] = spec(min_len=2, max_len=16)


def payments(body: Body) -> tuple[Settlement, ...]:
    """The task payments an event body makes: one for a `Settlement`, each item of a
    `Settlements` batch, none for any other kind."""
    if isinstance(body, Settlement):
        return (body,)
    if isinstance(body, Settlements):
        return body.settlements()
    return ()


BODY_TYPES: dict[str, type[Body]] = {
    cls.KIND: cls
    for cls in (
        GenesisGrant,
        Transfer,
        Settlement,
        Settlements,
        Uptime,
        Referral,
        Stake,
        Unstake,
        Slash,
    )
}
KINDS = tuple(BODY_TYPES)


@dataclass(frozen=True)
class _Header(Record):
    network: bytes = spec(length=32)
    author: bytes = spec(length=32)
    seq: int = spec(min=1, max=MAX_SEQ)
    prev: bytes = spec(length=32)
    ts: int = spec(min=0, max=MAX_TS)
    kind: str = spec(choices=KINDS)

    def validate(self) -> None:
        if self.seq == 1 and self.prev != ZERO_HASH:
            raise SchemaError("prev", "must be zero for the first event of a chain")
        if self.seq > 1 and self.prev == ZERO_HASH:
            raise SchemaError("prev", "must name the previous event")


# --- the event ----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    network: bytes
    author: bytes
    seq: int
    prev: bytes
    ts: int
    body: Body
    sig: bytes
    raw: bytes = field(repr=False, compare=False)
    id: bytes = field(repr=False, compare=False)
    _trust: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._trust is not _TRUSTED:  # built directly: prove it is what it claims
            try:
                again = Event.decode(self.raw)
            except WireError as exc:
                raise SignatureError(f"not an authentic event: {exc}") from None
            if again != self or again.id != self.id:
                raise SignatureError("event fields do not match its signed bytes")

    @property
    def kind(self) -> str:
        return self.body.KIND

    @staticmethod
    def _unsigned(h: _Header, body: Body) -> dict[str, Any]:
        out = h.to_wire()
        out["body"] = body.to_wire()
        return out

    @classmethod
    def create(
        cls,
        identity: Identity,
        network: bytes,
        seq: int,
        prev: bytes,
        ts: int,
        body: Body,
    ) -> Self:
        header = _Header(network, identity.public_key, seq, prev, ts, body.KIND)
        unsigned = cls._unsigned(header, body)
        sig = identity.sign(SIGN_DOMAIN + codec.encode(unsigned))
        unsigned["sig"] = sig
        raw = codec.encode(unsigned)
        if len(raw) > MAX_EVENT_BYTES:
            raise WireError(f"event is {len(raw)} bytes; limit {MAX_EVENT_BYTES}")
        return cls(network, identity.public_key, seq, prev, ts, body, sig, raw, _id(raw), _TRUSTED)

    @classmethod
    def decode(cls, raw: bytes) -> Self:
        """Parse and authenticate an encoded event. Raises only WireError subclasses."""
        value = codec.decode(raw, max_bytes=MAX_EVENT_BYTES)
        if not isinstance(value, dict):
            raise SchemaError("event", "expected a map")
        value = dict(value)
        sig = value.pop("sig", None)
        body_wire = value.pop("body", None)
        if not isinstance(sig, bytes) or len(sig) != 64:
            raise SchemaError("event.sig", "must be 64 bytes")
        header = _Header.from_wire(value, "event")
        body = BODY_TYPES[header.kind].from_wire(body_wire, f"event.body({header.kind})")
        raw = bytes(raw)
        # The input is canonical, so the signed bytes are the input without its "sig"
        # entry (which sits just before the final "ts" entry) and with one key fewer.
        tail = 3 + len(codec.encode(header.ts))
        sig_entry = b"\xa3sig\xc4\x40" + sig
        start = len(raw) - tail - len(sig_entry)
        if raw[0] != 0x88 or raw[start : len(raw) - tail] != sig_entry:  # pragma: no cover
            raise SchemaError("event", "unexpected layout")
        verify(header.author, SIGN_DOMAIN + b"\x87" + raw[1:start] + raw[len(raw) - tail :], sig)
        return cls(
            header.network,
            header.author,
            header.seq,
            header.prev,
            header.ts,
            body,
            sig,
            raw,
            _id(raw),
            _TRUSTED,
        )

    def encode(self) -> bytes:
        return self.raw

    def short(self) -> str:
        return f"{self.kind}#{self.seq}@{self.author[:4].hex()}:{self.id[:6].hex()}"


# --- result commitments (evidence for slashing) ----------------------------------------


@dataclass(frozen=True)
class ResultCommitment(Record):
    """A worker's signed statement: "my result for `task` hashes to `result_hash`"."""

    network: bytes = spec(length=32)
    task: bytes = spec(length=16)
    worker: bytes = spec(length=32)
    result_hash: bytes = spec(length=32)
    sig: bytes = spec(length=64)

    def validate(self) -> None:
        try:
            verify(self.worker, COMMIT_DOMAIN + self._signed_part(), self.sig)
        except SignatureError:
            raise SchemaError("sig", "the worker's signature does not verify") from None

    def _signed_part(self) -> bytes:
        return codec.encode(
            {
                "network": self.network,
                "task": self.task,
                "worker": self.worker,
                "result_hash": self.result_hash,
            }
        )

    @classmethod
    def create(cls, identity: Identity, network: bytes, task: bytes, result_hash: bytes) -> Self:
        unsigned = codec.encode(
            {
                "network": network,
                "task": task,
                "worker": identity.public_key,
                "result_hash": result_hash,
            }
        )
        return cls(
            network, task, identity.public_key, result_hash, identity.sign(COMMIT_DOMAIN + unsigned)
        )
