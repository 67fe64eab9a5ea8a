"""Ledger anti-entropy on one link: paged, pull-based range reconciliation, sans-IO.

Each side sends a `sum` (a 16-byte root over its 256 bucket digests) on connect and then
periodically. A side whose root differs pulls what it may lack, in rounds:

1. it sends its bucket digests (`bkts`, 4 KiB, from bucket `start` on);
2. the other side answers with the per-author entries of the buckets that differ, in pages
   of ≤ 1,000 (`ents`), ≈ 8,000 entries per round at most (whole buckets), and tells where
   to resume;
3. for each entry it lacks or disagrees with, it sends a `want` (≤ 1,000 authors, one
   outstanding per link): from its contiguous seq + 1 with its prefix digest there (the
   other side sends from seq 1 if its own prefix differs), from 1 when the prefixes
   disagree below the peer's seq, past the peer's gap when only that differs;
4. the other side answers with `reply` frames: the events in seq order, ≤ 2,048 per
   `want`, and in the last frame the want items still to ask for; it asks again for those,
   then for the next `want`, then for the next buckets, until the round is over.

Nothing is pushed unasked: the other direction is the other side's own pull after our
`sum`. `Wants` is shared by every link of a node: an author is pulled from one link at a
time (or another once that one timed out), so a node joining through three links fetches
each event about once.
"""

from __future__ import annotations

from collections import deque

from ..events import Event
from ..ledger_index import SyncIndex
from .frames import (
    BUCKETS,
    MAX_EVENTS_PER_FRAME,
    MAX_PAGE_ENTRIES,
    MAX_WANT_ITEMS,
    Buckets,
    Entries,
    Entry,
    Events,
    Reply,
    Summary,
    Want,
    WantItem,
)
from .sync import LedgerSync

MAX_REPLY_EVENTS = 2048  # events answering one `want`
REPLY_EVENT_BYTES = 130_000  # event bytes in a `reply` frame (+ ≤ 62 KB of `more`)
ROUND_ENTRIES = 8 * MAX_PAGE_ENTRIES  # entries per `bkts` answer (whole buckets)
MAX_TODO = 50_000  # entries held to compare per link (more wait for the next round)
WANT_TIMEOUT_MS = 30_000  # another link may be asked for an author after this
ROUND_STALL_MS = 60_000  # a round without progress this long is given up


class Wants:
    """Which link each author is being pulled from, shared by a node's links: an author is
    wanted from one link at a time, until that link answered or `timeout_ms` passed."""

    def __init__(self, timeout_ms: int = WANT_TIMEOUT_MS) -> None:
        self.timeout_ms = timeout_ms
        self._held: dict[bytes, tuple[bytes, int]] = {}  # author -> (link, until)
        self._by_link: dict[bytes, set[bytes]] = {}

    def claim(self, author: bytes, link: bytes, now_ms: int) -> bool:
        held = self._held.get(author)
        if held is not None and held[0] != link and held[1] > now_ms:
            return False
        if held is not None and held[0] != link:
            self._by_link.get(held[0], set()).discard(author)
        self._held[author] = (link, now_ms + self.timeout_ms)
        self._by_link.setdefault(link, set()).add(author)
        return True

    def release(self, author: bytes, link: bytes) -> None:
        held = self._held.get(author)
        if held is not None and held[0] == link:
            del self._held[author]
            self._by_link.get(link, set()).discard(author)

    def release_link(self, link: bytes) -> None:
        for author in self._by_link.pop(link, set()):
            held = self._held.get(author)
            if held is not None and held[0] == link:
                del self._held[author]

    def holder(self, author: bytes) -> bytes | None:
        held = self._held.get(author)
        return None if held is None else held[0]

    def __len__(self) -> int:
        return len(self._held)


class Recon:
    """Range reconciliation for one link. Methods return the frames to send (as bytes)."""

    def __init__(
        self,
        sync: LedgerSync,
        wants: Wants | None = None,
        link: bytes = b"",
        *,
        watch: bytes | None = None,
    ) -> None:
        self.sync = sync
        # `watch`: an author (our own) whose chain we want to know we hold all the peer
        # holds of (`watch_synced`); what the peer showed of it: an entry, or NOTHING
        self.watch = watch
        self._watched: Entry | None = None
        self._watch_equal = False  # the peer's root, or the watched author's bucket, was ours
        self._watch_listed = False  # a page of the watched author's bucket came this round
        self.index: SyncIndex = sync.ledger.sync_index
        self.wants = wants if wants is not None else Wants()
        self.link = link
        self._round = False  # a pull round is under way
        self._pages_done = True  # the last `bkts` was answered completely
        self._cursor = 0  # the bucket to ask from next (BUCKETS: none left)
        self._todo: deque[tuple[bytes, Entry]] = deque()
        self._deferred: dict[bytes, Entry] = {}  # being pulled through another link
        self._more: list[WantItem] = []  # continuations the last reply listed
        self._asked: set[bytes] | None = None  # authors of the outstanding `want`
        self._progress_ms = 0

    @property
    def busy(self) -> bool:
        """A round is under way (`poll` may have something to send)."""
        return self._round

    # -- the periodic summary -------------------------------------------------------------

    def summary(self, peers: bytes) -> bytes:
        return Summary(self.index.root(), peers).frame()

    def on_summary(self, frame: Summary, now_ms: int) -> list[bytes]:
        """Start pulling if the peer's root differs from ours (and no round is under way)."""
        if frame.root == self.index.root():
            self._watch_equal = True
            return []
        if self._round and now_ms - self._progress_ms < ROUND_STALL_MS:
            return []
        self.close()
        self._round, self._pages_done, self._cursor = True, False, 0
        self._watch_listed = False
        self._progress_ms = now_ms
        return [Buckets(self.index.bucket_digests(), 0).frame()]

    # -- serving a peer's pull ------------------------------------------------------------

    def on_buckets(self, frame: Buckets) -> list[bytes]:
        """The entries of our buckets from `frame.start` on that differ from the peer's,
        whole buckets in pages, about ROUND_ENTRIES at most."""
        mine = self.index.bucket_digests()
        pages: list[tuple[int, list[Entry], bool]] = []
        sent, resume = 0, BUCKETS
        for b in range(frame.start, BUCKETS):
            if frame.digest(b) == mine[b * 16 : (b + 1) * 16]:
                continue
            if sent >= ROUND_ENTRIES:
                resume = b
                break
            entries = self.index.entries(b)
            sent += len(entries)
            for i in range(0, max(len(entries), 1), MAX_PAGE_ENTRIES):
                chunk = entries[i : i + MAX_PAGE_ENTRIES]
                pages.append((b, chunk, i + MAX_PAGE_ENTRIES >= len(entries)))
        if not pages:  # nothing differs (any more): the round is over
            return [Entries(frame.start, (), True, BUCKETS).frame()]
        out = [Entries(b, tuple(chunk), last, -1).frame() for b, chunk, last in pages[:-1]]
        b, chunk, last = pages[-1]
        out.append(Entries(b, tuple(chunk), last, resume).frame())
        return out

    def on_want(self, frame: Want) -> list[bytes]:
        """The events asked for, in seq order per author, MAX_REPLY_EVENTS at most; the last
        frame lists what is left to ask for."""
        budget = MAX_REPLY_EVENTS
        events: list[Event] = []
        more: list[WantItem] = []
        for i, (author, start, digest) in enumerate(frame.items):
            if budget <= 0:
                more.extend(frame.items[i:])
                break
            got, resume = self.index.events_from(author, start, digest, budget)
            events.extend(got)
            budget -= len(got)
            if resume is not None:
                more.append((author, resume, b""))
        frames: list[list[bytes]] = [[]]
        size = 0
        for event in events:
            batch = frames[-1]
            if batch and (
                len(batch) == MAX_EVENTS_PER_FRAME or size + len(event.raw) > REPLY_EVENT_BYTES
            ):
                frames.append([])
                size = 0
            frames[-1].append(event.raw)
            size += len(event.raw)
        out = [Reply(tuple(raw), (), False).frame() for raw in frames[:-1]]
        out.append(Reply(tuple(frames[-1]), tuple(more), True).frame())
        return out

    # -- pulling --------------------------------------------------------------------------

    def on_entries(self, frame: Entries, now_ms: int) -> list[bytes]:
        """A page of the peer's entries: queue those we lack or disagree with."""
        if not self._round or self._pages_done:
            return []  # not asked for: ignored
        self._progress_ms = now_ms
        watch = self.watch
        if watch is not None and frame.bucket == watch[0]:
            self._watch_listed = True
            if frame.last and not any(e[0] == watch for e in frame.entries):
                self._watched = (watch, 0, b"", b"")  # it holds nothing of that chain
        for author, seq, prefix, tail in frame.entries:
            entry = (author, seq, prefix, tail)
            if author == watch:
                self._watched = entry
            if len(self._todo) < MAX_TODO and self._need(author, entry) is not None:
                self._todo.append((author, entry))
        if frame.resume != -1:
            self._pages_done, self._cursor = True, frame.resume
        return self._pump(now_ms)

    def on_reply(self, frame: Reply, now_ms: int) -> tuple[list[Event], list[bytes]]:
        """Add the events of a reply; on its last frame, ask for the rest. Returns the new
        events and the frames to send."""
        new = self.sync.on_events(Events(frame.raw), now_ms) if frame.raw else []
        if not frame.last or self._asked is None:
            return new, []
        asked, self._asked = self._asked, None
        self._progress_ms = now_ms
        self._more = [item for item in frame.more if item[0] in asked]
        for author in asked - {item[0] for item in self._more}:
            self.wants.release(author, self.link)
        return new, self._pump(now_ms)

    def poll(self, now_ms: int) -> list[bytes]:
        """Called now and then: retries authors another link was pulling, gives up a round
        that stalled."""
        if not self._round:
            return []
        if now_ms - self._progress_ms >= ROUND_STALL_MS:
            self.close()
            return []
        return self._pump(now_ms)

    def close(self) -> None:
        """Drop the round and every claim of this link (the link closed, or a new round)."""
        self.wants.release_link(self.link)
        self._round, self._pages_done = False, True
        self._todo.clear()
        self._deferred.clear()
        self._more = []
        self._asked = None

    def _need(self, author: bytes, entry: Entry) -> WantItem | None:
        """What to ask for, given the peer's entry, or None if it holds nothing we lack."""
        _, seq, prefix, tail = entry
        mine = self.index.summary(author)
        if mine is None or (mine.seq == 0 and seq > 0):
            return (author, 1, b"")
        if (mine.seq, mine.prefix, mine.tail) == (seq, prefix, tail):
            return None
        if seq > mine.seq:  # it holds more in a row: from ours on, if our prefixes agree
            return (author, mine.seq + 1, mine.prefix)
        if seq > 0 and self.index.prefix_digest(author, seq) != prefix:
            return (author, 1, b"")  # it holds other events below its seq: all of them
        if tail:  # events past its gap that we may lack
            return (author, seq + 2, b"")
        return None

    def _pump(self, now_ms: int) -> list[bytes]:
        """The next `want`, or the next `bkts`, or the end of the round."""
        if not self._round or self._asked is not None:
            return []
        items: list[WantItem] = []
        for item in self._more:
            if len(items) < MAX_WANT_ITEMS:
                self.wants.claim(item[0], self.link, now_ms)
                items.append(item)
            else:
                self.wants.release(item[0], self.link)
        self._more = []
        for author, entry in list(self._deferred.items()):
            if len(items) >= MAX_WANT_ITEMS:
                break
            want = self._need(author, entry)
            if want is None:
                del self._deferred[author]
            elif self.wants.claim(author, self.link, now_ms):
                del self._deferred[author]
                items.append(want)
        while self._todo and len(items) < MAX_WANT_ITEMS:
            author, entry = self._todo.popleft()
            if author in self._deferred:
                continue
            want = self._need(author, entry)
            if want is None:
                continue
            if self.wants.claim(author, self.link, now_ms):
                items.append(want)
            else:
                self._deferred[author] = entry
        if items:
            items = list({i[0]: i for i in items}.values())  # one item per author
            self._asked = {i[0] for i in items}
            return [Want(tuple(items)).frame()]
        if self._deferred:
            return []  # wait for the other links (poll again later)
        if not self._pages_done:
            return []  # more pages are on their way
        if self._cursor < BUCKETS:
            self._pages_done = False
            return [Buckets(self.index.bucket_digests(), self._cursor).frame()]
        self._round = False
        if not self._watch_listed:  # the watched author's bucket was the same on both sides
            self._watch_equal = True
        return []

    def watch_synced(self) -> bool:
        """Whether we hold all the peer holds of the watched author's chain (as far as its
        latest summary, bucket or entry shows)."""
        if self.watch is None:
            return False
        if self._watch_equal:
            return True
        watched = self._watched
        if watched is None:
            return False
        return watched[1:] == (0, b"", b"") or self._need(self.watch, watched) is None
