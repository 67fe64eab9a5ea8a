"""Reputation: per (observer, subject) last-writer-wins registers with evidence.

Each observer publishes its own signed view of a subject: a score, the counts it rests
on, and evidence (ids of settlements, slashes or failed spot-checks). Only the observer
can write its register, so nobody can overwrite another node's opinion. Merge keeps,
per (observer, subject), the entry with the highest (ts, entry id): commutative,
associative and idempotent. `aggregate` combines the observers' views of a subject.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Self

from . import codec
from .economics import reputation_score
from .errors import SchemaError, SignatureError
from .identity import Identity, verify
from .schema import Record, spec

SIGN_DOMAIN = b"edgenet-reputation-v1\x00"
SCORE_SCALE = 1_000_000


@dataclass(frozen=True)
class ReputationEntry(Record):
    network: bytes = spec(length=32)
    observer: bytes = spec(length=32)
    subject: bytes = spec(length=32)
    ts: int = spec(min=0, max=2**53)
    valid: int = spec(min=0, max=2**40)
    invalid: int = spec(min=0, max=2**40)
    score_ppm: int = spec(min=0, max=SCORE_SCALE)
    evidence: tuple[bytes, ...] = spec(max_len=64)
    sig: bytes = spec(length=64)

    def validate(self) -> None:
        if any(len(e) != 32 for e in self.evidence):
            raise SchemaError("evidence", "every evidence id must be 32 bytes")
        if self.observer == self.subject:
            raise SchemaError("subject", "a node cannot rate itself")
        expected = round(reputation_score(self.valid, self.invalid) * SCORE_SCALE)
        if self.score_ppm != expected:
            raise SchemaError("score_ppm", f"must follow from the counts ({expected})")
        try:
            verify(self.observer, SIGN_DOMAIN + self._unsigned(), self.sig)
        except SignatureError:
            raise SchemaError("sig", "the observer's signature does not verify") from None

    def _unsigned(self) -> bytes:
        wire = self.to_wire()
        del wire["sig"]
        return codec.encode(wire)

    @property
    def id(self) -> bytes:
        return hashlib.blake2b(self.encode(), digest_size=32).digest()

    @property
    def score(self) -> float:
        return self.score_ppm / SCORE_SCALE

    @classmethod
    def create(
        cls,
        observer: Identity,
        network: bytes,
        subject: bytes,
        ts: int,
        valid: int,
        invalid: int,
        evidence: tuple[bytes, ...] = (),
    ) -> Self:
        score = round(reputation_score(valid, invalid) * SCORE_SCALE)
        wire = {
            "network": network,
            "observer": observer.public_key,
            "subject": subject,
            "ts": ts,
            "valid": valid,
            "invalid": invalid,
            "score_ppm": score,
            "evidence": evidence,
        }
        sig = observer.sign(SIGN_DOMAIN + codec.encode(wire))
        return cls(network, observer.public_key, subject, ts, valid, invalid, score, evidence, sig)


class ReputationBook:
    """All registers a node holds for one network."""

    def __init__(self, network: bytes) -> None:
        self.network = network
        self._reg: dict[tuple[bytes, bytes], ReputationEntry] = {}

    def put(self, entry: ReputationEntry) -> bool:
        """Keep `entry` if it wins its register. Returns True if it changed anything."""
        if entry.network != self.network:
            raise SchemaError("network", "reputation entry of another network")
        key = (entry.observer, entry.subject)
        cur = self._reg.get(key)
        if cur is not None and (cur.ts, cur.id) >= (entry.ts, entry.id):
            return False
        self._reg[key] = entry
        return True

    def merge(self, other: ReputationBook | Iterable[ReputationEntry]) -> None:
        entries = other.entries() if isinstance(other, ReputationBook) else other
        for entry in entries:
            self.put(entry)

    def entries(self) -> list[ReputationEntry]:
        return sorted(self._reg.values(), key=lambda e: (e.observer, e.subject))

    def get(self, observer: bytes, subject: bytes) -> ReputationEntry | None:
        return self._reg.get((observer, subject))

    def aggregate(
        self, subject: bytes, trusted: Callable[[bytes], bool] | None = None
    ) -> float | None:
        """Subject's score from the summed counts of the observers `trusted` accepts
        (e.g. staked nodes; anyone can mint observer keys). None if unrated."""
        views = [
            e for (o, s), e in self._reg.items() if s == subject and (trusted is None or trusted(o))
        ]
        if not views:
            return None
        return reputation_score(sum(v.valid for v in views), sum(v.invalid for v in views))
