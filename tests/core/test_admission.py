"""Writing costs something (DESIGN.md, "Admission"): a peer's event is stored and passed
on only if its author may write it now; everything else is refused unstored, without
blaming the peer that passed it on (it may hold another state)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.ledger_helpers import GENESIS, NODES, T0, M

from edgenet_app.core import economics as econ
from edgenet_app.core import events as events_module
from edgenet_app.core.errors import LedgerError, SchemaError
from edgenet_app.core.events import (
    ZERO_HASH,
    Event,
    GenesisGrant,
    Pay,
    Referral,
    ResultCommitment,
    Settlement,
    Settlements,
    Slash,
    Stake,
    Transfer,
)
from edgenet_app.core.identity import Identity
from edgenet_app.core.ledger import ADDED, HELD, MAX_AFTER_FORK, Ledger, Refused
from edgenet_app.core.peerwire import Events, LedgerSync

A, B, C, D = NODES[:4]
H = econ.HOUR_MS
NET = GENESIS.network_id
NOW = T0 + 10 * H


def ev(who: Identity, seq: int, prev: bytes, ts: int, body: object) -> Event:
    return Event.create(who, NET, seq, prev, ts, body)  # type: ignore[arg-type]


def funded() -> Ledger:
    ledger = Ledger(GENESIS)
    ledger.append(A, GenesisGrant(), T0 + 1)
    return ledger


def test_free_identities_write_nothing_that_is_stored_or_passed_on() -> None:
    ledger = funded()
    sync = LedgerSync(ledger)
    spam = [
        ev(Identity(i.to_bytes(4, "big") * 8), 1, ZERO_HASH, NOW, body).raw
        for i in range(1, 301)
        for body in (Referral(A.public_key), GenesisGrant(), Transfer(B.public_key, 1))
    ]
    for start in range(0, len(spam), 256):
        assert sync.on_events(Events(tuple(spam[start : start + 256])), NOW) == []
    assert len(ledger) == 1
    assert sync.report.refused == len(spam)
    assert sync.report.rejected == 0  # not the forwarder's fault: it may hold another state
    assert "holds less than 1 credit" in (sync.report.last_refusal or "") or "grants nothing" in (
        sync.report.last_refusal or ""
    )


def test_an_identity_may_write_once_it_holds_a_credit() -> None:
    ledger = funded()
    head = ledger.head(A.public_key)
    assert head is not None
    # half a credit is paid, but does not make D an author...
    half = ev(
        A, 2, head.id, T0 + 2, Settlement(bytes(16), D.public_key, M // 2, 0, "vector_search")
    )
    assert ledger.admit(half, now_ms=NOW) == ADDED
    d1 = ev(D, 1, ZERO_HASH, T0 + 5, Referral(A.public_key))
    refused = ledger.admit(d1, now_ms=NOW)
    assert isinstance(refused, Refused) and "holds less than 1 credit" in refused.reason
    assert d1.id not in ledger
    # ...another half does
    rest = ev(
        A, 3, half.id, T0 + 4, Settlement(bytes([1]) * 16, D.public_key, M // 2, 0, "embedding")
    )
    assert ledger.admit(rest, now_ms=NOW) == ADDED
    assert ledger.admit(d1, now_ms=NOW) == ADDED
    assert ledger.state.accounts[D.public_key].referrer == A.public_key


def test_events_that_break_a_rule_are_never_stored() -> None:
    ledger = funded()
    head = ledger.head(A.public_key)
    assert head is not None
    bad = [  # each overspends: A holds 1,000 credits
        ev(A, 2, head.id, T0 + 2 + i, Transfer(B.public_key, (2000 + i) * M)).raw
        for i in range(200)
    ]
    sync = LedgerSync(ledger)
    assert sync.on_events(Events(tuple(bad)), NOW) == []
    assert sync.on_events(Events(tuple(bad)), NOW) == []  # passed on again: refused again
    assert len(ledger) == 1 and sync.report.refused == 400 and sync.report.rejected == 0


def test_an_event_its_author_could_never_write_is_skipped_unread_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = funded()
    head = ledger.head(A.public_key)
    assert head is not None
    # stamped before its author's previous event: no later arrival can make it valid
    bad = ev(A, 2, head.id, head.ts - 1, Transfer(B.public_key, M)).raw
    sync = LedgerSync(ledger)
    assert sync.on_events(Events((bad,)), NOW) == []
    checked: list[bytes] = []
    real = events_module.verify

    def counting(key: bytes, msg: bytes, sig: bytes) -> None:
        checked.append(sig)
        real(key, msg, sig)

    monkeypatch.setattr(events_module, "verify", counting)
    sync.on_events(Events((bad,) * 3), NOW)
    assert checked == [] and len(ledger) == 1


def test_a_gap_is_refused_for_now_and_admitted_once_filled() -> None:
    ledger = funded()
    head = ledger.head(A.public_key)
    assert head is not None
    e2 = ev(A, 2, head.id, T0 + 2, Transfer(B.public_key, M))
    e3 = ev(A, 3, e2.id, T0 + 3, Transfer(B.public_key, M))
    sync = LedgerSync(ledger)
    assert sync.on_events(Events((e3.raw,)), NOW) == []
    outcome = ledger.admit(e3, now_ms=NOW)
    assert isinstance(outcome, Refused) and outcome.later
    assert sync.on_events(Events((e2.raw, e3.raw)), NOW) == [e2, e3]  # not remembered as bad


def test_an_author_writes_within_its_rate() -> None:
    ledger = funded()
    ts = T0 + 2
    for _ in range(econ.AUTHOR_EVENTS_PER_HOUR - 1):  # the grant took one token
        ledger.append(A, Transfer(B.public_key, 1), ts)
    with pytest.raises(LedgerError, match="events an hour"):
        ledger.append(A, Transfer(B.public_key, 1), ts)
    head = ledger.head(A.public_key)
    assert head is not None
    burst = ev(A, head.seq + 1, head.id, head.ts, Transfer(B.public_key, 1))
    outcome = ledger.admit(burst, now_ms=NOW)
    assert isinstance(outcome, Refused) and "events an hour" in outcome.reason
    # the bucket refills: one event every 10 s at 360 an hour
    ledger.append(A, Transfer(B.public_key, 1), head.ts + H // econ.AUTHOR_EVENTS_PER_HOUR)


def test_a_second_event_at_a_held_seq_is_kept_as_evidence_and_ends_the_chain() -> None:
    ledger = funded()
    head = ledger.head(A.public_key)
    assert head is not None
    e2 = ledger.append(A, Transfer(B.public_key, M), T0 + 2)
    twin = ev(A, 2, head.id, T0 + 2, Transfer(C.public_key, M))
    assert ledger.admit(twin, now_ms=NOW) == ADDED
    assert ledger.admit(twin, now_ms=NOW) == HELD
    assert [q.seq for q in ledger.equivocations()] == [2]
    # past the fork: what links to a held event is kept (replicas converge), nothing counts
    prev, kept = e2, []
    for seq in range(3, 3 + MAX_AFTER_FORK + 2):
        nxt = ev(A, seq, prev.id, T0 + seq, Transfer(B.public_key, M))
        kept.append(ledger.admit(nxt, now_ms=NOW))
        prev = nxt
    assert kept[: MAX_AFTER_FORK - 1] == [ADDED] * (MAX_AFTER_FORK - 1)
    assert all(isinstance(k, Refused) and not k.later for k in kept[MAX_AFTER_FORK:])
    assert ledger.balance(B.public_key, NOW).total == 0  # the forked chain pays nobody


def test_far_future_and_foreign_events_are_still_the_senders_fault() -> None:
    ledger = funded()
    sync = LedgerSync(ledger)
    far = ev(B, 1, ZERO_HASH, NOW + 2 * H, GenesisGrant())
    sync.on_events(Events((far.raw,)), NOW)
    assert sync.report.rejected == 1


# -- batched settlements ------------------------------------------------------------------


def _pay(i: int, worker: Identity, amount: int = M, cpu: int = 1000) -> Pay:
    return Pay(i.to_bytes(16, "big"), worker.public_key, amount, cpu, "embedding")


def test_a_batch_pays_every_worker_in_one_event() -> None:
    ledger = funded()
    items = tuple(_pay(i, w) for i in range(40) for w in (B, C, D))
    batch = ledger.append(A, Settlements(items), T0 + 2)
    assert len(batch.raw) <= events_module.MAX_EVENT_BYTES
    for w in (B, C, D):
        assert ledger.state.accounts[w.public_key].valid_results == 40
    assert ledger.balance(A.public_key, T0 + 2).available == 1000 * M - 120 * M


def test_a_batch_is_applied_whole_or_not_at_all() -> None:
    ledger = funded()
    ledger.append(A, Settlements((_pay(1, B),)), T0 + 2)
    with pytest.raises(LedgerError, match="already settled"):
        ledger.append(A, Settlements((_pay(2, C), _pay(1, B))), T0 + 3)
    with pytest.raises(LedgerError, match="exceeds the available balance"):
        ledger.append(A, Settlements((_pay(3, C, 600 * M), _pay(4, D, 600 * M))), T0 + 3)
    assert C.public_key not in ledger.state.accounts
    with pytest.raises(SchemaError, match="paid twice"):
        Settlements((_pay(5, C), _pay(5, C)))
    with pytest.raises(SchemaError):
        Settlements(tuple(_pay(i, B) for i in range(econ.MAX_BATCH_ITEMS + 1)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 25), st.integers(0, 3 * H)),
        min_size=1,
        max_size=20,
    )
)
def test_a_batch_moves_and_mints_exactly_what_its_items_would_one_by_one(
    items: list[tuple[int, int, int]],
) -> None:
    pays = tuple(
        Pay(i.to_bytes(16, "big"), (B, C, D)[w].public_key, amount * M, cpu, "embedding")
        for i, (w, amount, cpu) in enumerate(items)
    )
    batched, single = funded(), funded()
    for ledger in (batched, single):  # B is staked: its payments earn the bonus
        ledger.append(A, Transfer(B.public_key, 200 * M), T0 + 2)
        ledger.append(B, Stake(100 * M), T0 + 2 + H)
    ts = T0 + 3 * H
    batched.append(A, Settlements(pays), ts)
    for n, p in enumerate(pays):
        single.append(A, p.as_settlement(), ts + n * 10_000)
    for who in (A, B, C, D):
        later = ts + 5 * H
        assert batched.balance(who.public_key, later) == single.balance(who.public_key, later)
    assert batched.state.minted == single.state.minted
    assert batched.state.total_supply == batched.state.total_minted - batched.state.burned


# -- convergence under admission ------------------------------------------------------------


def _history() -> list[Event]:
    """A history in which payments fund later spends of other authors: A pays D, D pays
    C, C pays B, B pays A, twice round (each spend needs the payment before it)."""
    ledger = Ledger(GENESIS)
    out = [ledger.append(A, GenesisGrant(), T0 + 1)]
    ts = T0 + 2
    for _ in range(2):
        for src, dst in ((A, D), (D, C), (C, B), (B, A)):
            out.append(ledger.append(src, Transfer(dst.public_key, 5 * M), ts))
            ts += econ.PAYOUT_LOCK_MS + 1  # the payment unlocks before it is spent on
    return out


HISTORY = _history()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=len(HISTORY), max_size=len(HISTORY)))
def test_replicas_that_admit_converge_whatever_order_events_come_in(
    where: list[int],
) -> None:
    """Replicas start from any prefix of each author's chain (what admission can leave);
    anti-entropy, which pulls authors in key order, not in causal order, still brings both
    to the whole history: what is refused for now is pulled again once it can be."""
    from support.recon_helpers import converge

    x, y = Ledger(GENESIS), Ledger(GENESIS)
    cut = {who.public_key: n for who, n in zip((A, B, C, D), where, strict=False)}
    for e in HISTORY:
        side = x if e.seq <= cut[e.author] else y
        side.add(e)
    later = HISTORY[-1].ts + econ.PAYOUT_LOCK_MS
    converge(x, y, later)
    assert x.event_ids() == y.event_ids() == frozenset(e.id for e in HISTORY)
    assert x.state_root() == y.state_root() and x.rejected() == {}


def _interleaved_history() -> list[Event]:
    """Three funded authors paying each other, events a few ms apart."""
    ledger = Ledger(GENESIS)
    out = [ledger.append(w, GenesisGrant(), T0 + 1 + i) for i, w in enumerate((A, B, C))]
    ts = T0 + 10
    for i in range(60):
        src, dst = ((A, B), (B, C), (C, A))[i % 3]
        out.append(ledger.append(src, Transfer(dst.public_key, (i + 1) * M), ts))
        ts += 7
    return out


INTERLEAVED = _interleaved_history()


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(2, 40))
def test_a_state_kept_up_through_late_arrivals_is_the_state_rebuilt_from_scratch(
    rnd: random.Random, window: int
) -> None:
    """Events arrive out of canonical order (each author's own in seq order, as admission
    needs); the state kept up incrementally, replaying a short tail on a base when one
    sorts earlier, equals the state computed from scratch."""
    import edgenet_app.core.ledger as ledger_module

    chains: dict[bytes, list[Event]] = {}
    for e in INTERLEAVED:
        chains.setdefault(e.author, []).append(e)
    order: list[Event] = []
    while chains:
        author = rnd.choice(sorted(chains))
        order.append(chains[author].pop(0))
        if not chains[author]:
            del chains[author]
    saved = ledger_module.REORDER_WINDOW
    ledger_module.REORDER_WINDOW = window
    try:
        kept = Ledger(GENESIS)
        for e in order:
            kept.add(e)
            kept.state  # noqa: B018 - keep it current after every event
    finally:
        ledger_module.REORDER_WINDOW = saved
    fresh = Ledger(GENESIS)
    fresh.add_many(INTERLEAVED)
    assert kept.state_root() == fresh.state_root()
    assert kept.rejected() == fresh.rejected()
    for who in (A, B, C):
        assert kept.balance(who.public_key, NOW) == fresh.balance(who.public_key, NOW)


def test_replicas_keep_the_same_events_of_a_chain_forked_under_a_long_one() -> None:
    """One replica held 101 events of a chain before learning of a fork at seq 2; a
    newcomer learns of the fork first. Both keep the same events: the fork and what links
    to it up to MAX_AFTER_FORK seqs on."""
    from support.recon_helpers import converge

    old = funded()
    head = old.head(A.public_key)
    assert head is not None
    chain = [head]
    for i in range(100):
        chain.append(old.append(A, Transfer(B.public_key, 1), T0 + 10 + i * 11_000))
    twin = ev(A, 2, head.id, T0 + 5, Transfer(C.public_key, M))
    assert old.admit(twin, now_ms=NOW + 2 * H) == ADDED
    assert len(old) == 3 + MAX_AFTER_FORK  # seq 1, both at seq 2, then seqs 3..2+64
    newcomer = Ledger(GENESIS)
    newcomer.add(chain[0])
    newcomer.add(twin)
    converge(old, newcomer, NOW + 2 * H)
    assert old.event_ids() == newcomer.event_ids()
    assert old.state_root() == newcomer.state_root()


def test_a_third_event_at_a_forked_seq_is_counted_against_the_link() -> None:
    ledger = funded()
    head = ledger.head(A.public_key)
    assert head is not None
    twins = [ev(A, 2, head.id, T0 + 2, Transfer(B.public_key, (i + 1) * M)) for i in range(5)]
    sync = LedgerSync(ledger)
    sync.on_events(Events(tuple(t.raw for t in twins)), NOW)
    # kept: the two smallest ids (one that arrives smaller replaces one); the others refused
    assert sync.report.added + sync.report.refused == 5 and sync.report.refused >= 2
    assert len([e for e in ledger.events() if e.seq == 2]) == 2


def test_a_slash_is_admitted_on_its_authors_rules_and_judged_by_replay() -> None:
    """Whether a slash applies depends on other authors (the majority's stake), which
    events they sign later change: admission checks its author only, so every replica
    holds it, and canonical replay rejects it (or not) the same way everywhere."""
    ledger = funded()
    head = ledger.head(A.public_key)
    assert head is not None
    commits = tuple(
        ResultCommitment.create(w, NET, bytes(16), bytes([n]) * 32).encode()
        for w, n in ((B, 1), (C, 2), (D, 2))
    )
    slash = ev(A, 2, head.id, T0 + 2, Slash(B.public_key, "wrong_result", commits))
    assert ledger.admit(slash, now_ms=NOW) == ADDED  # the majority is not staked: no effect
    assert "staked" in ledger.rejected()[slash.id]
    fresh = Ledger(GENESIS)
    fresh.add_many(ledger.events())
    assert fresh.state_root() == ledger.state_root()
