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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import economics as econ
from ..core.errors import EdgenetError, LedgerError, WireError
from ..core.events import Event, GenesisGrant, Settlement
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
        self.cpu_donated_ms = 0
        self._submits: dict[bytes, tuple[SubmitterFlow, asyncio.Future[Verdict]]] = {}
        self._works: dict[bytes, WorkerFlow] = {}
        self._running: dict[bytes, PoolTask] = {}
        self._bg: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    # -- notifications --------------------------------------------------------------------

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call `callback(event)` for every notification; returns an unsubscribe function.

        Events are dicts with an "event" key: "ledger" (any new ledger event: kind, id,
        author), "credit" (a settlement paying this node: amount, task, payer), "task"
        (this node ran a task as a worker: kind, ok, ms, error), "error" (message).
        """
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _emit(self, event: dict[str, Any]) -> None:
        for cb in list(self._listeners):
            try:
                cb(event)
            except Exception:  # a listener's bug must not stop the node
                log.exception("listener failed on %s", event.get("event"))

    def _on_ledger_events(self, events: list[Event]) -> None:
        me = self.identity.public_key if self.identity else b""
        for ev in events:
            self._emit(
                {
                    "event": "ledger",
                    "kind": ev.body.KIND,
                    "id": ev.id.hex(),
                    "author": node_id_of(ev.author),
                }
            )
            body = ev.body
            if isinstance(body, Settlement) and body.worker == me:
                self._emit(
                    {
                        "event": "credit",
                        "amount": econ.format_credits(body.amount),
                        "amount_micro": body.amount,
                        "task": body.task.hex(),
                        "payer": node_id_of(ev.author),
                    }
                )

    def apply_settings(self, values: dict[str, Any]) -> None:
        """Apply changed settings to the running node (already validated by the caller)."""
        if "cpu_limit" in values:
            self.options.cpu_limit = float(values["cpu_limit"])
            if self.pool is not None:
                self.pool.set_cpu_limit(self.options.cpu_limit)
        if "task_kinds" in values:
            self.options.kinds = tuple(values["task_kinds"])
            if self.pool is not None:
                self.pool.allowed_kinds = self.options.kinds
        if "memory_limit_mb" in values:
            self.options.limits = Limits(
                memory_mb=int(values["memory_limit_mb"]),
                timeout_s=self.options.limits.timeout_s,
            )
            if self.pool is not None:
                self.pool.limits = self.options.limits

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
        self.mesh.on_new_events.append(self._on_ledger_events)
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
        self.cpu_donated_ms += int(outcome.cpu_s * 1000)
        self._emit(
            {
                "event": "task",
                "kind": action.kind,
                "task": action.task.hex(),
                "ok": outcome.ok,
                "cpu_ms": int(outcome.cpu_s * 1000),
                "error": None if outcome.ok else outcome.error_code,
            }
        )
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
        self._on_ledger_events(events)
        return cost

    # -- status ---------------------------------------------------------------------------

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def stats(self) -> dict[str, Any]:
        """A snapshot for `edgenet status`, the control API and the tray (JSON-ready)."""
        now = now_ms()
        me = self.identity.public_key if self.identity else b""
        bal = self.ledger.ledger.balance(me, now) if self.ledger else None
        acct = self.ledger.ledger.state.accounts.get(me) if self.ledger else None
        peers = (
            [node_id_of(p) for p, link in self.mesh.hub.links.items() if link.open]
            if self.mesh
            else []
        )
        state, reason = self.state()
        return {
            "node_id": self.identity.node_id if self.identity else None,
            "network": self.genesis.name,
            "credits": {
                "available": econ.format_credits(bal.available) if bal else "0",
                "locked": econ.format_credits(bal.locked) if bal else "0",
                "staked": econ.format_credits(bal.staked) if bal else "0",
            },
            "tasks_completed": self.tasks_completed,
            "tasks_submitted": self.tasks_submitted,
            "uptime": round((now - self.started_ms) / 1000, 3) if self.started_ms else 0.0,
            "reputation": econ.reputation_score(acct.valid_results, acct.offences)
            if acct
            else econ.reputation_score(0, 0),
            "multiplier": self.ledger.ledger.multiplier() if self.ledger else 10.0,
            "peers": peers,
            "cpu_donated_s": round(self.cpu_donated_ms / 1000, 3),
            "state": state,
            "reason": reason,
        }

    def state(self) -> tuple[str, str]:
        """(state, reason): contributing, paused, waiting_for_idle, on_battery or offline."""
        if self.paused:
            return "paused", "paused by the user"
        if self.mesh is None or not any(link.open for link in self.mesh.hub.links.values()):
            return "offline", "no peer connected"
        return "contributing", "connected and accepting tasks"
