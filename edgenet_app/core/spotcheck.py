"""Spot-checks with known answers (pure logic; the node drives them).

About one task in ten (`SPOT_CHECK_RATE`) that a node submits is followed by a
spot-check: a task whose answer the node already knows, sent like any other (same kind,
price, priority and deadline as the original; the payload sealed to each worker), so a
worker cannot tell it from real work. The workers that computed the original may not
claim it (they could recognise the payload), so the check goes to others, as many as the
original's redundancy when that many are linked. The results that agree with the known
answer are paid; a worker whose result disagrees is not paid and is barred by this node
for `BAR_MS` (it may not claim this node's tasks, and never runs one of them alone).

Known answers come from this node's own verified tasks, and only the strongest ones: at
least two results, all of them agreeing, no dissenter. Tasks on stored collections
(vector_insert, vector_search) are never reused: their answer depends on the workers'
state. The bank keeps the newest `BANK_SIZE` answers whose payload encodes to at most
`MAX_PAYLOAD_BYTES`, in memory only, as encoded copies (a caller changing its payload or
result object afterwards cannot change a known answer).

What this does not catch: workers that share what they computed can recognise a repeat
(a worker alone cannot: it never sees a check of a task it computed); two colluding
workers that were the only ones to verify a task can plant a wrong known answer, which
costs honest workers this node's trust (SECURITY.md).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import codec
from .economics import SPOT_CHECK_RATE
from .errors import CodecError
from .taskflow.common import Verdict

BANK_SIZE = 32
MAX_PAYLOAD_BYTES = 64 * 1024
BAR_MS = 24 * 3_600_000  # a worker that failed a spot-check is barred this long
STATEFUL_KINDS = frozenset({"vector_insert", "vector_search"})


@dataclass(frozen=True)
class KnownAnswer:
    kind: str
    payload_raw: bytes  # canonical encodings: immutable copies
    answer_raw: bytes
    redundancy: int
    priority: str
    timeout_s: float
    computed_by: frozenset[bytes]  # the original's workers: they may not claim the check

    @classmethod
    def of(
        cls,
        kind: str,
        payload: Any,
        answer: Any,
        redundancy: int,
        priority: str,
        timeout_s: float,
        computed_by: frozenset[bytes] = frozenset(),
    ) -> KnownAnswer:
        return cls(
            kind,
            codec.encode(payload),
            codec.encode(answer),
            redundancy,
            priority,
            timeout_s,
            computed_by,
        )

    @property
    def payload(self) -> Any:
        """A fresh copy, shaped as it travels (lists, not tuples)."""
        return codec.json_shaped(codec.decode(self.payload_raw))

    @property
    def answer(self) -> Any:
        return codec.json_shaped(codec.decode(self.answer_raw))


class AnswerBank:
    """The newest known answers, learnt from unanimous verified verdicts."""

    def __init__(self, capacity: int = BANK_SIZE) -> None:
        self._items: deque[KnownAnswer] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self._items)

    def learn(
        self, kind: str, payload: Any, priority: str, timeout_s: float, verdict: Verdict
    ) -> bool:
        """Keep this task's answer if it is strong enough to judge others by."""
        if kind in STATEFUL_KINDS or verdict.spot_check or not verdict.verified:
            return False
        if len(verdict.payments) < 2 or verdict.dissenters:
            return False
        try:
            known = KnownAnswer.of(
                kind,
                payload,
                verdict.result,
                verdict.redundancy,
                priority,
                timeout_s,
                frozenset(verdict.paid),
            )
        except CodecError:
            return False
        if len(known.payload_raw) > MAX_PAYLOAD_BYTES:
            return False
        self._items.append(known)
        return True

    def pick(
        self,
        rng: random.Random,
        rate: float = SPOT_CHECK_RATE,
        usable: Callable[[KnownAnswer], bool] = lambda known: True,
    ) -> KnownAnswer | None:
        """After a task: a known answer to spot-check with, `rate` of the time, among those
        `usable` (some worker that did not compute it can take it). Never the newest one:
        the workers that just computed it would see the same payload again."""
        if len(self._items) < 2 or rng.random() >= rate:
            return None
        candidates = [k for k in list(self._items)[:-1] if usable(k)]
        return candidates[rng.randrange(len(candidates))] if candidates else None


def barred(bars: Mapping[bytes, int], now_ms: int) -> frozenset[bytes]:
    """The workers still barred at `now_ms` (bars: worker -> barred until, ms)."""
    return frozenset(w for w, until in bars.items() if until > now_ms)
