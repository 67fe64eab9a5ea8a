"""Task protocol: the actions the state machines return, consensus, and rate limiting."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..economics import MAX_CLOCK_SKEW_MS, MAX_TASKS_PER_MINUTE
from ..errors import WireError
from ..taskmsg import Abandon, Assign, Cancel, Claim, Result, TaskAnnounce, TaskMessage, parse

MAX_MESSAGE_AGE_MS = 10 * 60 * 1000  # older messages are stale or replayed
DEFAULT_ASSIGN_TIMEOUT_MS = 60_000
MAX_STANDBY = 16
PRIORITY_RANK = {"high": 0, "normal": 1, "low": 2}


# --- actions -------------------------------------------------------------------------


@dataclass(frozen=True)
class SendTo:
    """Send `msg` to one peer over a direct link (claim, assign, result, abandon, cancel)."""

    peer: bytes
    msg: Claim | Assign | Result | Abandon | Cancel


@dataclass(frozen=True)
class Broadcast:
    """Flood `msg` to the mesh (an announce)."""

    msg: TaskAnnounce


@dataclass(frozen=True)
class Execute:
    task: bytes
    kind: str
    payload: Any
    deadline_ms: int


@dataclass(frozen=True)
class StopExecution:
    task: bytes
    reason: str


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class Payment:
    worker: bytes
    amount: int
    cpu_ms: int  # as reported by the worker; the ledger caps what it counts


@dataclass(frozen=True)
class Dissent:
    worker: bytes
    commitment: bytes  # the dissenter's encoded ResultCommitment
    evidence: tuple[bytes, ...]  # Slash(wrong_result) proofs, or () if not provable


@dataclass(frozen=True)
class Verdict:
    task: bytes
    verified: bool
    result: Any  # the agreed result (None if not verified)
    price: int
    budget: int  # price × announced redundancy
    redundancy: int  # how many results were required in the end
    payments: tuple[Payment, ...]
    dissenters: tuple[Dissent, ...]
    failed: tuple[bytes, ...]  # workers dropped (timeout, abandon)
    refund: int
    spot_check: bool
    reason: str

    @property
    def paid(self) -> tuple[bytes, ...]:
        return tuple(p.worker for p in self.payments)


@dataclass(frozen=True)
class Finished:
    verdict: Verdict


Action = SendTo | Broadcast | Execute | StopExecution | Rejected | Finished


# --- helpers -------------------------------------------------------------------------


def serve_order(announce: TaskAnnounce) -> tuple[int, int, int, bytes]:
    """Sort key for pending announces: high priority first, then the earliest deadline."""
    return (PRIORITY_RANK[announce.priority], announce.deadline_ms, announce.ts, announce.task)


def agrees(agree: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    try:
        return bool(agree(a, b))
    except Exception:  # a user predicate failing on odd peer data means "no agreement"
        return False


def consensus(
    values: Sequence[Any], agree: Callable[[Any, Any], bool], n: int
) -> tuple[int, ...] | None:
    """Indices of the winning group, or None.

    The winner is the largest set of mutually agreeing values, if it has more than n/2
    members and is the only set of that size (with a tolerance, agreement is not
    transitive, so two overlapping groups could otherwise both claim the majority).
    """
    m = len(values)
    ok = [[i == j or agrees(agree, values[i], values[j]) for j in range(m)] for i in range(m)]
    for size in range(m, n // 2, -1):
        groups = [
            g
            for g in itertools.combinations(range(m), size)
            if all(ok[a][b] and ok[b][a] for a, b in itertools.combinations(g, 2))
        ]
        if len(groups) == 1:
            return groups[0]
        if groups:
            return None
    return None


def receive_with(
    handle: Callable[[TaskMessage, int], list[Action]], data: bytes, now_ms: int
) -> list[Action]:
    """Parse bytes from a peer (authenticating them) and pass the message to `handle`."""
    try:
        msg = parse(data)
    except WireError as exc:
        return [Rejected(f"bad message: {exc}")]
    return handle(msg, now_ms)


def header_problem(msg: TaskMessage, network: bytes, task: bytes, now_ms: int) -> str | None:
    if msg.network != network:
        return "message of another network"
    if msg.task != task:
        return "message for another task"
    if msg.ts > now_ms + MAX_CLOCK_SKEW_MS:
        return "message stamped too far in the future"
    if msg.ts < now_ms - MAX_MESSAGE_AGE_MS:
        return "message too old (stale or replayed)"
    return None


class TokenBucket:
    """Per-identity token buckets: `rate_per_s` tokens per second, at most `burst`.

    Pure: time is passed in. Memory is bounded by `capacity` identities (least recently
    seen dropped first). A clock that goes backwards refills nothing.
    """

    def __init__(
        self,
        rate_per_s: float = MAX_TASKS_PER_MINUTE / 60,
        burst: float = 60.0,
        capacity: int = 10_000,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or capacity < 1:
            raise ValueError("rate, burst and capacity must be positive (burst ≥ 1)")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.capacity = capacity
        self._buckets: OrderedDict[bytes, tuple[float, int]] = OrderedDict()

    def allow(self, identity: bytes, now_ms: int, cost: float = 1.0) -> bool:
        tokens, last = self._buckets.pop(identity, (self.burst, now_ms))
        if now_ms > last:
            tokens = min(self.burst, tokens + (now_ms - last) * self.rate_per_s / 1000)
            last = now_ms
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        self._buckets[identity] = (tokens, last)
        while len(self._buckets) > self.capacity:
            self._buckets.popitem(last=False)
        return allowed
