"""The worker's side of the task protocol (see core/taskflow.py)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from ..economics import TASK_KINDS, task_price_micro
from ..errors import WireError
from ..events import ResultCommitment
from ..identity import Identity
from ..taskmsg import (
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
    Action,
    Execute,
    Rejected,
    SendAbandon,
    SendClaim,
    SendResult,
    StopExecution,
    TokenBucket,
    header_problem,
    receive_with,
)

# --- the worker ----------------------------------------------------------------------

MAX_CLAIM_WAIT_MS = 5 * 60_000  # standby claims are assigned within a few assignment timeouts


def list_price(announce: TaskAnnounce) -> int:
    """The default local minimum: the network's price for the kind, size and priority."""
    try:
        return task_price_micro(announce.kind, announce.size, announce.priority)
    except ValueError:
        return -1


class WorkerFlow:
    """One task, seen from a worker: idle → claimed → executing → done.

    Other end states: `abandoned` (failed or too late), `cancelled`, `expired` (never
    assigned before the task's deadline).
    """

    def __init__(
        self,
        identity: Identity,
        network: bytes,
        *,
        kinds: Collection[str] = TASK_KINDS,
        min_price: Callable[[TaskAnnounce], int] = list_price,
        limiter: TokenBucket | None = None,
    ) -> None:
        self.identity = identity
        self.network = network
        self.kinds = frozenset(kinds)
        self.min_price = min_price
        self.limiter = limiter
        self.state = "idle"
        self.announce: TaskAnnounce | None = None
        self.deadline_ms = 0
        self.claimed_ms = 0

    def receive(self, data: bytes, now_ms: int) -> list[Action]:
        """Parse bytes from a peer and dispatch them (announces, assigns, cancels)."""
        return receive_with(self.handle, data, now_ms)

    def handle(self, msg: TaskMessage, now_ms: int) -> list[Action]:
        """Dispatch an already parsed (and so authenticated) message."""
        if isinstance(msg, TaskAnnounce):
            return self.on_announce(msg, now_ms)
        if isinstance(msg, Assign):
            return self.on_assign(msg, now_ms)
        if isinstance(msg, Cancel):
            return self.on_cancel(msg, now_ms)
        return [Rejected(f"a worker does not take {msg.T} messages")]

    def on_announce(self, announce: TaskAnnounce, now_ms: int) -> list[Action]:
        if self.state != "idle":
            return [Rejected(f"already {self.state} a task")]
        problem = header_problem(announce, self.network, announce.task, now_ms)
        if problem is not None:
            return [Rejected(problem)]
        if announce.sender == self.identity.public_key:
            return [Rejected("own task")]
        if announce.deadline_ms <= now_ms:
            return [Rejected("task expired")]
        if not announce.open_to(self.identity.public_key):
            return [Rejected("the task is reserved for other workers")]
        if announce.kind not in self.kinds:
            return [Rejected(f"task kind {announce.kind!r} not accepted here")]
        minimum = self.min_price(announce)
        if minimum < 0 or announce.price < minimum:
            return [Rejected(f"price {announce.price} below the local minimum {minimum}")]
        if self.limiter is not None and not self.limiter.allow(announce.sender, now_ms):
            return [Rejected("submitter is rate limited")]
        claim = Claim.create(
            self.identity,
            network=self.network,
            task=announce.task,
            ts=now_ms,
            submitter=announce.sender,
        )
        self.state = "claimed"
        self.announce = announce
        self.claimed_ms = now_ms
        return [SendClaim(announce.sender, claim)]

    def _from_submitter(self, msg: Assign | Cancel, now_ms: int) -> str | None:
        if self.announce is None:
            return "never claimed this task"
        problem = header_problem(msg, self.network, self.announce.task, now_ms)
        if problem is None and msg.sender != self.announce.sender:
            problem = "not from the task's submitter"
        if problem is None and msg.worker != self.identity.public_key:
            problem = "addressed to another worker"
        return problem

    def on_assign(self, assign: Assign, now_ms: int) -> list[Action]:
        problem = self._from_submitter(assign, now_ms)
        if problem is not None:
            return [Rejected(problem)]
        assert self.announce is not None
        if self.state != "claimed":
            return [Rejected(f"cannot take an assignment while {self.state}")]
        if assign.kind != self.announce.kind:
            return [Rejected("assignment kind differs from the announce")]
        if assign.deadline_ms <= now_ms:
            return [Rejected("assignment already expired")]
        try:
            payload = open_payload(self.identity, assign.sender, assign.payload)
        except WireError as exc:
            return [Rejected(f"payload does not open: {exc}")]
        self.state = "executing"
        self.deadline_ms = assign.deadline_ms
        return [Execute(assign.task, assign.kind, payload, assign.deadline_ms)]

    def on_executed(self, value: Any, now_ms: int, cpu_ms: int = 0) -> list[Action]:
        """The pool finished: seal the result to the submitter with a signed commitment."""
        if self.state != "executing" or self.announce is None:
            return [Rejected(f"nothing is executing (state {self.state})")]
        if now_ms > self.deadline_ms:
            self.state = "abandoned"
            return [Rejected("finished after the assignment deadline; result not sent")]
        a = self.announce
        try:
            sealed = seal_payload(self.identity, a.sender, value)
            commitment = ResultCommitment.create(
                self.identity, self.network, a.task, result_hash(value)
            )
            result = Result.create(
                self.identity,
                network=self.network,
                task=a.task,
                ts=now_ms,
                submitter=a.sender,
                result=sealed,
                commitment=commitment.encode(),
                cpu_ms=max(0, min(cpu_ms, 10**12)),
            )
        except WireError as exc:  # the result cannot be encoded or is too large
            return self.on_failed(f"result cannot be sent: {exc}", now_ms)
        self.state = "done"
        return [SendResult(a.sender, result)]

    def on_failed(self, reason: str, now_ms: int) -> list[Action]:
        """The execution failed: give the slot back so the submitter reassigns it at once."""
        if self.state != "executing" or self.announce is None:
            return [Rejected(f"nothing is executing (state {self.state})")]
        self.state = "abandoned"
        abandon = Abandon.create(
            self.identity,
            network=self.network,
            task=self.announce.task,
            ts=now_ms,
            submitter=self.announce.sender,
            reason=reason[:200],
        )
        return [SendAbandon(self.announce.sender, abandon)]

    def on_cancel(self, cancel: Cancel, now_ms: int) -> list[Action]:
        problem = self._from_submitter(cancel, now_ms)
        if problem is not None:
            return [Rejected(problem)]
        assert self.announce is not None
        if self.state not in ("claimed", "executing"):
            return [Rejected(f"nothing to cancel (state {self.state})")]
        was = self.state
        self.state = "cancelled"
        return [StopExecution(self.announce.task, cancel.reason)] if was == "executing" else []

    def tick(self, now_ms: int) -> list[Action]:
        """A claim never assigned expires at the task's deadline, or after MAX_CLAIM_WAIT_MS
        (a submitter announcing far-off deadlines cannot make workers hold state forever)."""
        if self.state == "claimed" and self.announce is not None:
            give_up = min(self.announce.deadline_ms, self.claimed_ms + MAX_CLAIM_WAIT_MS)
            if now_ms >= give_up:
                self.state = "expired"
        return []
