"""The node: identity, store, ledger, worker pool, relay, peer links and the task protocol.

`Node` is what `edgenet node` (headless) and the tray app run. It connects to the first
relay of the network that answers, dials the peers already online (newcomers dial, so two
peers never dial each other at once), keeps the ledger in sync over every link, executes
announced tasks in its worker pool as a worker, and submits tasks as a submitter: the
sans-IO flows in `core/taskflow*` decide, this class performs their actions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import economics as econ
from ..core.errors import EdgenetError, LedgerError, WireError
from ..core.events import GenesisGrant, Settlement
from ..core.genesis import Genesis
from ..core.identity import Identity, node_id_of
from ..core.peerwire import Gossip
from ..core.taskflow import (
    Action,
    Execute,
    Finished,
    Rejected,
    SendAbandon,
    SendAnnounce,
    SendAssign,
    SendCancel,
    SendClaim,
    SendResult,
    StopExecution,
    SubmitterFlow,
    Verdict,
    WorkerFlow,
)
from ..core.taskmsg import Abandon, Assign, Cancel, Claim, Result, TaskAnnounce, parse
from ..tasks.base import Limits, TaskError
from ..tasks.registry import get_kind
from . import keystore
from .ledger_store import LedgerStore, now_ms
from .mesh import Mesh
from .pool import PoolTask, WorkerPool
from .relay_client import RelayClient, RelayError
from .webrtc import PeerHub, PeerLink, loopback_only

log = logging.getLogger("edgenet.node")

TARGET_DEGREE = 8
TICK_S = 0.1


class NodeError(EdgenetError):
    pass


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


@dataclass
class NodeOptions:
    relays: tuple[str, ...] = ()
    cpu_limit: float = 0.3
    kinds: tuple[str, ...] = econ.TASK_KINDS
    ice_servers: tuple[str, ...] = ()
    loopback: bool = False
    idle_timeout_s: float = 30.0
    limits: Limits = field(default_factory=Limits)
    passphrase: str | None = None


class Node:
    def __init__(self, data_dir: Path, genesis: Genesis, options: NodeOptions | None = None):
        self.data_dir = Path(data_dir)
        self.genesis = genesis
        self.options = options or NodeOptions()
        self.identity: Identity | None = None
        self.ledger: LedgerStore | None = None
        self.pool: WorkerPool | None = None
        self.mesh: Mesh | None = None
        self.started_ms = 0
        self.paused = False
        self.tasks_completed = 0
        self.tasks_submitted = 0
        self._submits: dict[bytes, tuple[SubmitterFlow, asyncio.Future[Verdict]]] = {}
        self._works: dict[bytes, WorkerFlow] = {}
        self._running: dict[bytes, PoolTask] = {}
        self._bg: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.identity, created = keystore.ensure_identity(self.data_dir, self.options.passphrase)
        if created:
            log.info("created identity %s", self.identity.node_id)
        self.ledger = LedgerStore.open(self.data_dir, self.genesis)
        self._claim_genesis_grant()
        self.pool = WorkerPool(
            self.data_dir,
            cpu_limit=self.options.cpu_limit,
            idle_timeout_s=self.options.idle_timeout_s,
            limits=self.options.limits,
            allowed_kinds=self.options.kinds,
        )
        if self.options.loopback:
            loopback_only()
        relay = await self._connect_relay()
        hub = PeerHub(relay, ice_servers=self.options.ice_servers, on_link=self._on_link)
        self.mesh = Mesh(hub, self.ledger, on_gossip=self._on_gossip, on_direct=self._on_direct)
        hub.start()
        self.started_ms = now_ms()
        for peer in list(relay.peers)[:TARGET_DEGREE]:
            self._spawn(self._dial(peer))
        self._ticker = asyncio.create_task(self._tick_loop())

    def _claim_genesis_grant(self) -> None:
        assert self.identity is not None and self.ledger is not None
        me = self.identity.public_key
        acct = self.ledger.ledger.state.accounts.get(me)
        if self.genesis.grant_for(me) and not (acct and acct.genesis_claimed):
            self.ledger.append(self.identity, GenesisGrant())
            log.info("claimed the genesis grant")

    async def _connect_relay(self) -> RelayClient:
        assert self.identity is not None
        urls = self.options.relays or self.genesis.body.relays
        if not urls:
            raise NodeError("no relay: pass --relay URL or use a network that lists relays")
        errors = []
        for url in urls:
            client = RelayClient(url, self.identity, self.genesis.network_id)
            try:
                await client.connect()
                return client
            except (RelayError, WireError) as exc:
                errors.append(f"{url}: {exc}")
        raise NodeError("no relay answered: " + "; ".join(errors))

    async def _dial(self, peer: bytes) -> None:
        assert self.mesh is not None
        try:
            await self.mesh.connect(peer)
        except (TimeoutError, RelayError, OSError) as exc:
            log.info("could not reach %s: %s", node_id_of(peer), exc or "timeout")

    async def _on_link(self, link: PeerLink) -> None:
        assert self.mesh is not None
        await self.mesh.attach(link)

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for t in list(self._bg):
            t.cancel()
        for _, fut in self._submits.values():
            if not fut.done():
                fut.cancel()
        if self.mesh is not None:
            await self.mesh.close()
            await self.mesh.hub.close()
        if self.pool is not None:
            await asyncio.to_thread(self.pool.shutdown)
        if self.ledger is not None:
            self.ledger.close()

    # -- the task protocol ----------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = now_ms()
            for flow, _ in list(self._submits.values()):
                await self._perform(flow.tick(now), flow)
            for task, wflow in list(self._works.items()):
                await self._perform(wflow.tick(now), wflow)
                if wflow.state in ("done", "abandoned", "cancelled", "expired"):
                    if now > wflow.deadline_ms:
                        del self._works[task]

    async def _on_gossip(self, g: Gossip, link: PeerLink) -> None:
        if g.kind != "announce" or self.paused or self.identity is None:
            return
        try:
            announce = TaskAnnounce.decode(g.body)
        except WireError as exc:
            log.info("bad announce from %s: %s", node_id_of(link.remote), exc)
            return
        if announce.sender == self.identity.public_key or announce.task in self._works:
            return
        flow = WorkerFlow(self.identity, self.genesis.network_id, kinds=self.options.kinds)
        self._works[announce.task] = flow
        await self._perform(flow.on_announce(announce, now_ms()), flow)

    async def _on_direct(self, body: bytes, link: PeerLink) -> None:
        try:
            msg = parse(body)
        except WireError as exc:
            log.info("bad task message from %s: %s", node_id_of(link.remote), exc)
            return
        if msg.sender != link.remote:
            log.info("task message relayed by another peer; ignored")
            return
        now = now_ms()
        if isinstance(msg, Claim | Result | Abandon):
            entry = self._submits.get(msg.task)
            if entry is not None:
                await self._perform(entry[0].handle(msg, now), entry[0])
        elif isinstance(msg, Assign | Cancel):
            wflow = self._works.get(msg.task)
            if wflow is not None:
                await self._perform(wflow.handle(msg, now), wflow)

    async def _perform(self, actions: list[Action], flow: SubmitterFlow | WorkerFlow) -> None:
        assert self.mesh is not None
        for action in actions:
            try:
                if isinstance(action, SendAnnounce):
                    await self.mesh.gossip("announce", action.announce.encode())
                elif isinstance(action, SendClaim):
                    await self.mesh.send_direct(action.submitter, action.claim.encode())
                elif isinstance(action, SendResult):
                    await self.mesh.send_direct(action.submitter, action.result.encode())
                elif isinstance(action, SendAbandon):
                    await self.mesh.send_direct(action.submitter, action.abandon.encode())
                elif isinstance(action, SendAssign):
                    await self.mesh.send_direct(action.worker, action.assign.encode())
                elif isinstance(action, SendCancel):
                    await self.mesh.send_direct(action.worker, action.cancel.encode())
                elif isinstance(action, Execute):
                    assert isinstance(flow, WorkerFlow)
                    self._spawn(self._execute(flow, action))
                elif isinstance(action, StopExecution):
                    running = self._running.pop(action.task, None)
                    if running is not None:
                        running.cancel()
                elif isinstance(action, Finished):
                    assert isinstance(flow, SubmitterFlow)
                    entry = self._submits.pop(flow.task, None)
                    if entry is not None and not entry[1].done():
                        entry[1].set_result(action.verdict)
                elif isinstance(action, Rejected):
                    log.info("rejected: %s", action.reason)
            except (TimeoutError, RelayError, OSError, ValueError) as exc:
                log.info("could not perform %s: %s", type(action).__name__, exc or "timeout")

    async def _execute(self, flow: WorkerFlow, action: Execute) -> None:
        assert self.pool is not None
        try:
            task = self.pool.submit(action.kind, action.payload)
        except TaskError as exc:
            await self._perform(flow.on_failed(str(exc), now_ms()), flow)
            return
        self._running[action.task] = task
        outcome = await task.wait()
        self._running.pop(action.task, None)
        if outcome.ok:
            self.tasks_completed += 1
            actions = flow.on_executed(outcome.result, now_ms(), int(outcome.cpu_s * 1000))
        else:
            actions = flow.on_failed(f"{outcome.error_code}: {outcome.error}", now_ms())
        await self._perform(actions, flow)

    async def submit(
        self,
        kind: str,
        payload: Any,
        *,
        redundancy: int = econ.DEFAULT_REDUNDANCY,
        priority: str = "normal",
        timeout_s: float = 60.0,
        max_credits: int | None = None,
    ) -> SubmitResult:
        """Run a task on the network, pay the workers that agreed, return the result."""
        if self.identity is None or self.ledger is None or self.mesh is None:
            raise NodeError("the node is not started")
        k = get_kind(kind)
        size = k.size(k.parse(payload))
        price = econ.task_price_micro(kind, size, priority)
        budget = price * redundancy
        if max_credits is not None and budget > max_credits:
            raise NodeError(
                f"the task costs up to {econ.format_credits(budget)} credits; "
                f"--max-credits is {econ.format_credits(max_credits)}"
            )
        available = self.ledger.ledger.balance(self.identity.public_key, now_ms()).available
        if budget > available:
            raise NodeError(
                f"the task needs {econ.format_credits(budget)} credits; "
                f"{econ.format_credits(available)} are available"
            )
        task_id = os.urandom(16)
        flow = SubmitterFlow(
            self.identity,
            self.genesis.network_id,
            task_id,
            kind,
            payload,
            price,
            redundancy,
            priority,
            now_ms() + int(timeout_s * 1000),
            k.verification.agree,
            lambda worker: False,
            random.Random(task_id),
            size=size,
        )
        fut: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._submits[task_id] = (flow, fut)
        self.tasks_submitted += 1
        await self._perform(flow.start(now_ms()), flow)
        verdict = await asyncio.wait_for(fut, timeout_s + 5)
        cost = await self._settle(kind, verdict)
        return SubmitResult(
            verdict.result,
            cost,
            [node_id_of(p.worker) for p in verdict.payments],
            verdict.verified,
            verdict.reason,
            verdict.refund,
        )

    async def _settle(self, kind: str, verdict: Verdict) -> int:
        assert self.identity is not None and self.ledger is not None and self.mesh is not None
        events, cost = [], 0
        for pay in verdict.payments:
            try:
                events.append(
                    self.ledger.append(
                        self.identity,
                        Settlement(verdict.task, pay.worker, pay.amount, pay.cpu_ms, kind),
                    )
                )
                cost += pay.amount
            except LedgerError as exc:
                log.warning("could not settle with %s: %s", node_id_of(pay.worker), exc)
        await self.mesh.publish_events(events)
        return cost

    # -- status ---------------------------------------------------------------------------

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def stats(self) -> dict[str, Any]:
        now = now_ms()
        me = self.identity.public_key if self.identity else b""
        bal = self.ledger.ledger.balance(me, now) if self.ledger else None
        peers = (
            [node_id_of(p) for p, link in self.mesh.hub.links.items() if link.open]
            if (self.mesh)
            else []
        )
        return {
            "node_id": self.identity.node_id if self.identity else None,
            "credits": {
                "available": econ.format_credits(bal.available) if bal else "0",
                "locked": econ.format_credits(bal.locked) if bal else "0",
                "staked": econ.format_credits(bal.staked) if bal else "0",
            },
            "tasks_completed": self.tasks_completed,
            "tasks_submitted": self.tasks_submitted,
            "uptime": (now - self.started_ms) / 1000 if self.started_ms else 0.0,
            "multiplier": self.ledger.ledger.multiplier() if self.ledger else 10.0,
            "peers": peers,
            "state": "paused" if self.paused else ("contributing" if peers else "offline"),
        }
