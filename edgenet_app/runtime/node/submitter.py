"""The submitter's side of the task protocol: price and announce a task, pick and check
its workers, settle the verdict in the ledger, keep collections' holders (placement) and
follow some tasks with spot-checks."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...core import economics as econ
from ...core.errors import LedgerError, NodeError
from ...core.events import Event, Slash
from ...core.genesis import Genesis
from ...core.identity import Identity, node_id_of
from ...core.spotcheck import KnownAnswer
from ...core.submit import SubmitRequest
from ...core.taskflow import (
    Action,
    Broadcast,
    Finished,
    Rejected,
    SendTo,
    SubmitterFlow,
    TokenBucket,
    Verdict,
)
from ...core.taskmsg import Abandon, Claim, Result
from ..net.mesh import Mesh
from ..store.ledger_store import LedgerStore
from ..store.store import StoreError, TaskRecord
from .background import Background
from .counters import Counters
from .history import History
from .meta import MetaValue
from .notify import Notifier
from .outbox import deliver
from .placement import COLLECTION_KINDS, Placement
from .settle import Settler
from .spotchecks import SpotChecks

log = logging.getLogger(__name__)


@dataclass
class SubmitResult:
    result: Any
    cost: int  # micro-credits paid
    workers: list[str]
    verified: bool
    reason: str
    refund: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "cost": econ.format_credits(self.cost),
            "cost_micro": self.cost,
            "workers": self.workers,
            "verified": self.verified,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class _Task:
    """A priced task, ready to announce."""

    kind: str
    payload: Any
    agree: Callable[[Any, Any], bool]
    size: int
    price: int
    redundancy: int
    priority: str
    timeout_s: float


class Submitter:
    """Runs this node's tasks on the network. `publish(events)` sends settlements to the
    mesh and the node's listeners."""

    def __init__(
        self,
        identity: Identity,
        genesis: Genesis,
        ledger: LedgerStore,
        mesh: Mesh,
        placement: Placement,
        *,
        bars: MetaValue,
        spot_check_rate: Callable[[], float],
        history: History,
        counters: Counters,
        publish: Callable[[list[Event]], Awaitable[None]],
        background: Background,
        notifier: Notifier,
        clock: Callable[[], int],
    ) -> None:
        self.identity, self.genesis, self.ledger = identity, genesis, ledger
        self.mesh, self.placement = mesh, placement
        self._history, self._counters, self._publish = history, counters, publish
        self._bg, self._clock = background, clock
        self.flows: dict[bytes, tuple[SubmitterFlow, asyncio.Future[Verdict]]] = {}
        self.in_flight = 0  # budgets of tasks in flight (micro-credits)
        self.settler = Settler(
            identity, ledger, publish=publish, background=background, clock=clock
        )
        self._claims_in = TokenBucket()  # claims per worker
        self.spot_checks = SpotChecks(
            ledger.ledger,
            mesh,
            bars,
            rate=spot_check_rate,
            run=self._run_check,
            spendable=self.spendable,
            notifier=notifier,
            background=background,
            clock=clock,
        )

    def spendable(self) -> int:
        """Credits this node may spend now: available, less what tasks in flight reserve."""
        me = self.identity.public_key
        return self.ledger.ledger.balance(me, self._clock()).available - self.reserved

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        """Run a task on the network, pay the workers that agreed, return the result."""
        from ...tasks.registry import get_kind  # numpy & co. only once this node submits

        kind, payload, redundancy = request.kind, request.payload, request.redundancy
        k = get_kind(kind)
        parsed = k.parse(payload)
        size = k.size(parsed)
        only: tuple[bytes, ...] = ()
        collection: str | None = None
        if kind in COLLECTION_KINDS:
            collection = parsed.collection
            only = self.placement.holders(collection)
            if kind == "vector_search":
                if not only:
                    raise NodeError(
                        f"no worker holds collection {collection!r} yet: "
                        "insert vectors first (vector_insert)"
                    )
                redundancy = min(redundancy, len(only))
            elif only:
                redundancy = len(only)  # every holder applies every insert
        price = econ.task_price_micro(kind, size, request.priority)
        budget = price * redundancy
        if request.max_credits is not None and budget > request.max_credits:
            raise NodeError(
                f"the task costs up to {econ.format_credits(budget)} credits; "
                f"--max-credits is {econ.format_credits(request.max_credits)}"
            )
        if self.identity.public_key in self.ledger.learning:
            raise NodeError(
                "this identity's ledger chain is still being learned from peers (a restored "
                "key or a new store); tasks can be paid for once a peer has shown it"
            )
        available = self.spendable()
        if budget > available:
            raise NodeError(
                f"the task needs {econ.format_credits(budget)} credits; "
                f"{econ.format_credits(max(0, available))} are available"
                + (" (the rest is reserved by tasks in flight)" if self.reserved else "")
            )
        task = _Task(
            kind,
            payload,
            k.verification.agree,
            size,
            price,
            redundancy,
            request.priority,
            request.timeout_s,
        )
        verdict, cost = await self._run(task, only=only)
        self.spot_checks.after(kind, payload, request.priority, request.timeout_s, verdict)
        if collection is not None and kind == "vector_insert" and verdict.verified:
            self.placement.set_holders(collection, verdict.paid)
        elif collection is not None and verdict.verified:  # a search: drop dissenters
            lost = {d.worker for d in verdict.dissenters}
            if lost:
                self.placement.set_holders(collection, tuple(w for w in only if w not in lost))
        return SubmitResult(
            verdict.result,
            cost,
            [node_id_of(p.worker) for p in verdict.payments],
            verdict.verified,
            verdict.reason,
            verdict.refund,
        )

    async def _run_check(
        self, known: KnownAnswer, redundancy: int, size: int, price: int
    ) -> Verdict:
        from ...tasks.registry import get_kind

        agree = get_kind(known.kind).verification.agree
        task = _Task(
            known.kind, known.payload, agree, size, price, redundancy, known.priority,
            known.timeout_s,
        )  # fmt: skip
        verdict, _ = await self._run(task, known=known)
        return verdict

    async def _run(
        self,
        t: _Task,
        *,
        only: tuple[bytes, ...] = (),
        known: KnownAnswer | None = None,
    ) -> tuple[Verdict, int]:
        """Announce, assign, verify, settle and record one task: (verdict, cost paid).

        Workers barred after a failed spot-check may not claim it, except a task reserved
        for a collection's holders (`only`): those alone hold the data. A spot-check
        (`known`) is not claimed by the workers that computed its original."""
        also_barred = known.computed_by if known is not None else frozenset()
        shut_out = also_barred if only else self.spot_checks.barred_now() | also_barred
        task_id = os.urandom(16)
        budget = t.price * t.redundancy
        flow = SubmitterFlow(
            self.identity,
            self.genesis.network_id,
            task_id,
            t.kind,
            t.payload,
            t.price,
            t.redundancy,
            t.priority,
            self._clock() + int(t.timeout_s * 1000),
            t.agree,
            self.trusted,
            random.Random(task_id),
            None if known is None else known.answer,
            size=t.size,
            limiter=self._claims_in,
            only=only,
            barred=shut_out,
            # a silent worker is replaced after half the task's time (≥ 5 s, ≤ 60 s)
            assign_timeout_ms=int(min(60.0, max(5.0, t.timeout_s / 2)) * 1000),
        )
        fut: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self.flows[task_id] = (flow, fut)
        if known is None:
            self._counters.tasks_submitted += 1
        self.in_flight += budget
        started = self._clock()
        try:
            await self._perform(flow.start(started), flow)
            verdict = await asyncio.wait_for(fut, t.timeout_s + 5)
            cost = await self._settle(t.kind, verdict)
        finally:
            self.in_flight -= budget
            self.flows.pop(task_id, None)
        self._history.record(
            TaskRecord(
                task_id.hex(),
                t.kind,
                "spot-check" if known is not None else "submitted",
                "done" if verdict.verified else "failed",
                started,
                self._clock(),
                cost,
                None if verdict.verified else verdict.reason[:500],
            )
        )
        return verdict, cost

    def handle(self, msg: Claim | Result | Abandon) -> None:
        """A message from a worker (the sender was checked by the caller)."""
        entry = self.flows.get(msg.task)
        if entry is not None:
            self._act(entry[0].handle(msg, self._clock()), entry[0])

    def tick(self, now: int) -> None:
        for flow, _ in list(self.flows.values()):
            self._act(flow.tick(now), flow)

    def peer_lost(self, peer: bytes) -> None:
        """Reassign at once what `peer` held for us (a result it still sends is refused;
        the task does not wait for a dead worker)."""
        now = self._clock()
        for flow, _ in list(self.flows.values()):
            actions = flow.on_peer_lost(peer, now)
            if actions:
                log.info("worker %s vanished; reassigning", node_id_of(peer))
                self._bg.spawn(self._perform(actions, flow))

    def cancel_all(self) -> None:
        for _, fut in self.flows.values():
            if not fut.done():
                fut.cancel()

    def trusted(self, worker: bytes) -> bool:
        """Reputation-weighted trust: a proven host may run a task alone (core/economics)."""
        if self.spot_checks.is_barred(worker):
            return False
        acct = self.ledger.ledger.state.accounts.get(worker)
        if acct is None or acct.staked < econ.STAKE_REQUIRED or acct.staked_since is None:
            return False
        return econ.may_run_alone(
            acct.valid_results, self._clock() - acct.staked_since, acct.offences > 0
        )

    def _act(self, actions: list[Action], flow: SubmitterFlow) -> None:
        """Perform actions in the background: a link's reader must never wait on a send."""
        if actions:
            self._bg.spawn(self._perform(actions, flow))

    async def _perform(self, actions: list[Action], flow: SubmitterFlow) -> None:
        for action in actions:
            if isinstance(action, SendTo | Broadcast):
                await deliver(self.mesh, action)
            elif isinstance(action, Finished):
                entry = self.flows.pop(flow.task, None)
                if entry is not None and not entry[1].done():
                    entry[1].set_result(action.verdict)
            elif isinstance(action, Rejected):
                log.info("rejected: %s", action.reason)

    @property
    def reserved(self) -> int:
        """What this node may not spend otherwise: budgets of tasks in flight, and payments
        queued for the next settlements batch (micro-credits)."""
        return self.in_flight + self.settler.pending

    async def _settle(self, kind: str, verdict: Verdict) -> int:
        """Queue the payments (written in a batch, `Settler`) and slash what is provable."""
        cost = await self.settler.pay(kind, verdict)
        events: list[Event] = []
        for dissent in verdict.dissenters:
            if not dissent.evidence:
                log.info("%s dissented without provable evidence", node_id_of(dissent.worker))
                continue
            try:
                events.append(
                    self.ledger.append(
                        self.identity, Slash(dissent.worker, "wrong_result", dissent.evidence)
                    )
                )
                log.warning("slashed %s for a wrong result", node_id_of(dissent.worker))
            except (LedgerError, StoreError) as exc:
                log.info("cannot slash %s: %s", node_id_of(dissent.worker), exc)
        await self._publish(events)
        return cost
