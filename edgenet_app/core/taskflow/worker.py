"""The worker's side of the task protocol (see the package docstring; states in states.py)."""

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
    SendTo,
    StopExecution,
    TokenBucket,
    header_problem,
    receive_with,
)
from .states import WORKER_TRANSITIONS, WorkerEvent, WorkerState

# --- the worker ----------------------------------------------------------------------

MAX_CLAIM_WAIT_MS = 5 * 60_000  # standby claims are assigned within a few assignment timeouts

# Why an event the table has no transition for is refused, by event.
_REFUSALS = {
    WorkerEvent.CLAIM: "already {state} a task",
    WorkerEvent.ASSIGN: "cannot take an assignment while {state}",
    WorkerEvent.RESULT: "nothing is executing (state {state})",
    WorkerEvent.LATE: "nothing is executing (state {state})",
    WorkerEvent.ABANDON: "nothing is executing (state {state})",
    WorkerEvent.CANCEL: "nothing to cancel (state {state})",
    WorkerEvent.EXPIRE: "no claim to expire (state {state})",
}


def list_price(announce: TaskAnnounce) -> int:
    """The default local minimum: the network's price for the kind, size and priority."""
    try:
        return task_price_micro(announce.kind, announce.size, announce.priority)
    except ValueError:
        return -1


class WorkerFlow:
    """One task, seen from a worker: idle → claimed → executing → done.

    Other end states: `abandoned` (failed or too late), `cancelled`, `expired` (never
    assigned before the task's deadline). Every change of `state` is an entry of
    `WORKER_TRANSITIONS`.
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
        self.state = WorkerState.IDLE
        self.announce: TaskAnnounce | None = None
        self.deadline_ms = 0
        self.claimed_ms = 0

    def _refusal(self, event: WorkerEvent) -> Rejected | None:
        """`Rejected(reason)` if the table has no transition for `event` from this state."""
        if (self.state, event) in WORKER_TRANSITIONS:
            return None
        return Rejected(_REFUSALS[event].format(state=self.state))

    def _transition(self, event: WorkerEvent) -> None:
        """Take the table's transition for `event` (its callers check `_refusal` first)."""
        new = WORKER_TRANSITIONS.get((self.state, event))
        if new is None:
            raise RuntimeError(f"bug: no worker transition for {event} from {self.state}")
        self.state = new

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
        refused = self._refusal(WorkerEvent.CLAIM)
        if refused is not None:
            return [refused]
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
        self._transition(WorkerEvent.CLAIM)
        self.announce = announce
        self.claimed_ms = now_ms
        return [SendTo(announce.sender, claim)]

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
        refused = self._refusal(WorkerEvent.ASSIGN)
        if refused is not None:
            return [refused]
        if assign.kind != self.announce.kind:
            return [Rejected("assignment kind differs from the announce")]
        if assign.deadline_ms <= now_ms:
            return [Rejected("assignment already expired")]
        try:
            payload = open_payload(self.identity, assign.sender, assign.payload)
        except WireError as exc:
            return [Rejected(f"payload does not open: {exc}")]
        self._transition(WorkerEvent.ASSIGN)
        self.deadline_ms = assign.deadline_ms
        return [Execute(assign.task, assign.kind, payload, assign.deadline_ms)]

    def on_executed(self, value: Any, now_ms: int, cpu_ms: int = 0) -> list[Action]:
        """The pool finished: seal the result to the submitter with a signed commitment."""
        refused = self._refusal(WorkerEvent.RESULT)
        if refused is not None:
            return [refused]
        assert self.announce is not None
        if now_ms > self.deadline_ms:
            self._transition(WorkerEvent.LATE)
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
        self._transition(WorkerEvent.RESULT)
        return [SendTo(a.sender, result)]

    def on_failed(self, reason: str, now_ms: int) -> list[Action]:
        """The execution failed: give the slot back so the submitter reassigns it at once."""
        refused = self._refusal(WorkerEvent.ABANDON)
        if refused is not None:
            return [refused]
        assert self.announce is not None
        self._transition(WorkerEvent.ABANDON)
        abandon = Abandon.create(
            self.identity,
            network=self.network,
            task=self.announce.task,
            ts=now_ms,
            submitter=self.announce.sender,
            reason=reason[:200],
        )
        return [SendTo(self.announce.sender, abandon)]

    def on_cancel(self, cancel: Cancel, now_ms: int) -> list[Action]:
        problem = self._from_submitter(cancel, now_ms)
        if problem is not None:
            return [Rejected(problem)]
        assert self.announce is not None
        refused = self._refusal(WorkerEvent.CANCEL)
        if refused is not None:
            return [refused]
        was = self.state
        self._transition(WorkerEvent.CANCEL)
        if was is WorkerState.EXECUTING:
            return [StopExecution(self.announce.task, cancel.reason)]
        return []

    def tick(self, now_ms: int) -> list[Action]:
        """A claim never assigned expires at the task's deadline, or after MAX_CLAIM_WAIT_MS
        (a submitter announcing far-off deadlines cannot make workers hold state forever)."""
        if self._refusal(WorkerEvent.EXPIRE) is None and self.announce is not None:
            give_up = min(self.announce.deadline_ms, self.claimed_ms + MAX_CLAIM_WAIT_MS)
            if now_ms >= give_up:
                self._transition(WorkerEvent.EXPIRE)
        return []
