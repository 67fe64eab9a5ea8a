"""Property tests of the ledger CRDT over random histories and delivery orders."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.ledger_helpers import GENESIS, NODES, T0, M

from edgenet_app.core import economics as econ
from edgenet_app.core.errors import LedgerError, WireError
from edgenet_app.core.events import (
    Event,
    GenesisGrant,
    Referral,
    ResultCommitment,
    Settlement,
    Slash,
    Stake,
    Transfer,
    Unstake,
    Uptime,
)
from edgenet_app.core.ledger import Ledger
from edgenet_app.core.ledger_state import LedgerState

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAR_FUTURE = T0 + 10**12
H = econ.HOUR_MS
N = 5


@dataclass(frozen=True)
class Op:
    who: int
    what: str
    other: int
    amount: int
    dt: int
    rogue: bool


ops = st.builds(
    Op,
    who=st.integers(0, N - 1),
    what=st.sampled_from(
        [
            "grant",
            "transfer",
            "settle",
            "stake",
            "unstake",
            "uptime",
            "referral",
            "fork",
            "slash_fork",
            "slash_result",
        ]
    ),
    other=st.integers(0, N - 1),
    amount=st.sampled_from([1, M, 50 * M, 100 * M, 400 * M, 2000 * M]),
    dt=st.sampled_from([0, 1, 1000, H // 2, H, 3 * H]),
    rogue=st.booleans(),
)


def build(history: list[Op]) -> tuple[Ledger, list[Event]]:
    """Play `history` into a ledger: honest ops via append (rule-checked), rogue ones
    signed directly at the author's head so that invalid events enter the set too."""
    ledger = Ledger(GENESIS)
    ts = T0
    tasks = 0
    for op in PREFIX + history:
        ts += op.dt
        me, you = NODES[op.who], NODES[op.other]
        body = None
        if op.what == "grant":
            body = GenesisGrant()
        elif op.what == "transfer":
            body = Transfer(you.public_key, op.amount)
        elif op.what == "settle":
            tasks += 1
            body = Settlement(tasks.to_bytes(16, "big"), you.public_key, op.amount, H, "embedding")
        elif op.what == "stake":
            body = Stake(op.amount)
        elif op.what == "unstake":
            body = Unstake(op.amount)
        elif op.what == "uptime":
            body = Uptime(max(T0, ts - 2 * H), ts + 1)
            ts += 1
        elif op.what == "referral":
            body = Referral(you.public_key)
        elif op.what == "slash_result":
            commits = tuple(
                ResultCommitment.create(
                    n, GENESIS.network_id, b"t" * 16, bytes([n is you]) * 32
                ).encode()
                for n in (you, *[x for x in NODES if x is not you and x is not me][:2])
            )
            body = Slash(you.public_key, "wrong_result", commits)
        elif op.what in ("fork", "slash_fork"):
            forks = ledger.equivocations()
            if op.what == "slash_fork" and forks:
                eq = forks[0]
                body = Slash(eq.author, "equivocation", (eq.first.raw, eq.second.raw))
            else:
                head = ledger.head(me.public_key)
                if head is not None and head.seq > 1:
                    prev = ledger.head(me.public_key)
                    base = [
                        e
                        for e in ledger.events()
                        if e.author == me.public_key and e.seq == head.seq
                    ]
                    twin = Event.create(
                        me,
                        GENESIS.network_id,
                        head.seq,
                        base[0].prev,
                        head.ts,
                        Transfer(
                            you.public_key if you is not me else NODES[0].public_key, 1 + op.amount
                        ),
                    )
                    assert prev is not None
                    ledger.add(twin)
                continue
        assert body is not None
        if op.rogue:
            head = ledger.head(me.public_key)
            ev = Event.create(
                me,
                GENESIS.network_id,
                head.seq + 1 if head else 1,
                head.id if head else bytes(32),
                max(ts, head.ts if head else 0),
                body,
            )
            try:
                ledger.add(ev)
            except LedgerError:
                pass
        else:
            try:
                ledger.append(me, body, ts)
            except LedgerError:
                pass
    return ledger, list(ledger.events())


histories = st.lists(ops, min_size=1, max_size=25)
# Most histories start from funded, partly staked nodes so that spending rules are exercised.
PREFIX = [Op(i, "grant", 0, 0, 1, False) for i in range(3)] + [Op(1, "stake", 0, 100 * M, 1, False)]


def replica(events: list[Event]) -> Ledger:
    ledger = Ledger(GENESIS)
    for e in events:
        ledger.add(e)
    return ledger


def union(*ledgers: Ledger) -> Ledger:
    out = Ledger(GENESIS)
    for ledger in ledgers:
        out.merge(ledger)
    return out


def snapshot(ledger: Ledger) -> tuple[object, ...]:
    state = ledger.state
    balances = {n.public_key: ledger.balance(n.public_key, FAR_FUTURE) for n in NODES}
    near = {n.public_key: ledger.balance(n.public_key, T0 + 5 * H) for n in NODES}
    return (
        ledger.event_ids(),
        ledger.state_root(),
        balances,
        near,
        dict(state.minted),
        state.burned,
        state.network_cpu_ms,
        sorted(state.applied),
    )


@PROPS
@given(histories, st.randoms(use_true_random=False))
def test_every_delivery_order_gives_the_same_state(history: list[Op], rnd: random.Random) -> None:
    source, events = build(history)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    other = replica(shuffled)
    assert snapshot(other) == snapshot(source)
    # and the incrementally maintained state equals a from-scratch rebuild
    fresh = replica(events)
    fresh._state = None
    assert snapshot(fresh) == snapshot(source)


@PROPS
@given(histories, st.randoms(use_true_random=False))
def test_merge_is_commutative_associative_idempotent(history: list[Op], rnd: random.Random) -> None:
    _, events = build(history)
    parts = [[e for e in events if rnd.random() < 0.5] for _ in range(3)]
    a, b, c = (replica(p) for p in parts)
    assert snapshot(union(a, b)) == snapshot(union(b, a))
    assert snapshot(union(union(a, b), c)) == snapshot(union(a, union(b, c)))
    assert snapshot(union(a, a)) == snapshot(a)
    held = {e.id for p in parts for e in p}
    assert snapshot(union(a, b, c)) == snapshot(replica([e for e in events if e.id in held]))
    assert snapshot(union(replica(events), a)) == snapshot(replica(events))


@PROPS
@given(histories)
def test_supply_equals_what_the_rules_minted(history: list[Op]) -> None:
    ledger, _ = build(history)
    state = ledger.state
    assert state.total_supply == state.total_minted - state.burned
    for now in (T0, T0 + H, FAR_FUTURE):
        assert sum(ledger.balance(n.public_key, now).total for n in NODES) == state.total_supply
    granted = sum(
        GENESIS.grant_for(n.public_key)
        for n in NODES
        if state.accounts.get(n.public_key) and state.accounts[n.public_key].genesis_claimed
    )
    assert state.minted.get("genesis", 0) == granted
    # the bonus never exceeds 9x the CPU value counted, and the referral 10% of what it follows
    bonus = state.minted.get("task_bonus", 0)
    assert bonus * econ.HOUR_MS <= 9 * M * state.network_cpu_ms  # ≤ 9x the CPU value
    assert state.minted.get("referral", 0) <= state.minted.get("task_bonus", 0) // 10
    assert state.minted.get("task_bonus", 0) < 9_000_000 * M


@PROPS
@given(histories)
def test_no_account_ever_goes_negative(history: list[Op]) -> None:
    ledger, _ = build(history)
    by_id = {e.id: e for e in ledger.events()}
    valid = sorted(
        (by_id[i] for i in ledger.state.applied + list(ledger.state.rejected)),
        key=lambda e: (e.ts, e.author, e.seq),
    )
    state = LedgerState(GENESIS)
    for ev in valid:
        state.apply(ev)
        for acct in state.accounts.values():
            assert acct.available >= 0 and acct.staked >= 0
            assert all(amount > 0 for _, amount in acct.locks)
    assert state.applied == ledger.state.applied


@PROPS
@given(histories, st.data())
def test_tampered_events_never_decode(history: list[Op], data: st.DataObject) -> None:
    _, events = build(history)
    assume(events)
    ev = data.draw(st.sampled_from(events))
    pos = data.draw(st.integers(0, len(ev.raw) - 1))
    flip = data.draw(st.integers(1, 255))
    raw = bytearray(ev.raw)
    raw[pos] ^= flip
    try:
        Event.decode(bytes(raw))
    except WireError:
        return
    raise AssertionError("a tampered event decoded")


@PROPS
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_wire_errors(blob: bytes) -> None:
    try:
        Event.decode(blob)
    except WireError:
        pass
    ledger = Ledger(GENESIS)
    try:
        ledger.add_raw(blob)
    except LedgerError:
        pass
    assert len(ledger) == 0


def test_slashing_burns_and_supply_still_balances() -> None:
    ledger, _ = build(
        [
            Op(1, "grant", 0, 0, 1, False),
            Op(1, "stake", 0, 100 * M, 1, False),
            Op(0, "grant", 0, 0, 1, False),
            Op(1, "transfer", 0, M, 1, False),
            Op(1, "transfer", 0, M, 1, False),
            Op(1, "fork", 2, M, 1, False),
            Op(0, "slash_fork", 0, 0, 1, False),
        ]
    )
    assert ledger.equivocations()
    assert ledger.state.burned == 200 * M  # the prefix's stake and this history's
    assert ledger.balance(NODES[1].public_key, FAR_FUTURE).staked == 0
    assert ledger.state.total_supply == ledger.state.total_minted - ledger.state.burned
