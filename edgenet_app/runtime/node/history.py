"""The node's task history: what it ran and submitted, and what it earned over time."""

from __future__ import annotations

import logging

from ...core.events import payments
from ...core.ledger import Ledger
from ...core.status import NodeHistory, TaskEntry
from ..store.store import Store, StoreError, TaskRecord

log = logging.getLogger(__name__)

MAX_EARNING_POINTS = 500


class History:
    """Records finished tasks in the store and reads them back for the dashboard."""

    def __init__(self, store: Store, ledger: Ledger, me: bytes) -> None:
        self.store, self.ledger, self.me = store, ledger, me

    def record(self, record: TaskRecord) -> None:
        try:
            self.store.record_task(record)
        except (ValueError, StoreError) as exc:  # history is a convenience: never fail a task
            log.warning("could not record task %s: %s", record.task_id, exc)

    def recent(self, limit: int = 50) -> NodeHistory:
        """Recent tasks, and this node's earnings over time: cumulative micro-credits paid
        to it by settlements (task payments), one point per settlement in timestamp order,
        at most 500 points."""
        tasks = tuple(
            TaskEntry(
                r.task_id,
                r.kind,
                r.role,
                r.status,
                r.created_ms,
                r.finished_ms,
                r.cost_micro,
                r.error,
            )
            for r in self.store.task_history(max(0, min(limit, 1000)))
        )
        paid = sorted(
            (ev.ts, pay.amount)
            for ev in self.ledger.events()
            for pay in payments(ev.body)
            if pay.worker == self.me
        )
        earnings: list[tuple[int, int]] = []
        total = 0
        for ts, amount in paid:
            total += amount
            earnings.append((ts, total))
        if len(earnings) > MAX_EARNING_POINTS:
            step = len(earnings) / MAX_EARNING_POINTS
            n = MAX_EARNING_POINTS - 1
            earnings = [earnings[int(i * step)] for i in range(n)] + [earnings[-1]]
        return NodeHistory(tasks, tuple(earnings))
