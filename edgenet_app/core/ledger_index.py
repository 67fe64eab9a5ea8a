"""What a ledger holds, summarised for anti-entropy: per author, per bucket, and one root.

Per author, a **summary** `(seq, prefix, tail)`:

- `seq`: the contiguous seq: every seq 1..seq holds at least one event;
- `prefix`: a 16-byte digest of every event held at seqs 1..seq. Each event's `prev` is the
  id of the one before, so the events at `seq` commit to the whole prefix wherever the chain
  links: the digest hashes the author, `seq`, and the ids held at `seq` and at every
  *irregular* seq below it (a slot holding two events, or one the slot above does not link
  to with a single event), never the whole chain. Two replicas with equal prefix digests
  hold the same events at 1..seq (top down, each slot is either hashed or the only event
  whose id the single event above names);
- `tail`: empty, or a 16-byte digest of the events held past the gap at seq + 1.

Summaries are cached per author and recomputed only when that author gained an event
(`touch`, one call from `Ledger.add`, lazily: O(forks + events past a gap) per changed
author). `prefix_digest(author, upto)` answers "does my prefix up to a peer's seq match
its digest?" at the same cost.

Authors fall into 256 **buckets** by the first byte of their key. A bucket's value is the sum
mod 2^256 of BLAKE2b-256(author ‖ summary) over its authors, updated in O(1) when one
summary changes; its digest is a 16-byte hash of that sum, and the **root** is a 16-byte
hash of the 256 sums. Replicas holding the same events have the same root.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .events import Event

BUCKETS = 256
DIGEST_BYTES = 16
_MOD = 1 << 256


class Summary(NamedTuple):
    seq: int  # contiguous seq
    prefix: bytes  # 16-byte digest of the events at 1..seq
    tail: bytes  # b"" or a 16-byte digest of the events past seq + 1


class _Chain:
    __slots__ = ("beyond", "contiguous", "irregular", "leaf", "summary")

    def __init__(self) -> None:
        self.contiguous = 0
        self.irregular: set[int] = set()
        self.beyond: set[int] = set()  # held seqs past the first gap
        self.leaf = 0
        self.summary = Summary(0, b"", b"")


def _seq8(seq: int) -> bytes:
    return seq.to_bytes(8, "big")


class SyncIndex:
    """Summaries of a ledger's events (`Ledger._events`: author → seq → events)."""

    def __init__(self, events: Mapping[bytes, Mapping[int, list[Event]]]) -> None:
        self._events = events
        self._chains: dict[bytes, _Chain] = {}
        self._dirty: dict[bytes, set[int]] = {}
        self._sums = [0] * BUCKETS
        self._authors: list[set[bytes]] = [set() for _ in range(BUCKETS)]
        self._bucket_digests: list[bytes | None] = [None] * BUCKETS
        self._root: bytes | None = None

    def touch(self, author: bytes, seq: int) -> None:
        """`author`'s slot `seq` changed (an event was added, or swapped by the fork cap)."""
        dirty = self._dirty.get(author)
        if dirty is None:
            self._dirty[author] = {seq}
        else:
            dirty.add(seq)

    # -- queries --------------------------------------------------------------------------

    def root(self) -> bytes:
        self._flush()
        if self._root is None:
            h = hashlib.blake2b(digest_size=DIGEST_BYTES, person=b"edgenet-rroot")
            h.update(b"".join(s.to_bytes(32, "big") for s in self._sums))
            self._root = h.digest()
        return self._root

    def bucket_digests(self) -> bytes:
        """The 256 bucket digests, 16 bytes each, concatenated."""
        self._flush()
        out = []
        for b in range(BUCKETS):
            d = self._bucket_digests[b]
            if d is None:
                d = self._bucket_digests[b] = hashlib.blake2b(
                    bytes([b]) + self._sums[b].to_bytes(32, "big"),
                    digest_size=DIGEST_BYTES,
                    person=b"edgenet-rbucket",
                ).digest()
            out.append(d)
        return b"".join(out)

    def entries(self, bucket: int) -> list[tuple[bytes, int, bytes, bytes]]:
        """(author, seq, prefix, tail) of every author in `bucket`, sorted by author."""
        self._flush()
        chains = self._chains
        out = []
        for a in sorted(self._authors[bucket]):
            s = chains[a].summary
            out.append((a, s.seq, s.prefix, s.tail))
        return out

    def summary(self, author: bytes) -> Summary | None:
        self._flush()
        chain = self._chains.get(author)
        return None if chain is None else chain.summary

    def authors(self) -> int:
        self._flush()
        return len(self._chains)

    def prefix_digest(self, author: bytes, upto: int) -> bytes | None:
        """The prefix digest of `author` at `upto` (≤ its contiguous seq), else None."""
        self._flush()
        state = self._chains.get(author)
        if state is None or upto > state.contiguous:
            return None
        if upto == state.contiguous:
            return state.summary.prefix
        return self._prefix(author, self._events[author], state.irregular, upto)

    def events_from(
        self, author: bytes, start: int, digest: bytes, budget: int
    ) -> tuple[list[Event], int | None]:
        """Events of `author` at seq ≥ `start` in seq order (forks included), at most about
        `budget`; from seq 1 instead if `digest` is given and our prefix at `start` − 1 does
        not match it. Returns the events and the seq to continue from (None: all sent)."""
        self._flush()
        state = self._chains.get(author)
        if state is None:
            return [], None
        chain = self._events[author]
        if digest and start - 1 <= state.contiguous:
            mine = self._prefix(author, chain, state.irregular, start - 1)
            if mine != digest:
                start = 1
        out: list[Event] = []
        seqs = range(start, state.contiguous + 1)  # then the few held past a gap, sorted
        for seq in itertools.chain(seqs, sorted(s for s in state.beyond if s >= start)):
            slot = chain.get(seq)
            if not slot:
                continue
            if out and len(out) + len(slot) > budget:
                return out, seq
            out.extend(slot)
        return out, None

    # -- maintenance ----------------------------------------------------------------------

    def _flush(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        for author, seqs in dirty.items():
            chain = self._events.get(author)
            if not chain:
                continue
            state = self._chains.get(author)
            if state is None:
                state = self._chains[author] = _Chain()
                self._authors[author[0]].add(author)
            c = state.contiguous
            if c and c not in chain:  # events were dropped (a forked chain was pruned)
                c = 0
            while c + 1 in chain:
                c += 1
            if c != state.contiguous:
                state.contiguous = c
            state.beyond = {s for s in state.beyond if s > c and s in chain}
            for s in seqs:
                if s > c and s in chain:
                    state.beyond.add(s)
                for t in (s - 1, s):
                    if t >= 1 and self._irregular(chain, t):
                        state.irregular.add(t)
                    else:
                        state.irregular.discard(t)
            prefix = self._prefix(author, chain, state.irregular, c)
            tail = self._tail(chain, state.beyond)
            state.summary = Summary(c, prefix, tail)
            leaf = int.from_bytes(
                hashlib.blake2b(author + _seq8(c) + prefix + tail, digest_size=32).digest(), "big"
            )
            b = author[0]
            self._sums[b] = (self._sums[b] - state.leaf + leaf) % _MOD
            state.leaf = leaf
            self._bucket_digests[b] = None
            self._root = None

    @staticmethod
    def _irregular(chain: Mapping[int, list[Event]], seq: int) -> bool:
        """Slot `seq` must be hashed itself: it is not one event named by a single event
        above it."""
        slot = chain.get(seq)
        if not slot:
            return False
        if len(slot) != 1:
            return True
        above = chain.get(seq + 1)
        return above is not None and (len(above) != 1 or above[0].prev != slot[0].id)

    @staticmethod
    def _slots(chain: Mapping[int, list[Event]], seqs: Iterator[int] | list[int]) -> bytes:
        parts = []
        for s in seqs:
            slot = chain[s]
            parts.append(_seq8(s) + bytes([len(slot)]) + b"".join(e.id for e in slot))
        return b"".join(parts)

    def _prefix(
        self, author: bytes, chain: Mapping[int, list[Event]], irregular: set[int], upto: int
    ) -> bytes:
        seqs = sorted(s for s in irregular if s < upto)
        if upto:
            seqs.append(upto)
        return hashlib.blake2b(
            author + _seq8(upto) + self._slots(chain, seqs),
            digest_size=DIGEST_BYTES,
            person=b"edgenet-rprefix",
        ).digest()

    def _tail(self, chain: Mapping[int, list[Event]], beyond: set[int]) -> bytes:
        if not beyond:
            return b""
        return hashlib.blake2b(
            self._slots(chain, sorted(beyond)), digest_size=DIGEST_BYTES, person=b"edgenet-rtail"
        ).digest()
