"""Task-protocol wire messages: signed, size-capped records (pure, no I/O).

Every message is a canonical-encoded map with a type field `t` and the fields below.
Each names the network (32 B), the task (16 B), its `sender`'s Ed25519 public key, a
timestamp `ts` (ms) and a 64-byte `sig`: the sender's signature over

    "edgenet-task-v1\\0" ‖ t ‖ "\\0" ‖ encode(fields without sig and t)

so a signature for one message type can never be replayed as another. Building a
message (`create`) signs it; decoding one (`decode`, `parse`) checks the size cap, the
schema and the signature, and raises only `WireError` subclasses. A message object with a
bad signature cannot exist (the check runs on construction).

| type | sender | payload |
|---|---|---|
| `announce` | submitter | kind, size, priority, price per worker (µcr), redundancy, deadline |
| `claim` | worker | the submitter it answers |
| `assign` | submitter | the chosen worker, its deadline, the payload sealed to the worker |
| `result` | worker | the result sealed to the submitter, the worker's `ResultCommitment` |
| `abandon` | worker | gives an assignment back (so the slot is reassigned at once) |
| `cancel` | submitter | the assignment is withdrawn (timeout, task over) |

Payloads and results are codec values sealed with `seal_payload` (X25519 Box derived from
the Ed25519 keys): the relay and other peers see only ciphertext.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from . import codec
from .economics import MAX_CREDITS, PRIORITY_FACTOR
from .errors import SchemaError, SignatureError, WireError
from .events import ResultCommitment
from .identity import Identity, verify
from .schema import Record, spec

TASK_DOMAIN = b"edgenet-task-v1\x00"
MAX_TS = 2**53
MAX_REDUNDANCY = 7
PRIORITIES = tuple(PRIORITY_FACTOR)  # low, normal, high

MAX_ANNOUNCE_BYTES = 2048
MAX_ONLY = 14
MAX_CLAIM_BYTES = 512
MAX_CANCEL_BYTES = 1024
MAX_ABANDON_BYTES = 1024
MAX_ASSIGN_BYTES = codec.MAX_MESSAGE_BYTES
MAX_RESULT_BYTES = codec.MAX_MESSAGE_BYTES
MAX_SEALED_BYTES = codec.MAX_MESSAGE_BYTES - 4096  # room for the envelope
MAX_COMMITMENT_BYTES = 512


def result_hash(value: Any) -> bytes:
    """BLAKE2b-256 of a result's canonical encoding (what a `ResultCommitment` commits to)."""
    return hashlib.blake2b(codec.encode(value), digest_size=32, person=b"edgenet-result").digest()


def seal_payload(identity: Identity, recipient: bytes, value: Any) -> bytes:
    """Encrypt a codec value (JSON types plus bytes) for `recipient`'s public key."""
    return identity.seal_to(recipient, codec.encode(value))


def open_payload(
    identity: Identity, sender: bytes, sealed: bytes, *, max_bytes: int = MAX_SEALED_BYTES
) -> Any:
    """Decrypt and decode what `sender` sealed to `identity` (arrays as lists, the shape of
    JSON payloads, so a task kind sees the same value wherever it came from). Raises only
    `WireError`."""
    try:
        plain = identity.open_from(sender, sealed)
    except (SignatureError, ValueError, TypeError):
        raise SignatureError("sealed payload does not authenticate") from None
    return codec.json_shaped(codec.decode(plain, max_bytes=max_bytes))


class TaskMessage(Record):
    """Common header and signing of every task-protocol message."""

    T: ClassVar[str]
    MAX_BYTES: ClassVar[int]

    network: bytes
    task: bytes
    sender: bytes
    ts: int
    sig: bytes

    @classmethod
    def _signed_bytes(cls, fields: dict[str, Any]) -> bytes:
        unsigned = {k: v for k, v in fields.items() if k != "sig"}
        return TASK_DOMAIN + cls.T.encode("ascii") + b"\x00" + codec.encode(unsigned)

    def validate(self) -> None:
        try:
            verify(self.sender, self._signed_bytes(self.to_wire()), self.sig)
        except (SignatureError, ValueError):
            raise SchemaError("sig", "the sender's signature does not verify") from None

    @classmethod
    def create(cls, identity: Identity, **fields: Any) -> Self:
        """Build and sign a message; `sender` is the identity's public key."""
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # defaults are signed too
            if f.name not in fields and f.default is not dataclasses.MISSING:
                fields[f.name] = f.default
        fields["sender"] = identity.public_key
        fields["sig"] = identity.sign(cls._signed_bytes(fields))
        return cls(**fields)

    def encode(self) -> bytes:
        wire = self.to_wire()
        wire["t"] = self.T
        data = codec.encode(wire)
        if len(data) > self.MAX_BYTES:
            raise WireError(f"{self.T} is {len(data)} bytes; limit {self.MAX_BYTES}")
        return data

    @classmethod
    def decode(cls, data: bytes, *, max_bytes: int | None = None) -> Self:
        msg = parse(data, max_bytes=cls.MAX_BYTES if max_bytes is None else max_bytes)
        if not isinstance(msg, cls):
            raise WireError(f"expected a {cls.T} message, got {msg.T}")
        return msg

    @property
    def msg_id(self) -> bytes:
        """A stable id for deduplication: the hash of the signature."""
        return hashlib.blake2b(self.sig, digest_size=16).digest()


@dataclass(frozen=True)
class TaskAnnounce(TaskMessage):
    T: ClassVar[str] = "announce"
    MAX_BYTES: ClassVar[int] = MAX_ANNOUNCE_BYTES
    network: bytes = spec(length=32)
    task: bytes = spec(length=16)
    sender: bytes = spec(length=32)  # the submitter
    ts: int = spec(min=0, max=MAX_TS)
    kind: str = spec(max_len=32, pattern=r"[a-z_]{1,32}")
    size: int = spec(min=1, max=2**53)
    priority: str = spec(choices=PRIORITIES)
    price: int = spec(min=1, max=MAX_CREDITS)  # µcr paid to each worker whose result counts
    redundancy: int = spec(min=1, max=MAX_REDUNDANCY)
    deadline_ms: int = spec(min=0, max=MAX_TS)
    sig: bytes = spec(length=64)
    # the only workers that may claim (those holding a vector collection); empty = anyone
    only: tuple[bytes, ...] = spec(default=(), max_len=MAX_ONLY)

    def validate(self) -> None:
        if self.deadline_ms <= self.ts:
            raise SchemaError("deadline_ms", "must be after ts")
        if any(len(k) != 32 for k in self.only) or len(set(self.only)) != len(self.only):
            raise SchemaError("only", "must be distinct 32-byte public keys")
        super().validate()

    def open_to(self, worker: bytes) -> bool:
        return not self.only or worker in self.only

    @property
    def budget(self) -> int:
        """The most the submitter can spend: price × redundancy."""
        return self.price * self.redundancy


@dataclass(frozen=True)
class Claim(TaskMessage):
    T: ClassVar[str] = "claim"
    MAX_BYTES: ClassVar[int] = MAX_CLAIM_BYTES
    network: bytes = spec(length=32)
    task: bytes = spec(length=16)
    sender: bytes = spec(length=32)  # the worker
    ts: int = spec(min=0, max=MAX_TS)
    submitter: bytes = spec(length=32)
    sig: bytes = spec(length=64)


@dataclass(frozen=True)
class Assign(TaskMessage):
    T: ClassVar[str] = "assign"
    MAX_BYTES: ClassVar[int] = MAX_ASSIGN_BYTES
    network: bytes = spec(length=32)
    task: bytes = spec(length=16)
    sender: bytes = spec(length=32)  # the submitter
    ts: int = spec(min=0, max=MAX_TS)
    worker: bytes = spec(length=32)
    kind: str = spec(max_len=32, pattern=r"[a-z_]{1,32}")
    deadline_ms: int = spec(min=0, max=MAX_TS)
    payload: bytes = spec(max_len=MAX_SEALED_BYTES)  # sealed to `worker`
    sig: bytes = spec(length=64)

    def validate(self) -> None:
        if self.worker == self.sender:
            raise SchemaError("worker", "a submitter cannot assign to itself")
        super().validate()


@dataclass(frozen=True)
class Result(TaskMessage):
    T: ClassVar[str] = "result"
    MAX_BYTES: ClassVar[int] = MAX_RESULT_BYTES
    network: bytes = spec(length=32)
    task: bytes = spec(length=16)
    sender: bytes = spec(length=32)  # the worker
    ts: int = spec(min=0, max=MAX_TS)
    submitter: bytes = spec(length=32)
    result: bytes = spec(max_len=MAX_SEALED_BYTES)  # sealed to `submitter`
    commitment: bytes = spec(max_len=MAX_COMMITMENT_BYTES)  # encoded ResultCommitment
    cpu_ms: int = spec(min=0, max=10**12)
    sig: bytes = spec(length=64)

    def validate(self) -> None:
        try:
            c = ResultCommitment.decode(self.commitment, max_bytes=MAX_COMMITMENT_BYTES)
        except WireError as exc:
            raise SchemaError("commitment", f"invalid: {exc}") from None
        if (c.network, c.task, c.worker) != (self.network, self.task, self.sender):
            raise SchemaError("commitment", "must be the sender's, for this task and network")
        super().validate()

    def result_commitment(self) -> ResultCommitment:
        return ResultCommitment.decode(self.commitment, max_bytes=MAX_COMMITMENT_BYTES)


@dataclass(frozen=True)
class Abandon(TaskMessage):
    T: ClassVar[str] = "abandon"
    MAX_BYTES: ClassVar[int] = MAX_ABANDON_BYTES
    network: bytes = spec(length=32)
    task: bytes = spec(length=16)
    sender: bytes = spec(length=32)  # the worker
    ts: int = spec(min=0, max=MAX_TS)
    submitter: bytes = spec(length=32)
    reason: str = spec(max_len=200)
    sig: bytes = spec(length=64)


@dataclass(frozen=True)
class Cancel(TaskMessage):
    T: ClassVar[str] = "cancel"
    MAX_BYTES: ClassVar[int] = MAX_CANCEL_BYTES
    network: bytes = spec(length=32)
    task: bytes = spec(length=16)
    sender: bytes = spec(length=32)  # the submitter
    ts: int = spec(min=0, max=MAX_TS)
    worker: bytes = spec(length=32)
    reason: str = spec(max_len=200)
    sig: bytes = spec(length=64)


MESSAGES: dict[str, type[TaskMessage]] = {
    m.T: m for m in (TaskAnnounce, Claim, Assign, Result, Abandon, Cancel)
}


def parse(data: Any, *, max_bytes: int = codec.MAX_MESSAGE_BYTES) -> TaskMessage:
    """Decode and authenticate one task message. Raises only `WireError` subclasses."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("task messages must be bytes")
    value = codec.decode(bytes(data), max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise WireError("a task message must be a map")
    value = dict(value)
    t = value.pop("t", None)
    cls = MESSAGES.get(t) if isinstance(t, str) else None
    if cls is None:
        raise WireError(f"unknown task message type {t!r}")
    if len(data) > cls.MAX_BYTES:
        raise WireError(f"{t} is {len(data)} bytes; limit {cls.MAX_BYTES}")
    return cls.from_wire(value, t)
