"""Task-protocol state machines, sans-IO (h11 style).

The runtime feeds decoded messages (`taskmsg`) and the time (`now_ms`) into a flow and
performs the actions it returns:

- `SendTo(peer, msg)`: send a direct message (a `Claim`, `Assign`, `Result`, `Abandon` or
  `Cancel`) to one peer over a link;
- `Broadcast(msg)`: flood a `TaskAnnounce` to the mesh;
- `Execute(...)` / `StopExecution(...)`: run a payload, or stop it;
- `Finished(Verdict)`: the submitter's task is over; settle the verdict;
- `Rejected(reason)`: the input was refused (nothing to perform; worth a log line).

Flows never read clocks, never touch the network and never raise on peer input: bad,
late, replayed or foreign input comes back as `Rejected(reason)` and leaves the flow's
state as it was.

Each flow's `state` is an enum (`WorkerState`, `SubmitterState`, both `StrEnum`s, so
`flow.state == "executing"` holds) and every change of state is an entry of its table
(`WORKER_TRANSITIONS`, `SUBMITTER_TRANSITIONS`: `(state, event) → next state`, in
`states.py`, with the end states `WORKER_END_STATES` and `SUBMITTER_END_STATES`, which
have no way out). An event with no entry for the current state is refused as above.

`SubmitterFlow` runs one task for its submitter: announce → claims → assign (payload sealed
to each chosen worker) → results (sealed to the submitter, each with the worker's signed
`ResultCommitment`) → consensus → `Finished(Verdict)`. Rules:

- Workers are chosen first come, first served; duplicates, the submitter itself and workers
  that already failed this task are refused; extra claimers wait on a bounded standby list.
- A trusted first claimer (`trusted(worker)`, e.g. `economics.may_run_alone`) runs the task
  alone, unless it is a spot-check or a random audit (probability `audit_rate`) picks it;
  if that lone worker fails, the task falls back to the announced redundancy.
- Each assignment has a deadline (`assign_timeout_ms`, never past the task's deadline); a
  silent worker is dropped at `tick`, gets a `Cancel`, and its slot goes to the next
  standby claimer, or the task is re-announced. An `Abandon` frees the slot at once.
- Consensus over the N results: the largest group of mutually agreeing results (by
  `agree`), if it is a strict majority (> N/2) and no other group of that size exists.
  With a `known_answer` (spot-check) the group is the results that agree with it.
- Verdict: each member of the group is paid `price` once; the rest of the budget
  (price × announced redundancy) is refunded. Results outside the group are dissenters;
  their slash evidence is their commitment followed by ≥ 2 commitments of group members
  with one identical result hash that disagrees with theirs (what `core.ledger` checks),
  or empty when no such pair exists (e.g. a unanimous wrong answer to a spot-check).
- At the task deadline an unfinished task fails: nobody is paid, everything is refunded.

`WorkerFlow` runs one task for a worker: announce → claim (kind allowed, price ≥ the
local minimum, not expired, submitter within its rate limit) → assign → `Execute` →
result. A failed execution sends an `Abandon`; one finished after the assignment deadline
sends nothing; a `Cancel` from the submitter stops it; a claim never assigned expires at
the task deadline (or after `worker.MAX_CLAIM_WAIT_MS`). `TokenBucket` is the
per-identity rate limiter.
"""

from .common import (
    DEFAULT_ASSIGN_TIMEOUT_MS,
    MAX_MESSAGE_AGE_MS,
    MAX_STANDBY,
    PRIORITY_RANK,
    Action,
    Broadcast,
    Dissent,
    Execute,
    Finished,
    Payment,
    Rejected,
    SendTo,
    StopExecution,
    TokenBucket,
    Verdict,
    consensus,
    serve_order,
)
from .states import (
    SUBMITTER_END_STATES,
    SUBMITTER_TRANSITIONS,
    WORKER_END_STATES,
    WORKER_TRANSITIONS,
    SubmitterEvent,
    SubmitterState,
    WorkerEvent,
    WorkerState,
)
from .submitter import SubmitterFlow
from .worker import WorkerFlow, list_price

__all__ = [
    "DEFAULT_ASSIGN_TIMEOUT_MS",
    "MAX_MESSAGE_AGE_MS",
    "MAX_STANDBY",
    "PRIORITY_RANK",
    "SUBMITTER_END_STATES",
    "SUBMITTER_TRANSITIONS",
    "WORKER_END_STATES",
    "WORKER_TRANSITIONS",
    "Action",
    "Broadcast",
    "Dissent",
    "Execute",
    "Finished",
    "Payment",
    "Rejected",
    "SendTo",
    "StopExecution",
    "SubmitterEvent",
    "SubmitterFlow",
    "SubmitterState",
    "TokenBucket",
    "Verdict",
    "WorkerEvent",
    "WorkerFlow",
    "WorkerState",
    "consensus",
    "list_price",
    "serve_order",
]
