"""The ledger's rules, one by one, on hand-built histories."""

from __future__ import annotations

import pytest
from support.ledger_helpers import GENESIS, GRANT, NODES, OTHER_GENESIS, T0, M

from edgenet_app.core import economics as econ
from edgenet_app.core.errors import LedgerError, SignatureError, WireError
from edgenet_app.core.events import (
    ZERO_HASH,
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

A, B, C, D = NODES[:4]
H = econ.HOUR_MS
TASK = bytes(range(16))


def funded() -> Ledger:
    ledger = Ledger(GENESIS)
    for n in (A, B, C):
        ledger.append(n, GenesisGrant(), T0 + 1)
    return ledger


def test_genesis_grant_once_and_only_to_granted_nodes() -> None:
    ledger = funded()
    assert ledger.balance(A.public_key, T0 + 2).available == GRANT
    with pytest.raises(LedgerError, match="already claimed"):
        ledger.append(A, GenesisGrant(), T0 + 5)
    with pytest.raises(LedgerError, match="grants nothing"):
        ledger.append(D, GenesisGrant(), T0 + 5)
    assert ledger.state.minted == {"genesis": 3 * GRANT}


def test_transfer_is_locked_for_an_hour_then_available() -> None:
    ledger = funded()
    ev = ledger.append(A, Transfer(D.public_key, 10 * M, "thanks"), T0 + 10)
    assert ledger.balance(A.public_key, ev.ts).available == GRANT - 10 * M
    assert ledger.balance(D.public_key, ev.ts + H - 1) == econ_balance(0, 10 * M, 0)
    assert ledger.balance(D.public_key, ev.ts + H) == econ_balance(10 * M, 0, 0)
    # D cannot spend locked credits
    with pytest.raises(LedgerError, match="exceeds the available balance of 0"):
        ledger.append(D, Transfer(A.public_key, 1), ev.ts + 10)
    ledger.append(D, Transfer(A.public_key, 10 * M), ev.ts + H)


def econ_balance(available: int, locked: int, staked: int):  # type: ignore[no-untyped-def]
    from edgenet_app.core.ledger_state import Balance

    return Balance(available, locked, staked)


def test_overspending_is_rejected_and_changes_nothing() -> None:
    ledger = funded()
    root = ledger.state_root()
    with pytest.raises(LedgerError, match="exceeds the available balance"):
        ledger.append(A, Transfer(B.public_key, GRANT + 1), T0 + 10)
    assert ledger.state_root() == root
    assert len(ledger) == 3


def test_forced_overspend_event_is_rejected_by_every_replica() -> None:
    """An author that signs an overspend anyway gets it rejected, not applied."""
    ledger = funded()
    head = ledger.head(A.public_key)
    assert head is not None
    bad = Event.create(
        A, GENESIS.network_id, head.seq + 1, head.id, T0 + 20, Transfer(B.public_key, GRANT * 5)
    )
    ledger.add(bad)
    assert "exceeds the available balance" in ledger.rejected()[bad.id]
    assert ledger.balance(A.public_key, T0 + 30).available == GRANT
    assert ledger.state.total_supply == 3 * GRANT


def test_stake_unstake_and_unbonding_lock() -> None:
    ledger = funded()
    ledger.append(A, Stake(100 * M), T0 + 10)
    assert ledger.balance(A.public_key, T0 + 11) == econ_balance(GRANT - 100 * M, 0, 100 * M)
    with pytest.raises(LedgerError, match="exceeds the stake"):
        ledger.append(A, Unstake(101 * M), T0 + 12)
    ev = ledger.append(A, Unstake(40 * M), T0 + 12)
    assert ledger.balance(A.public_key, ev.ts) == econ_balance(GRANT - 100 * M, 40 * M, 60 * M)
    assert ledger.balance(A.public_key, ev.ts + H).available == GRANT - 60 * M


def test_settlement_pays_worker_with_minted_bonus_and_referral() -> None:
    ledger = funded()
    ledger.append(B, Stake(econ.STAKE_REQUIRED), T0 + 5)
    ledger.append(B, Referral(C.public_key), T0 + 6)
    price = 2 * M
    cpu_ms = H  # one CPU-hour, backed by a price of ≥ 1 credit
    ev = ledger.append(A, Settlement(TASK, B.public_key, price, cpu_ms, "embedding"), T0 + H)
    bonus = econ.bonus_micro(0, cpu_ms)
    # multiplier 10× at genesis: ~9 credits minted on 1 credit of CPU (the exact integral)
    assert 9 * M - 10 <= bonus < 9 * M
    assert ledger.balance(B.public_key, ev.ts).locked == price + bonus
    assert ledger.balance(C.public_key, ev.ts).locked == bonus // 10
    assert ledger.state.minted["task_bonus"] == bonus
    assert ledger.state.minted["referral"] == bonus // 10
    assert ledger.network_cpu_hours() == 1.0
    assert ledger.state.total_supply == ledger.state.total_minted - ledger.state.burned
    with pytest.raises(LedgerError, match="already settled"):
        ledger.append(A, Settlement(TASK, B.public_key, price, cpu_ms, "embedding"), T0 + 2 * H)


def test_no_bonus_without_stake_and_cpu_capped_by_price() -> None:
    ledger = funded()
    ev = ledger.append(A, Settlement(TASK, B.public_key, M, 50 * H, "embedding"), T0 + H)
    assert ledger.balance(B.public_key, ev.ts).locked == M  # unstaked worker: no bonus
    assert ledger.network_cpu_hours() == 1.0  # 50 h claimed, 1 credit backs only 1 h


def test_cpu_per_worker_is_capped_by_cores_times_network_age() -> None:
    ledger = funded()
    ts = T0 + 1000  # the network is one second old
    ledger.append(A, Settlement(TASK, B.public_key, 100 * M, 10 * H, "embedding"), ts)
    assert ledger.state.network_cpu_ms <= econ.MAX_WORKER_CORES * 1000


def test_uptime_needs_stake_and_cannot_overlap() -> None:
    ledger = funded()
    with pytest.raises(LedgerError, match="active stake"):
        ledger.append(A, Uptime(T0 + 1, T0 + H), T0 + H)
    ledger.append(A, Stake(econ.STAKE_REQUIRED), T0 + 10)
    with pytest.raises(LedgerError, match="precedes the stake"):
        ledger.append(A, Uptime(T0 + 1, T0 + H), T0 + H)
    ev = ledger.append(A, Uptime(T0 + 10, T0 + 10 + 2 * H), T0 + 3 * H)
    assert ledger.balance(A.public_key, ev.ts).locked == 2 * econ.UPTIME_CREDITS_PER_HOUR_MICRO
    with pytest.raises(LedgerError, match="overlaps"):
        ledger.append(A, Uptime(T0 + H, T0 + 3 * H), T0 + 3 * H + 1)
    with pytest.raises(LedgerError, match="ends after"):
        ledger.append(A, Uptime(T0 + 3 * H, T0 + 5 * H), T0 + 4 * H)


def test_equivocation_detected_kept_and_slashable() -> None:
    ledger = funded()
    ledger.append(B, Stake(econ.STAKE_REQUIRED), T0 + 5)
    head = ledger.head(B.public_key)
    assert head is not None
    x = Event.create(
        B, GENESIS.network_id, head.seq + 1, head.id, T0 + 9, Transfer(A.public_key, M)
    )
    y = Event.create(
        B, GENESIS.network_id, head.seq + 1, head.id, T0 + 9, Transfer(C.public_key, M)
    )
    ledger.add(x)
    ledger.add(y)
    [eq] = ledger.equivocations()
    assert (eq.author, eq.seq) == (B.public_key, head.seq + 1)
    assert x.id not in ledger.state.applied and y.id not in ledger.state.applied
    with pytest.raises(LedgerError, match="forked"):
        ledger.append(B, Transfer(A.public_key, 1), T0 + 20)
    ledger.append(C, Slash(B.public_key, "equivocation", (eq.first.raw, eq.second.raw)), T0 + 30)
    assert ledger.balance(B.public_key, T0 + 31).staked == 0
    assert ledger.state.burned == econ.STAKE_REQUIRED
    with pytest.raises(LedgerError, match="already slashed"):
        ledger.append(
            A, Slash(B.public_key, "equivocation", (eq.second.raw, eq.first.raw)), T0 + 40
        )


def test_slash_with_bad_evidence_is_rejected() -> None:
    ledger = funded()
    ledger.append(B, Stake(econ.STAKE_REQUIRED), T0 + 5)
    one = ledger.head(A.public_key)
    assert one is not None
    with pytest.raises(LedgerError, match="not signed by the offender"):
        ledger.append(C, Slash(B.public_key, "equivocation", (one.raw, one.raw)), T0 + 30)
    with pytest.raises(LedgerError, match="invalid"):
        ledger.append(C, Slash(B.public_key, "equivocation", (b"junk", b"junk")), T0 + 30)


def test_wrong_result_slash_needs_an_agreeing_majority() -> None:
    ledger = funded()
    ledger.append(B, Stake(econ.STAKE_REQUIRED), T0 + 5)
    ledger.append(A, Transfer(D.public_key, 200 * M), T0 + 5)
    ledger.append(C, Stake(econ.STAKE_REQUIRED), T0 + 6)
    net = GENESIS.network_id
    bad = ResultCommitment.create(B, net, TASK, b"\x01" * 32).encode()
    good_c = ResultCommitment.create(C, net, TASK, b"\x02" * 32).encode()
    good_d = ResultCommitment.create(D, net, TASK, b"\x02" * 32).encode()
    odd_d = ResultCommitment.create(D, net, TASK, b"\x03" * 32).encode()
    with pytest.raises(LedgerError, match="agree"):
        ledger.append(A, Slash(B.public_key, "wrong_result", (bad, good_c, odd_d)), T0 + 10)
    with pytest.raises(LedgerError, match="distinct"):
        ledger.append(A, Slash(B.public_key, "wrong_result", (bad, good_c, good_c)), T0 + 10)
    with pytest.raises(LedgerError, match="majority must be staked"):
        ledger.append(A, Slash(B.public_key, "wrong_result", (bad, good_c, good_d)), T0 + 10)
    ts = T0 + 2 * H  # D's transfer is unlocked: D stakes, and the majority counts
    ledger.append(D, Stake(econ.STAKE_REQUIRED), ts)
    with pytest.raises(LedgerError, match="cannot author"):
        ledger.append(C, Slash(B.public_key, "wrong_result", (bad, good_c, good_d)), ts + 1)
    ledger.append(A, Slash(B.public_key, "wrong_result", (bad, good_c, good_d)), ts + 1)
    assert (
        ledger.balance(B.public_key, ts + 2).staked == econ.STAKE_REQUIRED - econ.SLASH_WRONG_RESULT
    )


def test_events_of_another_network_are_refused() -> None:
    other = Ledger(OTHER_GENESIS)
    ev = other.append(A, GenesisGrant(), T0 + 1)
    ledger = Ledger(GENESIS)
    with pytest.raises(LedgerError, match="belongs to network"):
        ledger.add(ev)
    with pytest.raises(LedgerError, match="different networks"):
        ledger.merge(other)


def test_future_events_refused_at_ingest() -> None:
    ledger = Ledger(GENESIS)
    ev = Event.create(A, GENESIS.network_id, 1, ZERO_HASH, T0 + H, GenesisGrant())
    with pytest.raises(LedgerError, match="future"):
        ledger.add(ev, now_ms=T0)
    assert ledger.add(ev, now_ms=T0 + H)


def test_forged_and_tampered_events_do_not_decode() -> None:
    ev = Ledger(GENESIS).append(A, GenesisGrant(), T0 + 1)
    raw = bytearray(ev.raw)
    at = ev.raw.index(ev.sig) + 5
    raw[at] ^= 0xFF  # inside the signature
    with pytest.raises(SignatureError):
        Event.decode(bytes(raw))
    # B signs an event that claims A as its author
    forged = Event.create(B, GENESIS.network_id, 1, ZERO_HASH, T0 + 1, GenesisGrant())
    swapped = forged.raw.replace(B.public_key, A.public_key)
    with pytest.raises(SignatureError):
        Event.decode(swapped)
    with pytest.raises(WireError):
        Event.decode(b"\x80")
    with pytest.raises(LedgerError, match="rejected event"):
        Ledger(GENESIS).add_raw(b"\x80")


def test_replayed_event_is_idempotent_and_reordered_chain_is_not_applied() -> None:
    ledger = funded()
    e1 = ledger.append(A, Transfer(B.public_key, M), T0 + 10)
    root = ledger.state_root()
    assert ledger.add(e1) is False
    assert ledger.state_root() == root
    # an event whose prev does not point at seq-1 breaks the chain there
    skip = Event.create(
        A, GENESIS.network_id, e1.seq + 1, b"\x07" * 32, T0 + 20, Transfer(C.public_key, M)
    )
    ledger.add(skip)
    assert skip.id not in ledger.state.applied
    assert ledger.state_root() == root
