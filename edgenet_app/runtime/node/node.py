"""The node: identity, store, ledger, worker pool, relay, peer links and the task protocol.

`Node` is what `edgenet node` (headless) and the tray app run. It connects to the first
relay of the network that answers, dials the peers already online (newcomers dial, so two
peers never dial each other at once), keeps the ledger in sync over every link, executes
announced tasks in its worker pool as a worker, and submits tasks as a submitter: the
sans-IO flows in `core/taskflow*` decide, this class performs their actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core import economics as econ
from ...core.activity import Activity, decide
from ...core.errors import EdgenetError, LedgerError, NodeError, NoRelayError, WireError
from ...core.events import Event, GenesisGrant, Settlement, Slash, Stake, Uptime
from ...core.genesis import Genesis
from ...core.identity import Identity, node_id_of
from ...core.peerwire import Gossip
from ...core.spotcheck import BAR_MS, AnswerBank, KnownAnswer, barred
from ...core.submit import SubmitRequest
from ...core.taskflow import (
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
    TokenBucket,
    Verdict,
    WorkerFlow,
)
from ...core.taskmsg import (
    Abandon,
    Assign,
    Cancel,
    Claim,
    Result,
    TaskAnnounce,
    parse,
)
from ...tasks.base import TaskError
from ..net.mesh import Mesh
from ..net.relay_client import RelayClient, RelayError
from ..net.webrtc import LinkClosed, PeerHub, PeerLink, loopback_only
from ..platform.probe import ProbeSample, observe
from ..store import keystore
from ..store.ledger_store import LedgerStore, now_ms
from ..store.store import StoreError, TaskRecord
from ..work.pool import PoolTask, WorkerPool
from .options import NodeOptions
from .placement import COLLECTION_KINDS, Placement

log = logging.getLogger("edgenet.node")

TARGET_DEGREE = 8
TICK_S = 0.1
IDLE_TICK_S = 1.0
REJOIN_GRACE_S = 8.0  # a peer that left the relay but kept its link may come back this soon
UPKEEP_MS = 2_000  # activity, links, stake and uptime are reviewed this often
PAUSE_META = "pause"  # store meta: paused / snoozed until, kept across restarts
BARS_META = "spot_check_bars"  # store meta: workers barred after failing a spot-check
SPOT_CHECK_HEADROOM = 10  # a spot-check runs only with 10× its budget available
HAND_BACK_AFTER_MS = 15_000  # tasks suspended this long (paused, busy machine) are given back
UPTIME_CLAIM_EVERY_MS = econ.HOUR_MS
RELAY_BACKOFF_S = 0.5
RELAY_BACKOFF_MAX_S = 30.0
DIAL_BACKOFF_MS = 5_000  # after a failed dial, wait 5 s, 10 s, … up to 5 min before retrying
DIAL_BACKOFF_MAX_MS = 300_000


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
        self.snoozed_until_ms = 0
        self.draining = False
        self.last_sample = ProbeSample()
        self.tasks_completed = 0
        self.tasks_submitted = 0
        self.cpu_donated_ms = 0
        self._submits: dict[bytes, tuple[SubmitterFlow, asyncio.Future[Verdict]]] = {}
        self._works: dict[bytes, WorkerFlow] = {}
        self._running: dict[bytes, PoolTask] = {}
        self._held_since_ms: int | None = None  # running tasks suspended since
        self._answers = AnswerBank()  # known answers for spot-checks (core/spotcheck.py)
        self._bars: dict[bytes, int] = {}  # worker -> barred until (failed a spot-check)
        self._rng = random.Random()
        self._bg: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._dialing: set[bytes] = set()
        self._dial_backoff: dict[bytes, tuple[int, int]] = {}  # peer → (failures, retry at ms)
        self._reserved = 0  # budgets of tasks in flight (micro-credits)
        self._placement: Placement | None = None
        self._last_upkeep_ms = 0
        self._last_uptime_claim_ms = 0
        self.activity = Activity("offline", "not started", 0.0)
        self._claims_in = TokenBucket()  # claims per worker, as a submitter
        self._announces_in = TokenBucket()  # announces per submitter, as a worker

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
        self.options.update(values)
        if self.pool is not None:
            self.pool.allowed_kinds = self.options.kinds
            self.pool.limits = self.options.limits
        self._update_activity()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.identity, created = keystore.ensure_identity(self.data_dir, self.options.passphrase)
        if created:
            log.info("created identity %s", self.identity.node_id)
        self.ledger = LedgerStore.open(self.data_dir, self.genesis)
        self._load_bars()
        self._load_pause()
        self._claim_genesis_grant()
        self.pool = WorkerPool(
            self.data_dir,
            cpu_limit=self.options.policy.cpu_limit,
            idle_timeout_s=self.options.idle_timeout_s,
            limits=self.options.limits,
            allowed_kinds=self.options.kinds,
        )
        if self.options.loopback:
            loopback_only()
        try:
            relay = await self._connect_relay()
        except BaseException:
            await self.stop()  # release the worker pool and the store
            raise
        hub = PeerHub(relay, ice_servers=self.options.ice_servers, on_link=self._on_link)
        self.mesh = Mesh(hub, self.ledger, on_gossip=self._on_gossip, on_direct=self._on_direct)
        self.mesh.on_new_events.append(self._on_ledger_events)
        self.mesh.on_link_lost.append(self._on_link_lost)
        hub.on_left.append(self._on_left_relay)
        hub.start()
        self.started_ms = now_ms()
        self._last_uptime_claim_ms = self.started_ms
        first = list(relay.peers)
        random.shuffle(first)  # the relay lists peers in join order: do not all pick the oldest
        for peer in first[:TARGET_DEGREE]:
            self._spawn(self._dial(peer))
        self._update_activity()
        self._maybe_stake()
        self._ticker = asyncio.create_task(self._tick_loop())
        self._spawn(self._keep_relay())

    def _claim_genesis_grant(self) -> None:
        assert self.identity is not None and self.ledger is not None
        me = self.identity.public_key
        acct = self.ledger.ledger.state.accounts.get(me)
        if self.genesis.grant_for(me) and not (acct and acct.genesis_claimed):
            self.ledger.append(self.identity, GenesisGrant())
            log.info("claimed the genesis grant")

    @property
    def placement(self) -> Placement:
        if self._placement is None:
            assert self.ledger is not None
            self._placement = Placement(self.ledger.store, self.genesis.network_id)
        return self._placement

    def _maybe_stake(self) -> None:
        """Stake the required amount once it is available (auto_stake): staked workers earn
        the bonus and uptime rewards and can be slashed, which makes their results count."""
        if not self.options.auto_stake or self.identity is None or self.ledger is None:
            return
        me = self.identity.public_key
        bal = self.ledger.ledger.balance(me, now_ms())
        spare = bal.available - self._reserved  # never stake what tasks in flight will pay
        if bal.staked >= econ.STAKE_REQUIRED or spare < econ.STAKE_REQUIRED:
            return
        try:
            ev = self.ledger.append(self.identity, Stake(econ.STAKE_REQUIRED - bal.staked))
        except LedgerError as exc:
            log.info("could not stake: %s", exc)
            return
        log.info("staked %s credits", econ.format_credits(econ.STAKE_REQUIRED - bal.staked))
        self._publish([ev])

    def _maybe_claim_uptime(self, now: int) -> None:
        """Claim the uptime reward once an hour while staked (the ledger caps the window)."""
        if self.identity is None or self.ledger is None:
            return
        if now - self._last_uptime_claim_ms < UPTIME_CLAIM_EVERY_MS:
            return
        self._last_uptime_claim_ms = now
        acct = self.ledger.ledger.state.accounts.get(self.identity.public_key)
        if acct is None or acct.staked < econ.STAKE_REQUIRED or acct.staked_since is None:
            return
        start = max(acct.last_uptime_end, acct.staked_since, self.started_ms)
        if now - start < 60_000:
            return
        try:
            ev = self.ledger.append(self.identity, Uptime(start, now), now)
        except LedgerError as exc:
            log.info("could not claim uptime: %s", exc)
            return
        self._publish([ev])

    def _publish(self, events: list[Event]) -> None:
        if self.mesh is not None and events:
            self._spawn(self.mesh.publish_events(events))
        self._on_ledger_events(events)

    async def _keep_relay(self) -> None:
        """Reconnect to a relay (any of the network's) with backoff when the connection ends."""
        assert self.mesh is not None
        hub = self.mesh.hub
        while True:
            await hub.relay_lost()
            log.warning("lost the relay; reconnecting")
            self._emit({"event": "error", "message": "lost the relay connection; reconnecting"})
            failures = 0
            while True:
                delay = min(RELAY_BACKOFF_MAX_S, RELAY_BACKOFF_S * 2**failures)
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
                try:
                    relay = await self._connect_relay()
                    break
                except NoRelayError as exc:
                    failures += 1
                    log.info("relay still unreachable: %s", exc)
            await hub.replace_relay(relay)
            log.info("reconnected to %s (%d peers online)", relay.url, len(relay.peers))
            self._emit({"event": "relay", "url": relay.url, "online": len(relay.peers)})
            self._top_up_links(dial_any=True)

    def _top_up_links(self, *, dial_any: bool = False) -> None:
        """Dial peers until TARGET_DEGREE links are open: those the relay lists first, then
        those learned through peer exchange (signaled through the neighbour that listed
        them). Only the peer with the smaller key dials a given pair in routine upkeep, so
        two peers do not dial each other at once; after a (re)connect we dial anyone. A peer
        that could not be reached is retried after a growing delay.
        """
        if self.mesh is None or self.identity is None:
            return
        hub, me, now = self.mesh.hub, self.identity.public_key, now_ms()
        open_links = {p for p, link in hub.links.items() if link.open}
        want = TARGET_DEGREE - len(open_links) - len(self._dialing)
        if want <= 0:
            return

        def eligible(p: bytes) -> bool:
            retry_at = self._dial_backoff.get(p, (0, 0))[1]
            return (
                p != me
                and p not in open_links
                and p not in self._dialing
                and (dial_any or me < p)
                and now >= retry_at
            )

        listed = set() if hub.relay.closed else hub.online
        first = [p for p in listed if eligible(p)]
        then = [p for p in self.mesh.learned_peers() - listed if eligible(p)]
        random.shuffle(first)
        random.shuffle(then)
        for peer in (first + then)[:want]:
            self._spawn(self._dial(peer))

    async def _connect_relay(self) -> RelayClient:
        """The first relay that answers: the configured ones, then (setting network.mdns)
        relays of this network advertised on the LAN."""
        assert self.identity is not None
        identity = self.identity
        errors: list[str] = []
        tried: set[str] = set()

        async def attempt(urls: list[str]) -> RelayClient | None:
            for url in urls:
                if url in tried:
                    continue
                tried.add(url)
                client = RelayClient(url, identity, self.genesis.network_id)
                try:
                    await client.connect()
                    return client
                except (RelayError, WireError) as exc:
                    errors.append(f"{url}: {exc}")
            return None

        client = await attempt(list(self.options.relays or self.genesis.body.relays))
        if client is None and self.options.mdns:
            from ..net.lan import browse_relays  # zeroconf: loaded only when it is needed

            found = await browse_relays(self.genesis.network_id, loopback=self.options.loopback)
            if found:
                log.info("found relays on the LAN: %s", ", ".join(found))
            client = await attempt(found)
        if client is not None:
            return client
        if not errors:
            raise NoRelayError(
                "no relay: pass --relay URL, use a network that lists relays, or run "
                "`edgenet relay --host 0.0.0.0` on this LAN (setting network.mdns)"
            )
        raise NoRelayError("no relay answered: " + "; ".join(errors))

    async def _dial(self, peer: bytes) -> None:
        assert self.mesh is not None
        self._dialing.add(peer)
        try:
            await self.mesh.connect(peer)  # through the relay, or a neighbour that knows it
            self._dial_backoff.pop(peer, None)
            self._update_activity()  # "offline" ends with the first link, not 2 s later
        except (TimeoutError, RelayError, OSError, WireError) as exc:
            log.info("could not reach %s: %s", node_id_of(peer), exc or "timeout")
            failures = self._dial_backoff.get(peer, (0, 0))[0] + 1
            delay = min(DIAL_BACKOFF_MAX_MS, DIAL_BACKOFF_MS * 2 ** min(failures - 1, 16))
            self._dial_backoff[peer] = (failures, now_ms() + delay)
            if len(self._dial_backoff) > 4096:  # bounded: forget the oldest
                self._dial_backoff.pop(next(iter(self._dial_backoff)))
        finally:
            self._dialing.discard(peer)

    def _on_left_relay(self, peer: bytes) -> None:
        """The relay saw `peer` go. Without a link to it, it is gone; with one, it may only
        have lost its relay (it rejoins within seconds), so wait before giving up on it."""
        link = self.mesh.hub.links.get(peer) if self.mesh is not None else None
        if link is None or not link.open:
            self._on_link_lost(peer)
        else:
            self._spawn(self._lost_unless_back(peer, link))

    async def _lost_unless_back(self, peer: bytes, link: PeerLink) -> None:
        await asyncio.sleep(REJOIN_GRACE_S)
        if self.mesh is not None and link.open and peer not in self.mesh.hub.online:
            log.info("%s left the relay and did not come back", node_id_of(peer))
            self._on_link_lost(peer)

    def _on_link_lost(self, peer: bytes) -> None:
        """A peer's link closed or it left the relay: reassign what it held for us at once
        (a result it still sends is refused; the task does not wait for a dead worker)."""
        self._update_activity()  # the last link gone: offline now, not at the next review
        now = now_ms()
        for flow, _ in list(self._submits.values()):
            actions = flow.on_peer_lost(peer, now)
            if actions:
                log.info("worker %s vanished; reassigning", node_id_of(peer))
                self._spawn(self._perform(actions, flow))

    async def _on_link(self, link: PeerLink) -> None:
        assert self.mesh is not None
        await self.mesh.attach(link)
        self._update_activity()

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    async def stop(self) -> None:
        """Hand back the tasks still running here (their submitters reassign them at once),
        then close links, workers and the store."""
        if self._ticker is not None:
            self._ticker.cancel()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._hand_back("the node is shutting down"), 2.0)
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
        close = getattr(self.options.probe, "close", None)
        if callable(close):
            close()  # the idle source's X display or D-Bus connection

    async def _hand_back(self, reason: str) -> None:
        """Stop the tasks running here and give them back (Abandon): their submitters
        reassign them at once instead of waiting for the assignment deadline."""
        now = now_ms()
        executing = [(t, w) for t, w in self._works.items() if w.state == "executing"]
        for task, _ in executing:
            running = self._running.pop(task, None)
            if running is not None:
                running.cancel()
        if executing:
            log.info("handing back %d task(s): %s", len(executing), reason)
        await asyncio.gather(*(self._perform(w.on_failed(reason, now), w) for _, w in executing))

    # -- the task protocol ----------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            # tasks in flight need prompt timeouts; an idle node wakes up rarely (CPU at idle)
            busy = self._submits or any(
                w.state in ("claimed", "executing") for w in self._works.values()
            )
            await asyncio.sleep(TICK_S if busy else IDLE_TICK_S)
            try:
                self._tick(now_ms())
            except Exception:  # one bad tick must not stop every later deadline
                log.exception("tick failed")

    def _tick(self, now: int) -> None:
        for flow, _ in list(self._submits.values()):
            self._act(flow.tick(now), flow)
        for task, wflow in list(self._works.items()):
            self._act(wflow.tick(now), wflow)
            if wflow.state in ("done", "abandoned", "cancelled", "expired"):
                if now > wflow.deadline_ms:
                    del self._works[task]
        if now - self._last_upkeep_ms >= UPKEEP_MS:
            self._last_upkeep_ms = now
            self._update_activity()
            self._top_up_links()
            self._maybe_stake()
            self._maybe_claim_uptime(now)

    async def _on_gossip(self, g: Gossip, link: PeerLink) -> None:
        if g.kind != "announce" or not self.activity.accepts_tasks or self.identity is None:
            return
        try:
            announce = TaskAnnounce.decode(g.body)
        except WireError as exc:
            log.info("bad announce from %s: %s", node_id_of(link.remote), exc)
            return
        if announce.sender == self.identity.public_key or announce.task in self._works:
            return
        flow = WorkerFlow(
            self.identity,
            self.genesis.network_id,
            kinds=self.options.kinds,
            limiter=self._announces_in,
        )
        actions = flow.on_announce(announce, now_ms())
        if flow.state == "idle":  # not for us: keep no state (a re-announce is judged anew)
            return
        self._works[announce.task] = flow
        self._act(actions, flow)

    def _act(self, actions: list[Action], flow: SubmitterFlow | WorkerFlow) -> None:
        """Perform actions in the background: a link's reader must never wait on a send
        (a claim dialed through the very neighbour whose frames it would block)."""
        if actions:
            self._spawn(self._perform(actions, flow))

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
                self._act(entry[0].handle(msg, now), entry[0])
        elif isinstance(msg, Assign | Cancel):
            wflow = self._works.get(msg.task)
            if wflow is not None:
                self._act(wflow.handle(msg, now), wflow)

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
            except (TimeoutError, RelayError, WireError, LinkClosed, OSError, ValueError) as exc:
                log.info("could not perform %s: %s", type(action).__name__, exc or "timeout")

    async def _execute(self, flow: WorkerFlow, action: Execute) -> None:
        assert self.pool is not None
        if flow.state != "executing":  # handed back before it could start
            return
        if self.activity.cpu_limit <= 0:  # assigned after we stopped contributing: give
            reason = f"the node stopped contributing: {self.activity.reason}"  # it back now
            await self._perform(flow.on_failed(reason, now_ms()), flow)
            return
        try:
            assert flow.announce is not None
            urgent = flow.announce.priority == "high"
            task = self.pool.submit(
                action.kind,
                action.payload,
                urgent=urgent,
                scope=node_id_of(flow.announce.sender),
                validate=False,  # the worker process validates: numpy & co. stay out of here
            )
        except TaskError as exc:
            await self._perform(flow.on_failed(str(exc), now_ms()), flow)
            return
        self._running[action.task] = task
        started = now_ms()
        outcome = await task.wait()
        self._running.pop(action.task, None)
        self.cpu_donated_ms += int(outcome.cpu_s * 1000)
        self._record(
            TaskRecord(
                action.task.hex(),
                action.kind,
                "executed",
                "done" if outcome.ok else "failed",
                started,
                now_ms(),
                flow.announce.price,
                None if outcome.ok else f"{outcome.error_code}: {outcome.error}"[:500],
            )
        )
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
        if flow.state != "executing":  # handed back, or cancelled by its submitter
            return
        if outcome.ok:
            self.tasks_completed += 1
            actions = flow.on_executed(outcome.result, now_ms(), int(outcome.cpu_s * 1000))
        else:
            actions = flow.on_failed(f"{outcome.error_code}: {outcome.error}", now_ms())
        await self._perform(actions, flow)

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        """Run a task on the network, pay the workers that agreed, return the result."""
        if self.identity is None or self.ledger is None or self.mesh is None:
            raise NodeError("the node is not started")
        kind, payload = request.kind, request.payload
        redundancy, priority = request.redundancy, request.priority
        timeout_s, max_credits = request.timeout_s, request.max_credits
        from ...tasks.registry import get_kind  # numpy & co. only once this node submits

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
        price = econ.task_price_micro(kind, size, priority)
        budget = price * redundancy
        if max_credits is not None and budget > max_credits:
            raise NodeError(
                f"the task costs up to {econ.format_credits(budget)} credits; "
                f"--max-credits is {econ.format_credits(max_credits)}"
            )
        available = self.ledger.ledger.balance(self.identity.public_key, now_ms()).available
        available -= self._reserved
        if budget > available:
            raise NodeError(
                f"the task needs {econ.format_credits(budget)} credits; "
                f"{econ.format_credits(max(0, available))} are available"
                + (" (the rest is reserved by tasks in flight)" if self._reserved else "")
            )
        verdict, cost = await self._run_task(
            kind, payload, k.verification.agree, size, price, redundancy, priority, timeout_s, only
        )
        if self.options.spot_check_rate > 0:
            self._learn_and_maybe_spot_check(kind, payload, priority, timeout_s, verdict)
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

    async def _run_task(
        self,
        kind: str,
        payload: Any,
        agree: Callable[[Any, Any], bool],
        size: int,
        price: int,
        redundancy: int,
        priority: str,
        timeout_s: float,
        only: tuple[bytes, ...] = (),
        known_answer: Any | None = None,
        also_barred: frozenset[bytes] = frozenset(),
    ) -> tuple[Verdict, int]:
        """Announce, assign, verify, settle and record one task: (verdict, cost paid).

        Workers barred after a failed spot-check may not claim it, except a task reserved
        for a collection's holders (`only`): those alone hold the data."""
        assert self.identity is not None
        shut_out = also_barred if only else barred(self._bars, now_ms()) | also_barred
        task_id = os.urandom(16)
        budget = price * redundancy
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
            agree,
            self._trusted,
            random.Random(task_id),
            known_answer,
            size=size,
            limiter=self._claims_in,
            only=only,
            barred=shut_out,
            # a silent worker is replaced after half the task's time (≥ 5 s, ≤ 60 s)
            assign_timeout_ms=int(min(60.0, max(5.0, timeout_s / 2)) * 1000),
        )
        fut: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._submits[task_id] = (flow, fut)
        if known_answer is None:
            self.tasks_submitted += 1
        self._reserved += budget
        started = now_ms()
        try:
            await self._perform(flow.start(started), flow)
            verdict = await asyncio.wait_for(fut, timeout_s + 5)
            cost = await self._settle(kind, verdict)
        finally:
            self._reserved -= budget
            self._submits.pop(task_id, None)
        self._record(
            TaskRecord(
                task_id.hex(),
                kind,
                "spot-check" if known_answer is not None else "submitted",
                "done" if verdict.verified else "failed",
                started,
                now_ms(),
                cost,
                None if verdict.verified else verdict.reason[:500],
            )
        )
        return verdict, cost

    def _learn_and_maybe_spot_check(
        self, kind: str, payload: Any, priority: str, timeout_s: float, verdict: Verdict
    ) -> None:
        """Keep a strong answer for later; about one task in ten, spot-check with one."""
        self._answers.learn(kind, payload, priority, timeout_s, verdict)
        known = self._answers.pick(
            self._rng, self.options.spot_check_rate, lambda k: self._checkers(k) > 0
        )
        if known is not None:
            self._spawn(self._spot_check(known))

    async def _spot_check(self, known: KnownAnswer) -> None:
        """Send a task whose answer is known, like any other; bar the workers that get it
        wrong (core/spotcheck.py). Paid like any task: only the agreeing results. Those
        that computed the original may not claim it; with fewer others linked than the
        original's redundancy, fewer are checked; with none, there is no check."""
        assert self.identity is not None and self.ledger is not None and self.mesh is not None
        from ...tasks.registry import get_kind

        now = now_ms()
        self._bars = {w: t for w, t in self._bars.items() if t > now}
        redundancy = min(known.redundancy, self._checkers(known))
        if redundancy < 1:
            return
        payload = known.payload
        k = get_kind(known.kind)
        size = k.size(k.parse(payload))  # parsed before: it was submitted from here
        price = econ.task_price_micro(known.kind, size, known.priority)
        available = self.ledger.ledger.balance(self.identity.public_key, now).available
        if price * redundancy * SPOT_CHECK_HEADROOM > available - self._reserved:
            return  # never take credits the user's own tasks may need
        try:
            verdict, _ = await self._run_task(
                known.kind,
                payload,
                k.verification.agree,
                size,
                price,
                redundancy,
                known.priority,
                known.timeout_s,
                known_answer=known.answer,
                also_barred=known.computed_by,
            )
        except (TimeoutError, EdgenetError) as exc:  # e.g. the node stopping meanwhile
            log.info("spot-check not run: %s", exc)
            return
        now = now_ms()
        for dissent in verdict.dissenters:
            self._bars[dissent.worker] = now + BAR_MS
            log.warning(
                "%s failed a spot-check (%s): barred for 24 h",
                node_id_of(dissent.worker),
                known.kind,
            )
            self._emit({"event": "spot_check_failed", "worker": node_id_of(dissent.worker)})
        if verdict.dissenters:
            self._save_bars()
        log.info(
            "spot-check %s: %d passed, %d failed",
            known.kind,
            len(verdict.payments),
            len(verdict.dissenters),
        )

    def _checkers(self, known: KnownAnswer) -> int:
        """Linked workers that could take a check of `known`: proven (paid for work before,
        so they do take tasks), not barred, and not among those that computed it."""
        if self.mesh is None or self.ledger is None:
            return 0
        accounts = self.ledger.ledger.state.accounts
        shut_out = known.computed_by | barred(self._bars, now_ms())
        return sum(
            1
            for p, link in self.mesh.hub.links.items()
            if link.open
            and p not in shut_out
            and (acct := accounts.get(p)) is not None
            and acct.valid_results > 0
        )

    def _save_meta(self, key: str, value: Any, what: str) -> None:
        """Keep a small JSON value in the store (a failure is logged: the node goes on)."""
        if self.ledger is None:
            return
        try:
            self.ledger.store.set_meta(key, json.dumps(value, sort_keys=True))
        except StoreError as exc:
            log.warning("could not save %s: %s", what, exc)

    def _load_meta(self, key: str) -> Any:
        """A value kept by `_save_meta`, or None; ValueError if it is not JSON."""
        assert self.ledger is not None
        raw = self.ledger.store.get_meta(key)
        return json.loads(raw) if raw else None

    def _save_bars(self) -> None:
        live = {w.hex(): t for w, t in self._bars.items() if t > now_ms()}
        self._save_meta(BARS_META, live, "spot-check bars")

    def _load_bars(self) -> None:
        try:
            saved = self._load_meta(BARS_META) or {}
            self._bars = {
                bytes.fromhex(w): int(t)
                for w, t in saved.items()
                if len(w) == 64 and int(t) > now_ms()
            }
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            log.warning("ignoring unreadable spot-check bars: %s", exc)
            self._bars = {}

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
            except LedgerError as exc:
                log.info("cannot slash %s: %s", node_id_of(dissent.worker), exc)
        await self.mesh.publish_events(events)
        self._on_ledger_events(events)
        return cost

    def _record(self, record: TaskRecord) -> None:
        if self.ledger is None:
            return
        try:
            self.ledger.store.record_task(record)
        except (ValueError, StoreError) as exc:  # history is a convenience: never fail a task
            log.warning("could not record task %s: %s", record.task_id, exc)

    def history(self, limit: int = 50) -> dict[str, Any]:
        """For the dashboard: recent tasks, and this node's earnings over time.

        `earnings` are cumulative micro-credits paid to this node by settlements (task
        payments), one point per settlement in timestamp order, at most 500 points.
        """
        tasks = []
        if self.ledger is not None:
            for r in self.ledger.store.task_history(max(0, min(limit, 1000))):
                tasks.append(
                    {
                        "task": r.task_id,
                        "kind": r.kind,
                        "role": r.role,
                        "status": r.status,
                        "created_ms": r.created_ms,
                        "finished_ms": r.finished_ms,
                        "credits": econ.format_credits(r.cost_micro),
                        "error": r.error,
                    }
                )
        earnings: list[list[int]] = []
        if self.ledger is not None and self.identity is not None:
            me = self.identity.public_key
            paid = sorted(
                (ev.ts, ev.body.amount)
                for ev in self.ledger.ledger.events()
                if isinstance(ev.body, Settlement) and ev.body.worker == me
            )
            total = 0
            for ts, amount in paid:
                total += amount
                earnings.append([ts, total])
            if len(earnings) > 500:
                step = len(earnings) / 500
                earnings = [earnings[int(i * step)] for i in range(499)] + [earnings[-1]]
        return {"tasks": tasks, "earnings": earnings}

    def rank(self) -> tuple[int, int]:
        """(#N, of M): this node's place among all accounts by total credits."""
        if self.ledger is None or self.identity is None:
            return 0, 0
        ledger, now = self.ledger.ledger, now_ms()
        totals = {k: ledger.balance(k, now).total for k in ledger.state.accounts}
        mine = totals.get(self.identity.public_key, 0)
        return 1 + sum(1 for v in totals.values() if v > mine), max(1, len(totals))

    def _trusted(self, worker: bytes) -> bool:
        """Reputation-weighted trust: a proven host may run a task alone (core/economics)."""
        if self.ledger is None or self._bars.get(worker, 0) > now_ms():
            return False
        acct = self.ledger.ledger.state.accounts.get(worker)
        if acct is None or acct.staked < econ.STAKE_REQUIRED or acct.staked_since is None:
            return False
        return econ.may_run_alone(
            acct.valid_results, now_ms() - acct.staked_since, acct.offences > 0
        )

    # -- status ---------------------------------------------------------------------------

    def pause(self) -> None:
        self.paused = True
        self._save_pause()
        self._update_activity()

    def resume(self) -> None:
        """Contribute again: ends a pause, a snooze and a pending finish-then-pause."""
        self.paused = False
        self.snoozed_until_ms = 0
        self.draining = False
        self._save_pause()
        self._update_activity()

    def snooze(self, seconds: float) -> None:
        """Pause for `seconds`, then resume by itself."""
        self.snoozed_until_ms = now_ms() + int(seconds * 1000)
        self._save_pause()
        self._update_activity()

    def finish_then_pause(self) -> None:
        """Take no new tasks; pause once those running here are done."""
        self.draining = True
        self._save_pause()
        self._update_activity()

    def _save_pause(self) -> None:
        """A pause, snooze or pending finish-then-pause outlives a restart (like BOINC's
        suspend): the user said so, a reboot did not take it back."""
        state = {"paused": self.paused or self.draining, "snoozed_until_ms": self.snoozed_until_ms}
        self._save_meta(PAUSE_META, state, "the pause")

    def _load_pause(self) -> None:
        try:
            state = self._load_meta(PAUSE_META) or {}
            paused = state.get("paused", False)
            until = state.get("snoozed_until_ms", 0)
            if not isinstance(paused, bool) or not isinstance(until, int):
                raise ValueError(f"unexpected values {state!r}")
        except (ValueError, AttributeError) as exc:
            log.warning("ignoring an unreadable saved pause: %s", exc)
            return
        self.paused = self.paused or paused
        if until > now_ms():
            self.snoozed_until_ms = max(self.snoozed_until_ms, until)
        if self.paused or self.snoozed_until_ms:
            log.info("still paused from before the restart (resume to contribute)")

    def _update_activity(self) -> None:
        """Decide (core/activity.py) whether to contribute now, and at which CPU limit."""
        if self.draining and not self._running:  # finished: now a plain pause
            self.paused, self.draining = True, False
        workers = self.pool.worker_pids() if self.pool is not None else []
        sample = self.options.probe.sample([os.getpid(), *workers])
        self.last_sample = sample
        peers = sum(1 for link in self.mesh.hub.links.values() if link.open) if self.mesh else 0
        conditions = observe(
            sample,
            now=time.time(),
            paused=self.paused,
            peers=peers,
            snoozed_until_ms=self.snoozed_until_ms,
            draining=self.draining,
            running_tasks=len(self._running),
        )
        new = decide(conditions, self.options.policy)
        if new.state != self.activity.state:
            log.info("state: %s (%s)", new.state, new.reason)
            self._emit({"event": "state", "state": new.state, "reason": new.reason})
        self.activity = new
        if self.pool is not None:
            self._apply_activity(new)

    def _apply_activity(self, new: Activity) -> None:
        """Contributing: run at the decided limit. Not contributing: running tasks stop
        using the CPU at once (suspended); back to contributing soon, they go on where they
        were; still stopped after HAND_BACK_AFTER_MS, they are handed back."""
        assert self.pool is not None
        if new.cpu_limit > 0:
            if abs(self.pool.cpu_limit - new.cpu_limit) > 1e-9:
                self.pool.set_cpu_limit(new.cpu_limit)
            if self._held_since_ms is not None:
                self._held_since_ms = None
                self.pool.release()
                log.info("running tasks resumed")
            return
        if self._held_since_ms is None:
            if not self._running:
                return
            self._held_since_ms = now_ms()
            self.pool.hold()
            log.info("running tasks suspended: %s", new.reason)
        elif not self._running:  # handed back or finished: nothing left to hold
            self._held_since_ms = None
            self.pool.release()
        elif now_ms() - self._held_since_ms >= HAND_BACK_AFTER_MS:
            self._spawn(self._hand_back(f"the node stopped contributing: {new.reason}"))

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
            "network_cpu_hours": self.ledger.ledger.network_cpu_hours() if self.ledger else 0.0,
            "rank": list(self.rank()),
            "peers": peers,
            "cpu_donated_s": round(self.cpu_donated_ms / 1000, 3),
            "state": state,
            "reason": reason,
            "idle_source": self.last_sample.idle_source,
            "idle_s": self.last_sample.idle_s,
            "other_cpu": self.last_sample.other_cpu,
        }

    def state(self) -> tuple[str, str]:
        """(state, reason): contributing, paused, waiting_for_idle, on_battery or offline.

        As last decided: every 2 s, and at once on pause, resume, snooze, drain, a new link
        or a settings change (a status poll does not sample the machine again)."""
        return self.activity.state, self.activity.reason
