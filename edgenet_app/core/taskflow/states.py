"""The states of the task flows and their transition tables (h11 style).

Each flow's state is a `StrEnum` (so it compares equal to its plain string value:
`flow.state == "executing"`), and every change of state is one entry of a table mapping
`(state, event) → next state`. A flow changes state only through its `_transition(event)`,
which takes the table's entry; a pair missing from the table is refused before anything
changes (the flow returns `Rejected(reason)`, or nothing for a timer). End states have no
entry at all: once there, a flow stays there.

Worker (`WorkerFlow`), one task seen from a worker:

- idle --claim--> claimed --assign--> executing --result--> done;
- claimed --expire--> expired; executing --late | abandon--> abandoned;
- claimed | executing --cancel--> cancelled.

Submitter (`SubmitterFlow`), one task seen from its submitter:

- new --start--> open --decide--> decided; open --deadline--> expired;
- open takes claim, result, abandon, worker_lost and tick and stays open.
"""

from __future__ import annotations

from enum import StrEnum


class WorkerState(StrEnum):
    IDLE = "idle"  # announce not taken (yet)
    CLAIMED = "claimed"  # claim sent, waiting for an assignment
    EXECUTING = "executing"  # assigned: the payload runs
    DONE = "done"  # result sent
    ABANDONED = "abandoned"  # the execution failed, or finished after its deadline
    CANCELLED = "cancelled"  # the submitter cancelled it
    EXPIRED = "expired"  # never assigned in time


class WorkerEvent(StrEnum):
    CLAIM = "claim"  # an announce was accepted: a claim goes to the submitter
    ASSIGN = "assign"  # an assignment was accepted: the payload is executed
    RESULT = "result"  # the execution finished in time: the result goes to the submitter
    LATE = "late"  # the execution finished after the assignment deadline: nothing is sent
    ABANDON = "abandon"  # the execution failed: an abandon goes to the submitter
    CANCEL = "cancel"  # the submitter cancelled the task
    EXPIRE = "expire"  # a claim was never assigned before the task deadline or the wait limit


WORKER_TRANSITIONS: dict[tuple[WorkerState, WorkerEvent], WorkerState] = {
    (WorkerState.IDLE, WorkerEvent.CLAIM): WorkerState.CLAIMED,
    (WorkerState.CLAIMED, WorkerEvent.ASSIGN): WorkerState.EXECUTING,
    (WorkerState.CLAIMED, WorkerEvent.CANCEL): WorkerState.CANCELLED,
    (WorkerState.CLAIMED, WorkerEvent.EXPIRE): WorkerState.EXPIRED,
    (WorkerState.EXECUTING, WorkerEvent.RESULT): WorkerState.DONE,
    (WorkerState.EXECUTING, WorkerEvent.LATE): WorkerState.ABANDONED,
    (WorkerState.EXECUTING, WorkerEvent.ABANDON): WorkerState.ABANDONED,
    (WorkerState.EXECUTING, WorkerEvent.CANCEL): WorkerState.CANCELLED,
}

WORKER_END_STATES = frozenset(
    {WorkerState.DONE, WorkerState.ABANDONED, WorkerState.CANCELLED, WorkerState.EXPIRED}
)


class SubmitterState(StrEnum):
    NEW = "new"  # not announced yet
    OPEN = "open"  # announced: claims, assignments and results come and go
    DECIDED = "decided"  # enough results arrived: a consensus verdict
    EXPIRED = "expired"  # the task deadline passed first: a failed verdict, all refunded


class SubmitterEvent(StrEnum):
    START = "start"  # the first announce
    CLAIM = "claim"  # a claim was taken (assigned, or put on standby)
    RESULT = "result"  # a result was taken
    ABANDON = "abandon"  # a worker gave its assignment back
    WORKER_LOST = "worker_lost"  # the link to an assigned worker closed
    TICK = "tick"  # timers: silent workers dropped, slots reassigned, announce repeated
    DECIDE = "decide"  # the last result needed arrived: consensus decides
    DEADLINE = "deadline"  # the task deadline passed before a decision


SUBMITTER_TRANSITIONS: dict[tuple[SubmitterState, SubmitterEvent], SubmitterState] = {
    (SubmitterState.NEW, SubmitterEvent.START): SubmitterState.OPEN,
    (SubmitterState.OPEN, SubmitterEvent.CLAIM): SubmitterState.OPEN,
    (SubmitterState.OPEN, SubmitterEvent.RESULT): SubmitterState.OPEN,
    (SubmitterState.OPEN, SubmitterEvent.ABANDON): SubmitterState.OPEN,
    (SubmitterState.OPEN, SubmitterEvent.WORKER_LOST): SubmitterState.OPEN,
    (SubmitterState.OPEN, SubmitterEvent.TICK): SubmitterState.OPEN,
    (SubmitterState.OPEN, SubmitterEvent.DECIDE): SubmitterState.DECIDED,
    (SubmitterState.OPEN, SubmitterEvent.DEADLINE): SubmitterState.EXPIRED,
}

SUBMITTER_END_STATES = frozenset({SubmitterState.DECIDED, SubmitterState.EXPIRED})
