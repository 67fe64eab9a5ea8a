"""Batched settlements: this node's task payments, written as few `settlements` events.

A verified task's payments are queued and written together: at once if no batch was
written in the last SETTLE_EVERY_S (a quiet submitter pays at once), else SETTLE_EVERY_S
after the last one (a busy one pays up to MAX_BATCH_ITEMS workers an event, one event a
period: at 50 tasks a minute, one event per 12.5 tasks; below the rate the ledger allows
an author).
What is queued stays reserved, so nothing else spends it meanwhile. A batch the disk
cannot take stays queued and is retried; of one the rules refuse, the items no ledger will
ever take are dropped (logged) and the rest stays queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ...core import economics as econ
from ...core.errors import LedgerError
from ...core.events import Event, Pay, Settlements
from ...core.identity import Identity, node_id_of
from ...core.taskflow import Verdict
from ..store.ledger_store import LedgerStore
from ..store.store import StoreError
from .background import Background

log = logging.getLogger(__name__)

SETTLE_EVERY_S = 15.0  # at most one batch a period (the ledger allows one every 10 s)


class Settler:
    def __init__(
        self,
        identity: Identity,
        ledger: LedgerStore,
        *,
        publish: Callable[[list[Event]], Awaitable[None]],
        background: Background,
        clock: Callable[[], int],
        every_s: float = SETTLE_EVERY_S,
    ) -> None:
        self.identity, self.ledger = identity, ledger
        self._publish, self._bg, self._clock = publish, background, clock
        self.every_s = every_s
        self.queue: list[Pay] = []
        self._last_write = -float("inf")  # loop time of the last batch written
        self.pending = 0  # micro-credits queued, not yet written (reserved)
        self._timer: asyncio.TimerHandle | None = None
        self._writing = False

    async def pay(self, kind: str, verdict: Verdict) -> int:
        """Queue a verdict's payments, and write them at once if no batch was written in
        the last period (else when it ends); returns what they cost."""
        cost = 0
        queued = {(p.t, p.w) for p in self.queue}
        for p in verdict.payments:
            if (verdict.task, p.worker) in queued:  # a batch pays a (task, worker) once
                continue
            queued.add((verdict.task, p.worker))
            self.queue.append(Pay(verdict.task, p.worker, p.amount, p.cpu_ms, kind))
            cost += p.amount
        self.pending += cost
        if self.queue:
            wait = self._last_write + self.every_s - asyncio.get_running_loop().time()
            if wait <= 0 and self._timer is None:
                await self.flush()
            else:
                self._schedule(max(0.0, wait))
        return cost

    def _tokens(self) -> int:
        """Events the ledger lets this node write now (its rate bucket)."""
        acct = self.ledger.ledger.state.accounts.get(self.identity.public_key)
        return acct.tokens_at(self._clock()) // econ.HOUR_MS if acct else 0

    def _schedule(self, delay: float) -> None:
        if self._timer is not None or self._writing:
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._bg.spawn(self.flush())

    async def flush(self) -> list[Event]:
        """Write what is queued now (up to MAX_BATCH_ITEMS an event) and publish it."""
        if self._writing:
            return []
        self._writing = True
        written: list[Event] = []
        try:
            while self.queue and self._tokens() >= 1:
                batch = self.queue[: econ.MAX_BATCH_ITEMS]
                try:
                    written.append(self.ledger.append(self.identity, Settlements(tuple(batch))))
                except StoreError as exc:
                    log.warning("cannot write settlements (%d queued): %s", len(self.queue), exc)
                    break
                except LedgerError as exc:
                    if not self._drop_never_payable(batch):  # not an item's fault: later
                        log.warning("settlements wait (%d queued): %s", len(self.queue), exc)
                        break
                    continue
                del self.queue[: len(batch)]
                self.pending -= sum(p.a for p in batch)
                self._last_write = asyncio.get_running_loop().time()
                if len(self.queue) < econ.MAX_BATCH_ITEMS:
                    break  # a full batch more may go now; a part one waits its period
        finally:
            self._writing = False
        if self.queue:
            self._schedule(self.every_s)
        if written:
            await self._publish(written)
        return written

    def _drop_never_payable(self, batch: list[Pay]) -> bool:
        """Drop the items of `batch` no ledger will ever take (settled already, paying
        itself, an unknown kind); True if there were any. Everything else stays queued
        (and reserved): a refusal for want of credit or rate passes."""
        me = self.identity.public_key
        state = self.ledger.ledger.state
        bad = set()
        for p in batch:
            reason = state.payment_refusal(me, p.as_settlement())
            if reason is not None:
                log.warning("cannot settle with %s: %s", node_id_of(p.w), reason)
                self.pending -= p.a
                bad.add(id(p))
        self.queue = [p for p in self.queue if id(p) not in bad]
        return bool(bad)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
