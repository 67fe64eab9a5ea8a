"""What the mesh learns about peers, and how floods are pruned and deduplicated.

`PeerBook` holds what peer exchange taught (who can forward to whom), `PeerAdvert` decides
when a link gets a new `peers` frame, `flood_targets` where a flooded frame is passed on,
and `Dedup` remembers recently seen gossip ids.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

from .frames import DIGEST_BYTES, MAX_PEERS_LISTED, Peers


def peers_digest(keys: Iterable[bytes]) -> bytes:
    """The digest of a set of public keys (order does not matter)."""
    return hashlib.blake2b(
        b"".join(sorted(set(keys))), digest_size=DIGEST_BYTES, person=b"edgenet-peers"
    ).digest()


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


class Penalties:
    """Misbehaviour scores of linked peers, decaying: each bad frame adds a point and a
    score loses a point every `decay_ms`, so an honest peer that once passed on something
    bad (or a burst of them long ago) is never cut off for it later. At `limit` points the
    link is closed. Scores of at most `max_peers` peers are kept (the stalest go first)."""

    def __init__(self, *, limit: int = 10, decay_ms: int = 60_000, max_peers: int = 4096):
        self.limit, self.decay_ms, self.max_peers = limit, decay_ms, max_peers
        self._scores: dict[bytes, tuple[int, int]] = {}  # peer -> (points, counted since)

    def score(self, peer: bytes, now_ms: int) -> int:
        points, since = self._scores.get(peer, (0, now_ms))
        return max(0, points - max(0, now_ms - since) // self.decay_ms)

    def add(self, peer: bytes, now_ms: int) -> int:
        """One more bad frame from `peer`; returns its score now."""
        points, since = self._scores.pop(peer, (0, now_ms))
        gone = max(0, now_ms - since) // self.decay_ms
        points = max(0, points - gone) + 1
        since = now_ms if points == 1 else since + gone * self.decay_ms
        self._scores[peer] = (points, since)  # re-inserted: the most recent last
        while len(self._scores) > self.max_peers:
            self._scores.pop(next(iter(self._scores)))
        return points

    def scores(self, now_ms: int) -> dict[bytes, int]:
        """Every scored peer's score now."""
        return {p: s for p in self._scores if (s := self.score(p, now_ms))}

    def over_limit(self, peer: bytes, now_ms: int) -> bool:
        return self.score(peer, now_ms) >= self.limit
