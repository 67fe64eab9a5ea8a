"""The credit ledger: a grow-only set of signed events with a deterministic state.

Storage is a CRDT: for every (author, seq) the ledger keeps the (at most two)
events with the smallest ids. Merge is set union followed by that cap, which is
commutative, associative and idempotent; two events at one (author, seq) are
equivocation, kept as evidence.

State is a pure function of the held events (and of nothing else):
1. Chains: an author's valid chain is the longest prefix seq 1, 2, … in which each
   seq holds exactly one event, each `prev` is the id of the event before, and
   timestamps never decrease. Forked or broken links end the chain.
2. Order: chain-valid events of all authors, sorted by (ts, author, seq).
3. Rules: `LedgerState` applies them in that order, rejecting any that break a rule
   (overspending, double claims, bad evidence, …) with a reason.
The state root is a Merkle root over the applied event ids and the fork markers, so
replicas holding the same events have the same root and the same balances.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import economics as econ
from .errors import LedgerError, WireError
from .events import ZERO_HASH, Body, Event, Slash
from .genesis import Genesis
from .identity import Identity
from .ledger_index import SyncIndex
from .ledger_state import Balance, LedgerState
from .merkle import merkle_root

MAX_FORKS_KEPT = 2
# events applied on top of a kept base state: one that arrives late but sorts among them
# costs a replay of these, not of the whole history
REORDER_WINDOW = 64
REORDER_MS = 60_000  # ...for an event at most this much older than the latest applied
MAX_AFTER_FORK = 64  # events of a forked chain kept past its last valid one (see `admit`)


@dataclass(frozen=True)
class Refused:
    """A peer's event not stored or passed on, and why. `later`: it may be admitted once
    what it depends on arrives (a gap in its author's chain, the payment that funds it);
    otherwise it never will be, and a link that passes it on again is not even read."""

    reason: str
    later: bool = False


ADDED = "added"
HELD = "held"  # already held: nothing to do
Admission = Refused | str


def _judge(state: LedgerState, event: Event) -> str | None:
    """Why admission refuses `event` against `state`, or None. A slash depends on other
    authors' state (stake, majority), which events they sign later change: only its author
    is checked, and canonical replay judges the rest."""
    return (state.check_author if isinstance(event.body, Slash) else state.check)(event)


def _key(event: Event) -> tuple[int, bytes, int]:
    """The canonical order: timestamp, then author, then seq."""
    return (event.ts, event.author, event.seq)


@dataclass(frozen=True)
class Equivocation:
    """Two different signed events by one author with the same seq."""

    author: bytes
    seq: int
    first: Event
    second: Event


class Ledger:
    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.network = genesis.network_id
        self._events: dict[bytes, dict[int, list[Event]]] = {}
        self._ids: set[bytes] = set()
        self._state: LedgerState | None = None
        self._base: LedgerState | None = None  # the state before `_tail`
        self._tail: list[Event] = []  # applied on `_base`, in canonical order, to make `_state`
        self._stale = False  # `_state` has events applied out of canonical order
        self._heads: dict[bytes, Event] = {}  # author -> last event of its valid chain
        self._broken: dict[bytes, int] = {}  # author -> seq at which its chain is cut
        self._forked: dict[bytes, int] = {}  # author -> lowest seq holding two events
        self.sync_index = SyncIndex(self._events)  # summaries for anti-entropy

    # -- adding and merging -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event: Event, *, now_ms: int | None = None) -> bool:
        """Hold `event`. Returns False if it was already held (or lost the fork cap).

        Raises LedgerError if the event belongs to another network or is stamped more
        than MAX_CLOCK_SKEW_MS ahead of `now_ms`.
        """
        self._check_arrival(event, now_ms)
        if event.id in self._ids:
            return False
        author = event.author
        fork = self._forked.get(author)
        if fork is not None and event.seq > fork + MAX_AFTER_FORK:
            return False  # past what a forked chain keeps
        slot = self._events.setdefault(author, {}).setdefault(event.seq, [])
        slot.append(event)
        slot.sort(key=lambda e: e.id)
        self._ids.add(event.id)
        if len(slot) > MAX_FORKS_KEPT:
            dropped = slot.pop()
            self._ids.discard(dropped.id)
            if dropped is event:
                return False
        if len(slot) > 1 and (fork is None or event.seq < fork):
            self._forked[author] = event.seq
            self._prune_after(author, event.seq + MAX_AFTER_FORK)
        self.sync_index.touch(author, event.seq)
        self._on_new(event, len(slot))
        return True

    def _prune_after(self, author: bytes, last: int) -> None:
        """Drop what a forked chain holds past seq `last`: every replica keeps the same
        events of it, whatever it held before it learned of the fork."""
        chain = self._events[author]
        for seq in [s for s in chain if s > last]:
            for gone in chain.pop(seq):
                self._ids.discard(gone.id)
            self.sync_index.touch(author, seq)

    def admit(self, event: Event, *, now_ms: int) -> Admission:
        """Hold a peer's event only if its author may write it now (DESIGN.md, "Admission"):
        returns ADDED, HELD (already held) or `Refused`. What is refused is never stored
        nor passed on. Raises LedgerError, as `add` does, for another network's event or
        one stamped beyond any honest clock (the sender could have judged those).

        An event is admitted when it extends its author's chain and the rules, checked
        against the current state, apply it: its author holds a credit (or claims its
        genesis grant) and writes within its rate, it spends what it has, and so on. A
        second event at a seq already held is equivocation evidence: kept (at most
        MAX_FORKS_KEPT a seq); past it, only what links to a held event, and at most
        MAX_AFTER_FORK seqs on, so that replicas converge on a bounded set.
        """
        self._check_arrival(event, now_ms)
        if event.id in self._ids:
            return HELD
        state = self._admission_state()
        author = event.author
        head = self._heads.get(author)
        head_seq = head.seq if head else 0
        held = self._events.get(author, {})
        if event.seq <= head_seq or event.seq in held:
            # the author signed two events at one seq: evidence anyone may slash with
            return ADDED if self.add(event) else HELD
        if author in self._broken:
            # its chain ends at the fork: nothing after it counts, but what links to a held
            # event is kept up to MAX_AFTER_FORK seqs on, so replicas that held it before
            # the fork was known and those that did not still converge
            fork = self._forked.get(author, head_seq + 1)
            if event.seq > fork + MAX_AFTER_FORK:
                return Refused("its author's chain is forked: nothing more of it is kept")
            if not any(e.id == event.prev for e in held.get(event.seq - 1, ())):
                return Refused("it does not follow an event held of its forked chain", True)
            return ADDED if self.add(event) else HELD
        if event.seq > head_seq + 1:
            return Refused(f"seq {event.seq} follows seq {head_seq + 1}, not held yet", True)
        if event.prev != (head.id if head else ZERO_HASH):  # the other side of a fork
            return Refused("it does not follow its author's previous event held here", True)
        if event.ts < (head.ts if head else self.genesis.created_ms):
            return Refused("it is stamped before its author's previous event")
        reason = _judge(state, event)
        if reason is not None and self._stale:  # judged on events applied out of order:
            reason = _judge(self.state, event)  # judge it again on the canonical state
        if reason is not None:  # perhaps valid once what it depends on arrives: no verdict
            return Refused(reason, True)
        self.add(event)
        return ADDED

    def _check_arrival(self, event: Event, now_ms: int | None) -> None:
        if event.network != self.network:
            raise LedgerError(
                f"event {event.short()} belongs to network {event.network.hex()[:16]}…, "
                f"not {self.network.hex()[:16]}…"
            )
        if now_ms is not None and event.ts > now_ms + econ.MAX_CLOCK_SKEW_MS:
            raise LedgerError(
                f"event {event.short()} is stamped {(event.ts - now_ms) // 1000} s in the future"
            )

    def add_raw(self, raw: bytes, *, now_ms: int | None = None) -> Event:
        """Decode, authenticate and hold an encoded event (LedgerError on any problem)."""
        try:
            event = Event.decode(raw)
        except WireError as exc:
            raise LedgerError(f"rejected event: {exc}") from None
        self.add(event, now_ms=now_ms)
        return event

    def add_many(self, events: Iterable[Event], *, now_ms: int | None = None) -> int:
        return sum(1 for e in events if self.add(e, now_ms=now_ms))

    def merge(self, other: Ledger, *, now_ms: int | None = None) -> int:
        """Union with another replica of the same network. Returns events gained."""
        if other.network != self.network:
            raise LedgerError("cannot merge ledgers of different networks")
        return self.add_many(other.events(), now_ms=now_ms)

    def held_by(self, author: bytes) -> int:
        """How many events of `author` are held."""
        return sum(len(slot) for slot in self._events.get(author, {}).values())

    def events(self) -> Iterator[Event]:
        for chain in self._events.values():
            for slot in chain.values():
                yield from slot

    def event_ids(self) -> frozenset[bytes]:
        return frozenset(self._ids)

    # -- incremental state maintenance ---------------------------------------------------

    def _on_new(self, event: Event, slot_size: int) -> None:
        """Keep the state current: an event that extends its author's chain is applied on
        top if it sorts last; if it sorts earlier but after the base (among the last
        REORDER_WINDOW to twice that many events, as gossip reorders them), the tail is
        replayed on a copy of the base; one further back is applied provisionally, and the
        state rebuilt when next asked for."""
        state = self._state
        cut = self._broken.get(event.author)
        if state is not None and cut is not None and event.seq > cut:
            return  # past where its chain is cut: nothing of the state changes
        head = self._heads.get(event.author)
        extends = (
            slot_size == 1
            and event.author not in self._broken
            and event.seq == (head.seq + 1 if head else 1)
            and event.prev == (head.id if head else ZERO_HASH)
            and event.ts >= (head.ts if head else self.genesis.created_ms)
            and event.seq + 1 not in self._events[event.author]
        )
        key = _key(event)
        if state is None or not extends:
            self._state = self._base = None
            return
        self._heads[event.author] = event
        if key > state.last_key:
            state.apply(event)
            if self._base is not None:
                self._tail.append(event)
                if len(self._tail) > 2 * REORDER_WINDOW:
                    for old in self._tail[:REORDER_WINDOW]:  # the base catches up
                        self._base.apply(old)
                    del self._tail[:REORDER_WINDOW]
        elif (
            self._base is not None
            and key > self._base.last_key
            and state.last_key[0] - event.ts <= REORDER_MS
        ):
            bisect.insort(self._tail, event, key=_key)
            state = self._base.copy()
            for ev in self._tail:
                state.apply(ev)
            self._state = state
        else:
            # far out of order (a newcomer pulls one author's chain after another): applied
            # in arrival order for admission's sake, and rebuilt in canonical order when the
            # state is next asked for, once, not once per event
            state.apply(event, provisional=True)
            self._stale = True
            self._base, self._tail = None, []

    def _rebuild(self) -> LedgerState:
        heads: dict[bytes, Event] = {}
        broken: dict[bytes, int] = {}
        valid: list[Event] = []
        for author, chain in self._events.items():
            prev_id, prev_ts, seq = ZERO_HASH, self.genesis.created_ms, 1
            while True:
                slot = chain.get(seq)
                if not slot:
                    break
                ev = slot[0]
                if len(slot) > 1 or ev.prev != prev_id or ev.ts < prev_ts:
                    broken[author] = seq
                    break
                valid.append(ev)
                heads[author] = ev
                prev_id, prev_ts, seq = ev.id, ev.ts, seq + 1
        valid.sort(key=_key)
        split = max(0, len(valid) - REORDER_WINDOW)
        base = LedgerState(self.genesis)
        for ev in valid[:split]:
            base.apply(ev)
        state = base.copy()
        tail = valid[split:]
        for ev in tail:
            state.apply(ev)
        self._heads, self._broken, self._state = heads, broken, state
        self._base, self._tail, self._stale = base, tail, False
        return state

    @property
    def state(self) -> LedgerState:
        """The state of the held events in canonical order (rebuilt if it went stale)."""
        if self._state is None or self._stale:
            return self._rebuild()
        return self._state

    def _admission_state(self) -> LedgerState:
        """What admission checks against: the state as kept, even if some events were
        applied in arrival order (a bulk catch-up), else rebuilt."""
        return self._state if self._state is not None else self._rebuild()

    # -- queries --------------------------------------------------------------------------

    def balance(self, node: bytes, now_ms: int) -> Balance:
        return self.state.balance(node, now_ms)

    def network_cpu_hours(self) -> float:
        return self.state.network_cpu_hours

    def multiplier(self) -> float:
        return econ.contribution_multiplier(self.state.network_cpu_hours)

    def equivocations(self) -> list[Equivocation]:
        out = []
        for author, chain in self._events.items():
            for seq, slot in sorted(chain.items()):
                if len(slot) > 1:
                    out.append(Equivocation(author, seq, slot[0], slot[1]))
        return out

    def state_root(self) -> bytes:
        leaves = [b"E" + i for i in self.state.applied]
        leaves += [b"F" + e.author + e.seq.to_bytes(8, "big") for e in self.equivocations()]
        return merkle_root(leaves)

    def rejected(self) -> dict[bytes, str]:
        return dict(self.state.rejected)

    def head(self, author: bytes) -> Event | None:
        self.state  # noqa: B018 - make sure heads are current
        return self._heads.get(author)

    # -- authoring ------------------------------------------------------------------------

    def append(self, identity: Identity, body: Body, ts_ms: int) -> Event:
        """Sign the next event of `identity`'s chain, after checking every rule, and hold it.

        Raises LedgerError (e.g. overspending) without changing anything.
        """
        event = self.prepare(identity, body, ts_ms)
        self.add(event)
        return event

    def prepare(self, identity: Identity, body: Body, ts_ms: int) -> Event:
        """The next event of `identity`'s chain, signed after checking every rule, but not
        held: a caller that persists events writes it first, then `add`s it, so a failed
        write leaves nothing behind and the next attempt signs the same seq again (never a
        second, different event at a seq peers may already have).

        Raises LedgerError (e.g. overspending) without changing anything.
        """
        author = identity.public_key
        state = self.state
        if author in self._broken:
            raise LedgerError("this identity's chain is forked or broken; it cannot append")
        head = self._heads.get(author)
        held = self._events.get(author, {})
        if held and max(held) > (head.seq if head else 0):
            raise LedgerError("later events of this identity are held but not linked; sync first")
        seq = head.seq + 1 if head else 1
        # The new event must sort after everything applied so far, so that the rules are
        # checked against the state it will really be applied to.
        ts = max(ts_ms, head.ts if head else 0, self.genesis.created_ms, state.last_key[0])
        if (ts, author, seq) <= state.last_key:
            ts += 1
        if ts > ts_ms + econ.MAX_CLOCK_SKEW_MS:
            raise LedgerError(
                f"the ledger holds events {(ts - ts_ms) // 1000} s ahead of this clock; "
                "check the system clock"
            )
        event = Event.create(
            identity,
            self.network,
            seq,
            head.id if head else ZERO_HASH,
            ts,
            body,
        )
        reason = state.check(event)
        if reason is not None:
            raise LedgerError(reason)
        return event
