"""The submitter's side of the task protocol (see the package docstring; states in states.py)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import codec
from ..economics import SPOT_CHECK_RATE
from ..errors import EdgenetError, WireError
from ..events import ResultCommitment
from ..identity import Identity
from ..taskmsg import (
    MAX_REDUNDANCY,
    PRIORITIES,
    Abandon,
    Assign,
    Cancel,
    Claim,
    Result,
    TaskAnnounce,
    TaskMessage,
    open_payload,
    result_hash,
    seal_payload,
)
from .common import (
    DEFAULT_ASSIGN_TIMEOUT_MS,
    MAX_STANDBY,
    Action,
    Broadcast,
    Dissent,
    Finished,
    Payment,
    Rejected,
    SendTo,
    TokenBucket,
    Verdict,
    agrees,
    consensus,
    header_problem,
    receive_with,
)
from .states import SUBMITTER_TRANSITIONS, SubmitterEvent, SubmitterState

# --- the submitter -------------------------------------------------------------------

REANNOUNCE_MS = 5_000  # an announce with open slots is repeated this often


@dataclass(frozen=True)
class _Got:
    value: Any
    commitment: ResultCommitment
    raw_commitment: bytes
    cpu_ms: int


class SubmitterFlow:
    """One task, seen from its submitter: new → open → decided (or expired at the task
    deadline). See the package docstring for the rules; every change of `state` is an
    entry of `SUBMITTER_TRANSITIONS`."""

    def __init__(
        self,
        identity: Identity,
        network: bytes,
        task_id: bytes,
        kind: str,
        payload: Any,
        price: int,
        redundancy: int,
        priority: str,
        deadline_ms: int,
        agree: Callable[[Any, Any], bool],
        trusted: Callable[[bytes], bool],
        rng: random.Random,
        known_answer: Any | None = None,
        *,
        size: int = 1,
        assign_timeout_ms: int = DEFAULT_ASSIGN_TIMEOUT_MS,
        audit_rate: float = SPOT_CHECK_RATE,
        limiter: TokenBucket | None = None,
        only: tuple[bytes, ...] = (),
        barred: frozenset[bytes] = frozenset(),
    ) -> None:
        if not 1 <= redundancy <= MAX_REDUNDANCY:
            raise ValueError(f"redundancy must be between 1 and {MAX_REDUNDANCY}")
        if priority not in PRIORITIES or price < 1 or assign_timeout_ms < 1:
            raise ValueError("invalid priority, price or assignment timeout")
        codec.encode(payload)  # fail early, locally, on a payload that cannot travel
        self.identity = identity
        self.network = network
        self.task = task_id
        self.kind = kind
        self.payload = payload
        self.price = price
        self.announced_redundancy = redundancy
        self.redundancy = redundancy
        self.priority = priority
        self.size = size
        self.deadline_ms = deadline_ms
        self.agree = agree
        self.trusted = trusted
        self.rng = rng
        self.known_answer = known_answer
        self.assign_timeout_ms = assign_timeout_ms
        self.audit_rate = audit_rate
        self.limiter = limiter
        self.only = only
        self.barred = barred  # workers that failed this submitter's spot-checks
        self.state = SubmitterState.NEW
        self.announce: TaskAnnounce | None = None
        self.verdict: Verdict | None = None
        self.assigned: dict[bytes, int] = {}  # worker -> assignment deadline
        self.results: dict[bytes, _Got] = {}
        self.failed: list[bytes] = []
        self.standby: list[bytes] = []
        self._seen: set[bytes] = set()
        self._alone = False  # a trusted worker runs the task alone
        self._announced_ms = 0

    def _refusal(self, event: SubmitterEvent) -> Rejected | None:
        """`Rejected(reason)` if the table has no transition for `event` from this state."""
        if (self.state, event) in SUBMITTER_TRANSITIONS:
            return None
        if event is SubmitterEvent.START:
            return Rejected("task already announced")
        if self.state is SubmitterState.NEW:
            return Rejected("task not announced yet")
        return Rejected("task already finished")

    def _transition(self, event: SubmitterEvent) -> None:
        """Take the table's transition for `event` (its callers check `_refusal` first)."""
        new = SUBMITTER_TRANSITIONS.get((self.state, event))
        if new is None:
            raise RuntimeError(f"bug: no submitter transition for {event} from {self.state}")
        self.state = new

    @property
    def budget(self) -> int:
        return self.price * self.announced_redundancy

    @property
    def open_slots(self) -> int:
        return self.redundancy - len(self.assigned) - len(self.results)

    def _announce(self, now_ms: int) -> TaskAnnounce:
        self._announced_ms = now_ms
        return TaskAnnounce.create(
            self.identity,
            network=self.network,
            task=self.task,
            ts=now_ms,
            kind=self.kind,
            size=self.size,
            priority=self.priority,
            price=self.price,
            redundancy=self.announced_redundancy,
            deadline_ms=self.deadline_ms,
            only=self.only,
        )

    def start(self, now_ms: int) -> list[Action]:
        refused = self._refusal(SubmitterEvent.START)
        if refused is not None:
            return [refused]
        if now_ms >= self.deadline_ms:
            raise ValueError("the task deadline has already passed")
        self._transition(SubmitterEvent.START)
        self.announce = self._announce(now_ms)
        return [Broadcast(self.announce)]

    def receive(self, data: bytes, now_ms: int) -> list[Action]:
        """Parse bytes from a peer and dispatch them (claims, results, abandons)."""
        return receive_with(self.handle, data, now_ms)

    def handle(self, msg: TaskMessage, now_ms: int) -> list[Action]:
        """Dispatch an already parsed (and so authenticated) message."""
        if isinstance(msg, Claim):
            return self.on_claim(msg, now_ms)
        if isinstance(msg, Result):
            return self.on_result(msg, now_ms)
        if isinstance(msg, Abandon):
            return self.on_abandon(msg, now_ms)
        return [Rejected(f"a submitter does not take {msg.T} messages")]

    def _common(
        self, event: SubmitterEvent, msg: Claim | Result | Abandon, now_ms: int
    ) -> str | None:
        refused = self._refusal(event)
        if refused is not None:
            return refused.reason
        problem = header_problem(msg, self.network, self.task, now_ms)
        if problem is None and msg.submitter != self.identity.public_key:
            problem = "addressed to another submitter"
        return problem

    def on_claim(self, claim: Claim, now_ms: int) -> list[Action]:
        problem = self._common(SubmitterEvent.CLAIM, claim, now_ms)
        worker = claim.sender
        if problem is not None:
            return [Rejected(problem)]
        if now_ms >= self.deadline_ms:
            return [Rejected("task deadline passed")]
        if worker == self.identity.public_key:
            return [Rejected("a submitter cannot work on its own task")]
        if worker in self.failed:
            return [Rejected("worker already failed this task")]
        if self.only and worker not in self.only:
            return [Rejected("the task is reserved for other workers")]
        if worker in self.barred:
            return [Rejected("worker is barred here (it failed a spot-check)")]
        if worker in self._seen:
            return [Rejected("duplicate claim")]
        if self.open_slots <= 0 and len(self.standby) >= MAX_STANDBY:
            return [Rejected("no slot free and the standby list is full")]
        if self.limiter is not None and not self.limiter.allow(worker, now_ms):
            return [Rejected("claimer is rate limited")]
        self._transition(SubmitterEvent.CLAIM)
        self._seen.add(worker)
        if self.open_slots <= 0:
            self.standby.append(worker)
            return []
        first = not (self.assigned or self.results or self.failed)
        actions = self._assign(worker, now_ms)
        if not self.assigned:  # could not encrypt to it
            return actions
        if first and self.known_answer is None and self.redundancy > 1 and self.trusted(worker):
            if self.rng.random() >= self.audit_rate:
                self.redundancy = 1
                self._alone = True
        return actions

    def _assign(self, worker: bytes, now_ms: int) -> list[Action]:
        deadline = min(self.deadline_ms, now_ms + self.assign_timeout_ms)
        try:
            sealed = seal_payload(self.identity, worker, self.payload)
        except EdgenetError as exc:  # not a usable public key
            self._seen.discard(worker)
            return [Rejected(f"cannot encrypt to worker: {exc}")]
        assign = Assign.create(
            self.identity,
            network=self.network,
            task=self.task,
            ts=now_ms,
            worker=worker,
            kind=self.kind,
            deadline_ms=deadline,
            payload=sealed,
        )
        self.assigned[worker] = deadline
        return [SendTo(worker, assign)]

    def _cancel(self, worker: bytes, reason: str, now_ms: int) -> SendTo:
        cancel = Cancel.create(
            self.identity,
            network=self.network,
            task=self.task,
            ts=now_ms,
            worker=worker,
            reason=reason,
        )
        return SendTo(worker, cancel)

    def _drop(self, worker: bytes) -> None:
        del self.assigned[worker]
        self.failed.append(worker)
        if self._alone:  # the trusted worker failed: back to full redundancy
            self._alone = False
            self.redundancy = self.announced_redundancy

    def _refill(self, now_ms: int) -> list[Action]:
        actions: list[Action] = []
        while self.open_slots > 0 and self.standby:
            actions += self._assign(self.standby.pop(0), now_ms)
        if self.open_slots > 0 and now_ms < self.deadline_ms:
            self.announce = self._announce(now_ms)
            actions.append(Broadcast(self.announce))
        return actions

    def on_abandon(self, abandon: Abandon, now_ms: int) -> list[Action]:
        problem = self._common(SubmitterEvent.ABANDON, abandon, now_ms)
        if problem is not None:
            return [Rejected(problem)]
        if abandon.sender not in self.assigned:
            return [Rejected("abandon from a worker without an open assignment")]
        self._transition(SubmitterEvent.ABANDON)
        self._drop(abandon.sender)
        return self._refill(now_ms)

    def on_peer_lost(self, worker: bytes, now_ms: int) -> list[Action]:
        """The link to an assigned worker closed: reassign its slot now, not at its deadline."""
        if self._refusal(SubmitterEvent.WORKER_LOST) is not None or worker not in self.assigned:
            return []
        self._transition(SubmitterEvent.WORKER_LOST)
        self._drop(worker)
        return self._refill(now_ms)

    def on_result(self, result: Result, now_ms: int) -> list[Action]:
        problem = self._common(SubmitterEvent.RESULT, result, now_ms)
        worker = result.sender
        if problem is not None:
            return [Rejected(problem)]
        if worker in self.results:
            return [Rejected("result already received from this worker")]
        deadline = self.assigned.get(worker)
        if deadline is None:
            return [Rejected("result from a worker without an open assignment")]
        if now_ms > deadline:
            return [Rejected("result arrived after the assignment deadline")]
        try:
            value = open_payload(self.identity, worker, result.result)
        except WireError as exc:
            return [Rejected(f"result does not open: {exc}")]
        commitment = result.result_commitment()
        if commitment.result_hash != result_hash(value):
            return [Rejected("result does not match the worker's commitment")]
        self._transition(SubmitterEvent.RESULT)
        del self.assigned[worker]
        self.results[worker] = _Got(value, commitment, result.commitment, result.cpu_ms)
        if len(self.results) >= self.redundancy:
            self._transition(SubmitterEvent.DECIDE)
            return [Finished(self._decide())]
        return []

    def tick(self, now_ms: int) -> list[Action]:
        """Handle timeouts: drop silent workers, reassign, fail the task at its deadline."""
        if self._refusal(SubmitterEvent.TICK) is not None:
            return []
        actions: list[Action] = []
        if now_ms >= self.deadline_ms:
            for worker in list(self.assigned):
                actions.append(self._cancel(worker, "task deadline passed", now_ms))
            self._transition(SubmitterEvent.DEADLINE)
            self.verdict = self._verdict(False, None, (), (), "task deadline passed")
            return [*actions, Finished(self.verdict)]
        self._transition(SubmitterEvent.TICK)
        expired = [w for w, d in self.assigned.items() if now_ms > d]
        for worker in expired:
            self._drop(worker)
            actions.append(self._cancel(worker, "assignment deadline passed", now_ms))
        if expired:
            actions += self._refill(now_ms)
        elif self.open_slots > 0 and now_ms - self._announced_ms >= REANNOUNCE_MS:
            # nobody (or not enough) claimed: workers busy, paused or newly linked may
            # take it now; a worker that already saw this task ignores the repeat
            self.announce = self._announce(now_ms)
            actions.append(Broadcast(self.announce))
        return actions

    def _verdict(
        self,
        verified: bool,
        result: Any,
        paid: Sequence[bytes],
        dissenters: tuple[Dissent, ...],
        reason: str,
    ) -> Verdict:
        payments = tuple(Payment(w, self.price, self.results[w].cpu_ms) for w in paid)
        return Verdict(
            task=self.task,
            verified=verified,
            result=result,
            price=self.price,
            budget=self.budget,
            redundancy=self.redundancy,
            payments=payments,
            dissenters=dissenters,
            failed=tuple(self.failed),
            refund=self.budget - self.price * len(payments),
            spot_check=self.known_answer is not None,
            reason=reason,
        )

    def _decide(self) -> Verdict:
        workers = list(self.results)
        values = [self.results[w].value for w in workers]
        n = len(workers)
        if self.known_answer is not None:
            group: tuple[int, ...] | None = tuple(
                i for i in range(n) if agrees(self.agree, values[i], self.known_answer)
            )
        else:
            group = consensus(values, self.agree, n)
        if group is None:
            self.verdict = self._verdict(False, None, (), (), "no strict majority agreed")
            return self.verdict
        verified = len(group) * 2 > n
        members = [workers[i] for i in group]
        dissenters = tuple(self._dissent(w, members) for w in workers if w not in members)
        if verified:
            reason = "verified by a strict majority" if n > 1 else "trusted single execution"
        else:
            reason = "spot-check: too few results match the known answer"
        result = values[group[0]] if verified else None
        self.verdict = self._verdict(verified, result, members, dissenters, reason)
        return self.verdict

    def _dissent(self, worker: bytes, members: Sequence[bytes]) -> Dissent:
        mine = self.results[worker]
        by_hash: dict[bytes, list[bytes]] = {}
        for m in members:
            got = self.results[m]
            if got.commitment.result_hash == mine.commitment.result_hash:
                continue
            if agrees(self.agree, got.value, mine.value):
                continue
            by_hash.setdefault(got.commitment.result_hash, []).append(got.raw_commitment)
        best = max(by_hash.values(), key=len, default=[])
        evidence = (mine.raw_commitment, *best) if len(best) >= 2 else ()
        return Dissent(worker, mine.raw_commitment, evidence)
