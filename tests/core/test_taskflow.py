"""Task protocol: wire messages (core/taskmsg.py) and sans-IO state machines (core/taskflow/).

A SubmitterFlow is wired to several WorkerFlows in memory; every message travels as bytes
(encode → parse), as it would on a data channel.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from support.ledger_helpers import NODES, T0, make_genesis

from edgenet_app.core import codec
from edgenet_app.core import economics as econ
from edgenet_app.core.errors import WireError
from edgenet_app.core.events import GenesisGrant, ResultCommitment, Settlement, Slash, Stake
from edgenet_app.core.identity import Identity
from edgenet_app.core.ledger import Ledger
from edgenet_app.core.taskflow import (
    Action,
    Broadcast,
    Execute,
    Finished,
    Rejected,
    SendTo,
    StopExecution,
    SubmitterFlow,
    TokenBucket,
    Verdict,
    WorkerFlow,
    consensus,
    list_price,
    serve_order,
)
from edgenet_app.core.taskflow.submitter import REANNOUNCE_MS
from edgenet_app.core.taskmsg import (
    MAX_CLAIM_BYTES,
    Abandon,
    Assign,
    Cancel,
    Claim,
    Result,
    TaskAnnounce,
    open_payload,
    parse,
    result_hash,
    seal_payload,
)

GENESIS = make_genesis(grants=6)
NET = GENESIS.network_id
OTHER_NET = bytes(32)
SUB = NODES[5]
WORKERS = NODES[:5]
TASK = bytes(range(16))
PRICE = 1000
NOW = T0 + 60_000
DEADLINE = NOW + 200_000
TIMEOUT = 20_000
PAYLOAD = {"xs": [1, 2, 3]}
GOOD = 6


def exact(a: Any, b: Any) -> bool:
    return bool(a == b)


def close(a: Any, b: Any) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, b, strict=True)
    )


def never(_worker: bytes) -> bool:
    return False


def submitter(
    redundancy: int = 3,
    *,
    agree: Callable[[Any, Any], bool] = exact,
    trusted: Callable[[bytes], bool] = never,
    known_answer: Any = None,
    audit_rate: float = 0.0,
    network: bytes = NET,
    barred: frozenset[bytes] = frozenset(),
) -> SubmitterFlow:
    return SubmitterFlow(
        SUB,
        network,
        TASK,
        "neural_inference",
        PAYLOAD,
        PRICE,
        redundancy,
        "normal",
        DEADLINE,
        agree,
        trusted,
        random.Random(1),
        known_answer,
        assign_timeout_ms=TIMEOUT,
        audit_rate=audit_rate,
        barred=barred,
    )


def worker(i: int) -> WorkerFlow:
    return WorkerFlow(WORKERS[i], NET, min_price=lambda a: 0)


def shape(action: Action) -> tuple[type, ...]:
    """(SendTo, Claim), (Broadcast, TaskAnnounce), or (Rejected,) ...: what an action is."""
    if isinstance(action, SendTo | Broadcast):
        return (type(action), type(action.msg))
    return (type(action),)


def to_submitter(action: Action) -> bool:
    """A direct message a worker sends to the submitter (claim, result, abandon), addressed
    to the submitter named inside it."""
    return (
        isinstance(action, SendTo)
        and isinstance(action.msg, Claim | Result | Abandon)
        and action.peer == action.msg.submitter == SUB.public_key
    )


def to_worker(action: Action) -> bool:
    """A direct message the submitter sends to a worker (assign, cancel), addressed to the
    worker named inside it."""
    return (
        isinstance(action, SendTo)
        and isinstance(action.msg, Assign | Cancel)
        and action.peer == action.msg.worker
        and action.msg.sender == SUB.public_key
    )


class Sim:
    """A submitter and workers exchanging bytes; `answers[i]` is worker i's result (or
    SILENT to never answer)."""

    SILENT = object()

    def __init__(self, sub: SubmitterFlow, answers: list[Any]) -> None:
        self.sub = sub
        self.workers = [worker(i) for i in range(len(answers))]
        self.answers = answers
        self.by_key = {w.identity.public_key: i for i, w in enumerate(self.workers)}
        self.now = NOW
        self.finished: list[Verdict] = []
        self.rejected: list[str] = []
        self.announces: list[TaskAnnounce] = []
        self.sent_results: dict[int, Result] = {}
        self.cancelled: list[int] = []
        self.pump(sub.start(self.now))

    def pump(self, actions: list[Action]) -> None:
        queue = list(actions)
        while queue:
            a = queue.pop(0)
            if isinstance(a, Broadcast):
                self.announces.append(a.msg)
            elif isinstance(a, SendTo) and isinstance(a.msg, Claim):
                assert to_submitter(a), a
                queue += self.sub.receive(a.msg.encode(), self.now)
            elif isinstance(a, SendTo) and isinstance(a.msg, Assign):
                assert to_worker(a), a
                i = self.by_key[a.peer]
                for b in self.workers[i].receive(a.msg.encode(), self.now):
                    assert isinstance(b, Execute), b
                    assert b.payload == PAYLOAD  # JSON-shaped, as it was submitted
                    if self.answers[i] is not self.SILENT:
                        queue += self.workers[i].on_executed(self.answers[i], self.now, 5)
            elif isinstance(a, SendTo) and isinstance(a.msg, Result):
                assert to_submitter(a), a
                self.sent_results[self.by_key[a.msg.sender]] = a.msg
                queue += self.sub.receive(a.msg.encode(), self.now)
            elif isinstance(a, SendTo) and isinstance(a.msg, Cancel):
                assert to_worker(a), a
                i = self.by_key[a.peer]
                self.cancelled.append(i)
                queue += self.workers[i].receive(a.msg.encode(), self.now)
            elif isinstance(a, SendTo) and isinstance(a.msg, Abandon):
                assert to_submitter(a), a
                queue += self.sub.receive(a.msg.encode(), self.now)
            elif isinstance(a, Finished):
                self.finished.append(a.verdict)
            elif isinstance(a, Rejected):
                self.rejected.append(a.reason)
            elif isinstance(a, StopExecution):
                pass
            else:  # pragma: no cover
                raise AssertionError(a)

    def claim(self, i: int) -> None:
        announce = self.announces[-1]
        self.pump(self.workers[i].receive(announce.encode(), self.now))

    def tick(self, now: int) -> None:
        self.now = now
        self.pump(self.sub.tick(now))

    @property
    def verdict(self) -> Verdict:
        assert len(self.finished) == 1
        return self.finished[0]


def keys(*idx: int) -> tuple[bytes, ...]:
    return tuple(WORKERS[i].public_key for i in idx)


# --- the flow ------------------------------------------------------------------------


def test_happy_path_redundancy_three() -> None:
    sim = Sim(submitter(3), [GOOD, GOOD, GOOD, GOOD])
    (announce,) = sim.announces
    assert announce.redundancy == 3 and announce.budget == 3 * PRICE
    for i in range(4):
        sim.claim(i)
    v = sim.verdict
    assert v.verified and v.result == GOOD and v.redundancy == 3
    assert v.paid == keys(0, 1, 2)
    assert all(p.amount == PRICE and p.cpu_ms == 5 for p in v.payments)
    assert v.refund == 0 and v.dissenters == () and v.failed == ()
    assert sim.workers[3].state == "claimed"  # the standby claimer was never needed
    assert [w.state for w in sim.workers[:3]] == ["done"] * 3


def test_one_wrong_worker_is_outvoted_with_slash_evidence_the_ledger_accepts() -> None:
    sim = Sim(submitter(3), [7, GOOD, GOOD])
    for i in range(3):
        sim.claim(i)
    v = sim.verdict
    assert v.verified and v.result == GOOD
    assert v.paid == keys(1, 2) and v.refund == PRICE
    (d,) = v.dissenters
    assert d.worker == WORKERS[0].public_key
    proofs = [ResultCommitment.decode(p) for p in d.evidence]  # every signature verifies
    assert proofs[0].worker == d.worker and proofs[0].result_hash == result_hash(7)
    assert {p.worker for p in proofs[1:]} == set(keys(1, 2))
    assert {p.result_hash for p in proofs[1:]} == {result_hash(GOOD)}

    # The runtime settles: pays the majority and slashes the dissenter (all staked).
    ledger = Ledger(GENESIS)
    for n in (*WORKERS[:3], SUB):
        ledger.append(n, GenesisGrant(), T0 + 1)
    for n in WORKERS[:3]:
        ledger.append(n, Stake(econ.STAKE_REQUIRED), T0 + 2)
    for p in v.payments:
        ledger.append(SUB, Settlement(TASK, p.worker, p.amount, p.cpu_ms, "neural_inference"), NOW)
    ledger.append(SUB, Slash(d.worker, "wrong_result", d.evidence), NOW + 1)
    assert not ledger.rejected()
    staked = ledger.balance(d.worker, NOW + 2).staked
    assert staked == econ.STAKE_REQUIRED - econ.SLASH_WRONG_RESULT


def test_tolerance_consensus_accepts_float_noise() -> None:
    base = [0.25, -1.5, 3.0]
    noisy = [[x + k * 1e-9 for x in base] for k in range(3)]
    sim = Sim(submitter(3, agree=close), noisy)
    for i in range(3):
        sim.claim(i)
    v = sim.verdict
    assert v.verified and v.paid == keys(0, 1, 2) and v.refund == 0
    # Exact consensus over the same results finds no majority: nobody paid, all refunded.
    sim = Sim(submitter(3, agree=exact), noisy)
    for i in range(3):
        sim.claim(i)
    assert not sim.verdict.verified and sim.verdict.paid == () and sim.verdict.refund == 3 * PRICE


def test_tolerance_dissenter_without_identical_majority_has_no_ledger_evidence() -> None:
    base = [0.25, -1.5]
    answers = [[9.0, 9.0], base, [x + 1e-9 for x in base], [x + 2e-9 for x in base]]
    sim = Sim(submitter(4, agree=close), answers)
    for i in range(4):
        sim.claim(i)
    v = sim.verdict
    assert v.verified and v.paid == keys(1, 2, 3)
    (d,) = v.dissenters
    assert d.evidence == ()  # majority hashes all differ: not provable to the ledger
    assert ResultCommitment.decode(d.commitment).worker == WORKERS[0].public_key


def test_silent_worker_is_replaced_after_its_deadline_without_double_pay() -> None:
    sim = Sim(submitter(3), [Sim.SILENT, GOOD, GOOD, GOOD])
    for i in range(4):
        sim.claim(i)
    assert not sim.finished
    sim.tick(NOW + TIMEOUT)  # not yet past the deadline
    assert not sim.finished and not sim.cancelled
    sim.tick(NOW + TIMEOUT + 1)
    assert sim.cancelled == [0] and sim.workers[0].state == "cancelled"
    v = sim.verdict
    assert v.verified and v.paid == keys(1, 2, 3) and v.failed == keys(0)
    assert v.refund == 0
    # A late result or a fresh claim from the dropped worker changes nothing.
    late = sim.sub.on_claim(
        Claim.create(WORKERS[0], network=NET, task=TASK, ts=sim.now, submitter=SUB.public_key),
        sim.now,
    )
    assert isinstance(late[0], Rejected) and sim.sub.verdict is v


def test_silent_worker_without_standby_triggers_a_new_announce() -> None:
    sim = Sim(submitter(2), [Sim.SILENT, GOOD, GOOD])
    sim.claim(0)
    sim.claim(1)
    sim.tick(NOW + TIMEOUT + 1)
    assert len(sim.announces) == 2 and sim.announces[1].ts == NOW + TIMEOUT + 1
    assert sim.announces[1].task == TASK
    assert not sim.finished
    sim.claim(2)
    assert sim.verdict.paid == keys(1, 2) and sim.verdict.failed == keys(0)
    # the dropped worker cannot come back once the task is over
    assert sim.sub.on_claim(
        Claim.create(WORKERS[0], network=NET, task=TASK, ts=sim.now, submitter=SUB.public_key),
        sim.now,
    ) == [Rejected("task already finished")]


def test_abandon_frees_the_slot_at_once() -> None:
    sim = Sim(submitter(2), [Sim.SILENT, GOOD, GOOD])
    for i in range(3):
        sim.claim(i)
    sim.pump(sim.workers[0].on_failed("worker_crashed", sim.now))
    v = sim.verdict
    assert v.paid == keys(1, 2) and v.failed == keys(0)


def test_task_deadline_fails_with_full_refund() -> None:
    sim = Sim(submitter(3), [GOOD, Sim.SILENT, Sim.SILENT])
    for i in range(3):
        sim.claim(i)
    sim.tick(DEADLINE)
    v = sim.verdict
    assert not v.verified and v.result is None and v.paid == ()
    assert v.refund == 3 * PRICE and "deadline" in v.reason
    assert sorted(sim.cancelled) == [1, 2]
    sim.tick(DEADLINE + 1)  # nothing more happens
    assert len(sim.finished) == 1


def test_spot_check_catches_a_unanimous_wrong_answer() -> None:
    sim = Sim(submitter(3, known_answer=GOOD), [7, 7, 7])
    for i in range(3):
        sim.claim(i)
    v = sim.verdict
    assert v.spot_check and not v.verified and v.paid == ()
    assert [d.worker for d in v.dissenters] == list(keys(0, 1, 2))
    assert all(d.evidence == () for d in v.dissenters)
    assert v.refund == 3 * PRICE


def test_spot_check_pays_the_correct_workers() -> None:
    sim = Sim(submitter(3, known_answer=GOOD, trusted=lambda w: True), [GOOD, 7, GOOD])
    for i in range(3):
        sim.claim(i)
    v = sim.verdict
    assert v.redundancy == 3  # a spot-check never runs alone
    assert v.verified and v.paid == keys(0, 2) and len(v.dissenters[0].evidence) == 3


def test_a_barred_worker_cannot_claim_and_the_task_goes_to_others() -> None:
    sim = Sim(submitter(2, barred=frozenset(keys(0))), [GOOD, GOOD, GOOD])
    for i in range(3):
        sim.claim(i)
    assert "worker is barred here (it failed a spot-check)" in sim.rejected
    assert sim.verdict.verified and set(sim.verdict.paid) == set(keys(1, 2))


def test_trusted_claimer_runs_alone() -> None:
    sim = Sim(submitter(3, trusted=lambda w: w == WORKERS[0].public_key), [GOOD, GOOD])
    sim.claim(0)
    v = sim.verdict
    assert v.verified and v.redundancy == 1 and v.paid == keys(0)
    assert v.refund == 2 * PRICE


def test_trusted_claimer_audited_or_failing_falls_back_to_redundancy() -> None:
    sim = Sim(submitter(3, trusted=lambda w: True, audit_rate=1.0), [GOOD, GOOD, GOOD])
    for i in range(3):
        sim.claim(i)
    assert sim.verdict.redundancy == 3 and sim.verdict.paid == keys(0, 1, 2)

    sim = Sim(submitter(3, trusted=lambda w: w == WORKERS[0].public_key), [Sim.SILENT, 1, 1, 1])
    sim.claim(0)
    sim.tick(NOW + TIMEOUT + 1)  # the trusted worker vanished: three results needed now
    for i in (1, 2, 3):
        sim.claim(i)
    v = sim.verdict
    assert v.redundancy == 3 and v.paid == keys(1, 2, 3) and v.failed == keys(0)


def _snapshot(sub: SubmitterFlow) -> tuple[Any, ...]:
    return (
        dict(sub.assigned),
        dict(sub.results),
        list(sub.failed),
        list(sub.standby),
        sub.redundancy,
        sub.verdict,
    )


def test_tampered_forged_replayed_and_foreign_messages_are_rejected() -> None:
    sim = Sim(submitter(3), [GOOD, Sim.SILENT, GOOD, GOOD])
    sim.claim(0)
    sim.claim(1)
    sub = sim.sub
    before = _snapshot(sub)
    w2 = WORKERS[2]
    claim = Claim.create(w2, network=NET, task=TASK, ts=sim.now, submitter=SUB.public_key)
    raw = claim.encode()

    def rejected(data: bytes) -> None:
        out = sub.receive(data, sim.now)
        assert len(out) == 1 and isinstance(out[0], Rejected), out
        assert _snapshot(sub) == before

    tampered = bytearray(raw)
    tampered[-3] ^= 1
    rejected(bytes(tampered))
    forged = claim.to_wire() | {"t": "claim", "sender": WORKERS[3].public_key}
    rejected(codec.encode(forged))
    rejected(b"\x00" * 10)
    rejected(codec.encode({"t": "claim"}))
    for bad in (
        Claim.create(w2, network=OTHER_NET, task=TASK, ts=sim.now, submitter=SUB.public_key),
        Claim.create(w2, network=NET, task=bytes(16), ts=sim.now, submitter=SUB.public_key),
        Claim.create(w2, network=NET, task=TASK, ts=sim.now, submitter=w2.public_key),
        Claim.create(
            w2, network=NET, task=TASK, ts=sim.now - 11 * 60_000, submitter=SUB.public_key
        ),
        Claim.create(w2, network=NET, task=TASK, ts=sim.now + 10**7, submitter=SUB.public_key),
        Claim.create(SUB, network=NET, task=TASK, ts=sim.now, submitter=SUB.public_key),
        Claim.create(
            WORKERS[0], network=NET, task=TASK, ts=sim.now, submitter=SUB.public_key
        ),  # replay: worker 0 already holds a slot
    ):
        rejected(bad.encode())
    rejected(sim.announces[0].encode())  # wrong message type for a submitter

    # Results: a replay of worker 0's, one from a worker never assigned, one whose
    # commitment does not match its sealed value, one sealed to someone else.
    rejected(sim.sent_results[0].encode())
    w1 = WORKERS[1]

    def result(who: Identity, value: Any, committed: Any, seal_to: bytes) -> bytes:
        c = ResultCommitment.create(who, NET, TASK, result_hash(committed))
        return Result.create(
            who,
            network=NET,
            task=TASK,
            ts=sim.now,
            submitter=SUB.public_key,
            result=seal_payload(who, seal_to, value),
            commitment=c.encode(),
            cpu_ms=1,
        ).encode()

    rejected(result(w2, GOOD, GOOD, SUB.public_key))
    rejected(result(w1, GOOD, 7, SUB.public_key))
    rejected(result(w1, GOOD, GOOD, WORKERS[4].public_key))
    good = result(w1, GOOD, GOOD, SUB.public_key)
    assert sub.receive(good, NOW + TIMEOUT + 1) == [
        Rejected("result arrived after the assignment deadline")
    ]
    assert _snapshot(sub) == before
    assert sub.receive(good, sim.now) == []  # the genuine one still counts
    assert sub.receive(good, sim.now) == [Rejected("result already received from this worker")]


def test_worker_rejects_what_it_should_not_take() -> None:
    sub = submitter(3)
    (start,) = sub.start(NOW)
    assert isinstance(start, Broadcast)
    announce = start.msg
    w = worker(0)
    assign = Assign.create(
        SUB,
        network=NET,
        task=TASK,
        ts=NOW,
        worker=WORKERS[0].public_key,
        kind="neural_inference",
        deadline_ms=NOW + TIMEOUT,
        payload=seal_payload(SUB, WORKERS[0].public_key, PAYLOAD),
    )
    assert w.on_assign(assign, NOW) == [Rejected("never claimed this task")]
    assert w.state == "idle"
    (claim,) = w.on_announce(announce, NOW)
    assert to_submitter(claim) and shape(claim) == (SendTo, Claim)
    assert isinstance(w.on_announce(announce, NOW)[0], Rejected)  # replayed announce
    forged = Assign.create(
        WORKERS[4],
        network=NET,
        task=TASK,
        ts=NOW,
        worker=WORKERS[0].public_key,
        kind="neural_inference",
        deadline_ms=NOW + TIMEOUT,
        payload=seal_payload(WORKERS[4], WORKERS[0].public_key, PAYLOAD),
    )
    assert w.on_assign(forged, NOW) == [Rejected("not from the task's submitter")]
    assert w.on_executed(GOOD, NOW) == [Rejected("nothing is executing (state claimed)")]
    bad_bytes = bytearray(assign.encode())
    bad_bytes[-5] ^= 0xFF
    assert isinstance(w.receive(bytes(bad_bytes), NOW)[0], Rejected)
    assert w.state == "claimed"
    (ex,) = w.on_assign(assign, NOW)
    assert isinstance(ex, Execute) and ex.kind == "neural_inference"
    assert isinstance(w.on_assign(assign, NOW)[0], Rejected)  # replayed assign
    assert w.on_executed(GOOD, NOW + TIMEOUT + 1) == [
        Rejected("finished after the assignment deadline; result not sent")
    ]


def test_worker_acceptance_rules() -> None:
    def ann(**kw: Any) -> TaskAnnounce:
        fields: dict[str, Any] = {
            "network": NET,
            "task": TASK,
            "ts": NOW,
            "kind": "embedding",
            "size": 100,
            "priority": "normal",
            "price": econ.task_price_micro("embedding", 100),
            "redundancy": 3,
            "deadline_ms": DEADLINE,
        }
        return TaskAnnounce.create(SUB, **(fields | kw))

    def verdict(a: TaskAnnounce, **kw: Any) -> Action:
        return WorkerFlow(WORKERS[0], NET, **kw).on_announce(a, NOW)[0]

    assert shape(verdict(ann())) == (SendTo, Claim) and to_submitter(verdict(ann()))
    price = econ.task_price_micro("embedding", 100, "high")
    assert isinstance(verdict(ann(priority="high")), Rejected)  # high pays 2×
    assert shape(verdict(ann(priority="high", price=price))) == (SendTo, Claim)
    assert isinstance(verdict(ann(), kinds=("encryption",)), Rejected)
    assert isinstance(verdict(ann(kind="mining")), Rejected)  # unknown kind: no list price
    assert isinstance(verdict(ann(network=OTHER_NET)), Rejected)
    assert isinstance(verdict(ann(ts=NOW - 1000, deadline_ms=NOW)), Rejected)
    own = WorkerFlow(SUB, NET).on_announce(ann(), NOW)
    assert own == [Rejected("own task")]
    bucket = TokenBucket(rate_per_s=1, burst=2)
    flows = [WorkerFlow(WORKERS[0], NET, limiter=bucket) for _ in range(3)]
    out = [f.on_announce(ann(), NOW)[0] for f in flows]
    assert [shape(o) for o in out] == [(SendTo, Claim), (SendTo, Claim), (Rejected,)]
    assert flows[2].state == "idle"


def test_serve_order_puts_high_priority_first() -> None:
    def ann(priority: str, deadline: int) -> TaskAnnounce:
        return TaskAnnounce.create(
            SUB,
            network=NET,
            task=TASK,
            ts=NOW,
            kind="encryption",
            size=1,
            priority=priority,
            price=1,
            redundancy=1,
            deadline_ms=deadline,
        )

    items = [
        ann("low", NOW + 1),
        ann("normal", NOW + 5),
        ann("high", NOW + 9),
        ann("normal", NOW + 2),
    ]
    ordered = sorted(items, key=serve_order)
    assert [(a.priority, a.deadline_ms - NOW) for a in ordered] == [
        ("high", 9),
        ("normal", 2),
        ("normal", 5),
        ("low", 1),
    ]
    assert list_price(ann("high", NOW + 1)) == 2 * list_price(ann("low", NOW + 1))


# --- pieces --------------------------------------------------------------------------


def test_consensus_rules() -> None:
    assert consensus([1, 1, 2], exact, 3) == (0, 1)
    assert consensus([1, 2, 3], exact, 3) is None
    assert consensus([1, 1, 2, 2], exact, 4) is None  # 2 of 4 is not a strict majority
    assert consensus([5], exact, 1) == (0,)

    def near(a: Any, b: Any) -> bool:
        return bool(abs(a - b) <= 1)

    assert consensus([0, 1, 2], near, 3) is None  # {0,1} and {1,2}: ambiguous
    assert consensus([0, 1, 1, 2], near, 4) is None
    assert consensus([0, 0, 1, 2], near, 4) == (0, 1, 2)

    def boom(a: Any, b: Any) -> bool:
        raise TypeError("odd data")

    assert consensus([1, 1, 1], boom, 3) is None


def test_token_bucket() -> None:
    b = TokenBucket(rate_per_s=2, burst=3, capacity=2)
    a, c = b"a" * 32, b"c" * 32
    assert [b.allow(a, 0) for _ in range(4)] == [True, True, True, False]
    assert b.allow(c, 0)  # buckets are per identity
    assert not b.allow(a, 100)  # 0.2 tokens refilled
    assert b.allow(a, 500)  # one full token back after 0.5 s
    assert not b.allow(a, 400)  # the clock went back: nothing refilled
    b.allow(b"x" * 32, 600)
    assert len(b._buckets) == 2  # bounded memory
    with pytest.raises(ValueError):
        TokenBucket(rate_per_s=0)


def test_messages_round_trip_and_are_bounded() -> None:
    sub = submitter(3)
    (start,) = sub.start(NOW)
    assert isinstance(start, Broadcast)
    a = start.msg
    assert TaskAnnounce.decode(a.encode()) == a and parse(a.encode()) == a
    assert b"xs" not in a.encode()  # an announce carries no payload
    with pytest.raises(WireError, match="expected a claim"):
        Claim.decode(a.encode())
    with pytest.raises(WireError):
        TaskAnnounce.create(
            SUB,
            network=NET,
            task=TASK,
            ts=NOW,
            kind="encryption",
            size=1,
            priority="urgent",
            price=1,
            redundancy=1,
            deadline_ms=NOW + 1,
        )
    with pytest.raises(WireError):
        dataclasses.replace(a, redundancy=8)
    with pytest.raises(WireError, match="signature"):
        dataclasses.replace(a, price=a.price + 1)  # changing a field breaks the signature
    claim = Claim.create(WORKERS[0], network=NET, task=TASK, ts=NOW, submitter=SUB.public_key)
    padded = codec.encode(claim.to_wire() | {"t": "claim", "pad": b"\x00" * MAX_CLAIM_BYTES})
    with pytest.raises(WireError, match="limit"):
        Claim.decode(padded)
    sealed = seal_payload(SUB, WORKERS[0].public_key, {"b": b"\x01", "l": [1.5, None]})
    assert open_payload(WORKERS[0], SUB.public_key, sealed) == {"b": b"\x01", "l": [1.5, None]}
    with pytest.raises(WireError):
        open_payload(WORKERS[1], SUB.public_key, sealed)
    with pytest.raises(WireError):
        open_payload(WORKERS[0], WORKERS[1].public_key, sealed)


# --- property ------------------------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["claim", "claim", "result", "result", "result", "tick", "fail"]),
        st.integers(0, 4),
        st.sampled_from([0, 0, 0, 1_000, 5_000, TIMEOUT + 1]),
    ),
    max_size=50,
)
DRAIN = [(op, i, 0) for _ in range(2) for i in range(5) for op in ("claim", "result")]


@settings(max_examples=200, deadline=None)
@given(
    redundancy=st.integers(1, 5),
    wrong=st.sets(st.integers(0, 4), max_size=3),
    same_wrong=st.booleans(),
    trusted=st.sets(st.integers(0, 4)),
    spot=st.booleans(),
    ops=OPS,
    drain=st.booleans(),
)
def test_property_verdicts_are_consistent(
    redundancy: int,
    wrong: set[int],
    same_wrong: bool,
    trusted: set[int],
    spot: bool,
    ops: list[tuple[str, int, int]],
    drain: bool,
) -> None:
    answers = [(100 if same_wrong else 100 + i) if i in wrong else GOOD for i in range(5)]
    trusted_keys = set(keys(*trusted))
    sub = submitter(
        redundancy,
        trusted=lambda w: w in trusted_keys,
        known_answer=GOOD if spot else None,
        audit_rate=0.3,
    )
    workers = [worker(i) for i in range(5)]
    by_key = {w.identity.public_key: i for i, w in enumerate(workers)}
    announces: list[TaskAnnounce] = []
    pending: list[Action] = list(sub.start(NOW))
    delivered: dict[int, Any] = {}
    verdicts: list[Verdict] = []
    now = NOW

    def run(actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Broadcast):
                announces.append(a.msg)
            elif isinstance(a, SendTo) and isinstance(a.msg, Assign):
                assert to_worker(a), a
                out = workers[by_key[a.peer]].receive(a.msg.encode(), now)
                assert all(isinstance(x, Execute | Rejected) for x in out)
            elif isinstance(a, SendTo) and isinstance(a.msg, Cancel):
                assert to_worker(a), a
                workers[by_key[a.peer]].receive(a.msg.encode(), now)
            elif isinstance(a, Finished):
                verdicts.append(a.verdict)

    run(pending)
    for op, i, dt in [*ops, *(DRAIN if drain else []), ("tick", 0, DEADLINE)]:
        now = DEADLINE if dt == DEADLINE else min(now + dt, DEADLINE)
        w = workers[i]
        if op == "claim":
            out = w.receive(announces[-1].encode(), now)
            for a in out:
                if isinstance(a, SendTo) and isinstance(a.msg, Claim):
                    assert to_submitter(a), a
                    run(sub.receive(a.msg.encode(), now))
        elif op == "result":
            for a in w.on_executed(answers[i], now, 1):
                if isinstance(a, SendTo) and isinstance(a.msg, Result):
                    assert to_submitter(a), a
                    res = sub.receive(a.msg.encode(), now)
                    if not any(isinstance(x, Rejected) for x in res):
                        delivered[i] = answers[i]
                    run(res)
        elif op == "fail":
            for a in w.on_failed("crash", now):
                if isinstance(a, SendTo) and isinstance(a.msg, Abandon):
                    assert to_submitter(a), a
                    run(sub.receive(a.msg.encode(), now))
        else:
            run(sub.tick(now))

    assert len(verdicts) == 1
    v = verdicts[0]
    event(f"verified={v.verified} redundancy={v.redundancy}")
    event(v.reason)
    event(f"dissenters={len(v.dissenters)} failed={len(v.failed)}")
    assert v.budget == PRICE * redundancy
    assert len(set(v.paid)) == len(v.paid)  # nobody paid twice
    assert all(p.amount == PRICE for p in v.payments)
    assert PRICE * len(v.paid) + v.refund == v.budget and v.refund >= 0
    paid_idx = [by_key[k] for k in v.paid]
    assert all(i in delivered for i in paid_idx)  # only delivered results are paid
    assert not set(v.paid) & set(v.failed)  # dropped workers are never paid
    if v.verified:
        agreeing = [i for i, val in delivered.items() if val == v.result]
        assert 2 * len(agreeing) > v.redundancy  # a strict majority agreed
        assert len(delivered) == v.redundancy
        if spot:
            assert v.result == GOOD
    if spot:
        assert all(answers[i] == GOOD for i in paid_idx)
    for d in v.dissenters:
        assert d.worker not in v.paid and by_key[d.worker] in delivered
        if d.evidence:
            first, *rest = (ResultCommitment.decode(p) for p in d.evidence)
            assert first.worker == d.worker and len(rest) >= 2
            assert len({c.result_hash for c in rest} - {first.result_hash}) == 1
            assert {c.worker for c in rest} <= set(v.paid)
    if v.redundancy < redundancy:  # only a trusted first claimer runs alone
        assert v.redundancy == 1 and not spot and by_key[v.paid[0]] in trusted


def test_an_announce_nobody_claimed_is_repeated_every_few_seconds() -> None:
    sim = Sim(submitter(2), [GOOD, GOOD])
    assert len(sim.announces) == 1
    sim.tick(NOW + REANNOUNCE_MS - 1)
    assert len(sim.announces) == 1
    sim.tick(NOW + REANNOUNCE_MS)
    assert len(sim.announces) == 2 and sim.announces[1].ts == NOW + REANNOUNCE_MS
    sim.claim(0)
    sim.claim(1)  # every slot taken: no more repeats
    sim.tick(NOW + 3 * REANNOUNCE_MS)
    assert len(sim.announces) == 2 and sim.verdict.paid == keys(0, 1)


def test_a_claim_never_assigned_expires_even_with_a_far_deadline() -> None:
    from edgenet_app.core.taskflow.worker import MAX_CLAIM_WAIT_MS

    far = TaskAnnounce.create(
        SUB,
        network=NET,
        task=TASK,
        ts=NOW,
        kind="encryption",
        size=1,
        priority="normal",
        price=PRICE,
        redundancy=1,
        deadline_ms=NOW + 365 * 24 * 3_600_000,
    )
    w = WorkerFlow(WORKERS[0], NET)
    assert shape(w.on_announce(far, NOW)[0]) == (SendTo, Claim)
    w.tick(NOW + MAX_CLAIM_WAIT_MS - 1)
    assert w.state == "claimed"
    w.tick(NOW + MAX_CLAIM_WAIT_MS)
    assert w.state == "expired"
