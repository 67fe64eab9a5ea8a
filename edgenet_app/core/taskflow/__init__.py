"""Task-protocol state machines, sans-IO (h11 style).

The runtime feeds decoded messages (`taskmsg`) and the time (`now_ms`) into a flow and
performs the actions it returns (send a message, execute a payload, settle a verdict).
Flows never read clocks, never touch the network and never raise on peer input: bad,
late, replayed or foreign input comes back as `Rejected(reason)` and leaves the flow's
state as it was.

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
result. `TokenBucket` is the per-identity rate limiter.
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
    SendAbandon,
    SendAnnounce,
    SendAssign,
    SendCancel,
    SendClaim,
    SendResult,
    SendTo,
    StopExecution,
    TokenBucket,
    Verdict,
    consensus,
    serve_order,
)
from .submitter import SubmitterFlow
from .worker import WorkerFlow, list_price

__all__ = [
    "DEFAULT_ASSIGN_TIMEOUT_MS",
    "MAX_MESSAGE_AGE_MS",
    "MAX_STANDBY",
    "PRIORITY_RANK",
    "Action",
    "Broadcast",
    "Dissent",
    "Execute",
    "Finished",
    "Payment",
    "Rejected",
    "SendAbandon",
    "SendAnnounce",
    "SendAssign",
    "SendCancel",
    "SendClaim",
    "SendResult",
    "SendTo",
    "StopExecution",
    "SubmitterFlow",
    "TokenBucket",
    "Verdict",
    "WorkerFlow",
    "consensus",
    "list_price",
    "serve_order",
]
