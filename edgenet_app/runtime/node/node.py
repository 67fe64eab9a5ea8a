"""The node: identity, store, ledger, worker pool, links and the two sides of the task
protocol, wired together.

`Node` is what `edgenet node` (headless) and the tray app run. It owns its resources (key,
store, pool, mesh) and hands each service what it needs: `Links` keeps the relay and the
peer links, `Contributor` runs other peers' tasks, `Submitter` runs this node's tasks (with
`SpotChecks`), `ActivityService` decides whether to contribute, `Account` writes the
stake and uptime events; `History`, `report` and `Notifier` tell the outside what happens.
The sans-IO flows in `core/taskflow/` decide; the services perform their actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...core.errors import NodeError, WireError
from ...core.events import Event
from ...core.genesis import Genesis
from ...core.identity import Identity, node_id_of
from ...core.status import NodeHistory, NodeStatus
from ...core.submit import SubmitRequest
from ...core.taskmsg import Abandon, Assign, Cancel, Claim, Result, parse
from ..net.mesh import Mesh
from ..net.webrtc import PeerHub, PeerLink, loopback_only
from ..store import keystore, paths
from ..store.ledger_store import LedgerStore, now_ms
from ..store.store import Store
from ..work.pool import WorkerPool
from .account import Account
from .activity import PAUSE_META, ActivityService
from .background import Background
from .contributor import Contributor
from .counters import Counters
from .history import History
from .links import Links, connect_relay
from .meta import MetaValue
from .notify import Listener, Notifier
from .options import NodeOptions
from .placement import Placement
from .report import rank, status
from .spotchecks import BARS_META
from .submitter import SubmitResult, Submitter

log = logging.getLogger(__name__)

TICK_S = 0.1
IDLE_TICK_S = 1.0
UPKEEP_MS = 2_000  # activity, links, stake and uptime are reviewed this often
HAND_BACK_ON_STOP_S = 2.0
# a node whose chain is not in its store waits this long at start for a peer to show it
LEARN_HEAD_ON_START_S = 10.0

__all__ = ["Node", "NodeError", "SubmitResult"]


class Node:
    def __init__(self, data_dir: Path, genesis: Genesis, options: NodeOptions | None = None):
        self.data_dir = Path(data_dir)
        self.genesis = genesis
        self.options = options or NodeOptions()
        self.identity: Identity | None = None
        self.store: Store | None = None
        self.ledger: LedgerStore | None = None
        self.pool: WorkerPool | None = None
        self.mesh: Mesh | None = None
        self.links: Links | None = None
        self.contributor: Contributor | None = None
        self.submitter: Submitter | None = None
        self.account: Account | None = None
        self.history_log: History | None = None
        self.counters = Counters()
        self.notifier = Notifier()
        self.background = Background()
        self.activity = ActivityService(
            self.options, notifier=self.notifier, background=self.background, clock=now_ms
        )
        self._ticker: asyncio.Task[None] | None = None
        self._last_upkeep_ms = 0
        self._head_learned = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.identity, created = keystore.ensure_identity(self.data_dir, self.options.passphrase)
        if created:
            log.info("created identity %s", self.identity.node_id)
        self.notifier.me = self.identity.public_key
        self.store = Store.open(paths.store_path(paths.ensure_private_dir(self.data_dir)))
        self.ledger = LedgerStore(self.store, self.genesis)
        if not self.ledger.confirm_own_chain(self.identity, created=created):
            log.warning(
                "identity %s has no ledger chain in this store (a restored key or a new "
                "store): it will sign nothing until a peer shows its latest event",
                self.identity.node_id,
            )
        self.activity.restore(MetaValue(self.store, PAUSE_META, "the pause"))
        self.account = Account(
            self.identity,
            self.genesis,
            self.ledger,
            auto_stake=lambda: self.options.auto_stake,
            reserved=lambda: self.submitter.reserved if self.submitter else 0,
            publish=self._publish_soon,
            clock=now_ms,
        )
        self.account.claim_genesis_grant()
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
            relay = await connect_relay(self.identity, self.genesis, self.options)
        except BaseException:
            await self.stop()  # release the worker pool and the store
            raise
        hub = PeerHub(relay, ice_servers=self.options.ice_servers)
        self.mesh = mesh = Mesh(hub, self.ledger, on_direct=self._on_direct)
        mesh.on_new_events.append(self.notifier.ledger_events)
        mesh.on_synced.append(self._on_synced)
        try:
            self._wire_services(self.identity, self.ledger, self.store, self.pool, mesh)
        except BaseException:
            await self.stop()  # the relay, the pool and the store, as above
            raise
        hub.start()
        self.account.online(now_ms())
        assert self.links is not None
        self.links.dial_first()
        if self.identity.public_key in self.ledger.learning:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._head_learned.wait(), LEARN_HEAD_ON_START_S)
        self.activity.update()
        self.account.maybe_stake()
        self._ticker = asyncio.create_task(self._tick_loop())
        self.background.spawn(self.links.keep_relay())

    async def settle_now(self) -> None:
        """Write the payments queued for the next settlements batch now."""
        if self.submitter is not None:
            await self.submitter.settler.flush()

    def _on_synced(self, peer: bytes) -> None:
        """In sync with `peer`: what it holds of our chain, we hold too. (One peer is
        trusted for it: a lying one can hide our head; SECURITY.md, known limits.)"""
        assert self.ledger is not None and self.identity is not None
        me = self.identity.public_key
        if self.ledger.head_learned(me):
            head = self.ledger.ledger.head(self.identity.public_key)
            log.info(
                "learned this identity's chain from %s (latest event #%d): signing again",
                node_id_of(peer),
                head.seq if head else 0,
            )
            self._head_learned.set()
            if self.account is not None:
                self.account.claim_genesis_grant()

    def _wire_services(
        self, identity: Identity, ledger: LedgerStore, store: Store, pool: WorkerPool, mesh: Mesh
    ) -> None:
        self.history_log = history = History(store, ledger.ledger, identity.public_key)
        self.submitter = Submitter(
            identity,
            self.genesis,
            ledger,
            mesh,
            Placement(store, self.genesis.network_id),
            bars=MetaValue(store, BARS_META, "spot-check bars"),
            spot_check_rate=lambda: self.options.spot_check_rate,
            history=history,
            counters=self.counters,
            publish=self._publish,
            background=self.background,
            notifier=self.notifier,
            clock=now_ms,
        )
        self.contributor = contributor = Contributor(
            identity,
            self.genesis,
            self.options,
            pool,
            mesh,
            activity=lambda: self.activity.activity,
            history=history,
            counters=self.counters,
            notifier=self.notifier,
            background=self.background,
            clock=now_ms,
        )
        mesh.on_gossip = contributor.on_announce
        self.links = Links(
            identity,
            self.genesis,
            self.options,
            mesh,
            background=self.background,
            notifier=self.notifier,
            on_change=self.activity.update,
            on_peer_lost=self.submitter.peer_lost,
            clock=now_ms,
        )
        self.activity.drive(
            pool,
            running=lambda: len(contributor.running),
            peers=lambda: len(mesh.open_peers()),
            hand_back=contributor.hand_back,
        )

    async def stop(self) -> None:
        """Hand back the tasks still running here (their submitters reassign them at once),
        then close links, workers and the store."""
        if self._ticker is not None:
            self._ticker.cancel()
        if self.contributor is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    self.contributor.hand_back("the node is shutting down"), HAND_BACK_ON_STOP_S
                )
        if self.submitter is not None:  # pay what is queued before the links close
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.submitter.settler.flush(), HAND_BACK_ON_STOP_S)
            self.submitter.settler.close()
        self.background.cancel_all()
        if self.submitter is not None:
            self.submitter.cancel_all()
        if self.mesh is not None:
            await self.mesh.close()
            await self.mesh.hub.close()
        if self.pool is not None:
            await asyncio.to_thread(self.pool.shutdown)
        if self.store is not None:
            self.store.close()
        close = getattr(self.options.probe, "close", None)
        if callable(close):
            close()  # the idle source's X display or D-Bus connection

    # -- the task protocol: time and messages ---------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            # tasks in flight need prompt timeouts; an idle node wakes up rarely (CPU at idle)
            busy = bool(self.submitter and self.submitter.flows) or bool(
                self.contributor and self.contributor.busy
            )
            await asyncio.sleep(TICK_S if busy else IDLE_TICK_S)
            try:
                self._tick(now_ms())
            except Exception:  # one bad tick must not stop every later deadline
                log.exception("tick failed")

    def _tick(self, now: int) -> None:
        assert self.submitter and self.contributor and self.links and self.account
        self.submitter.tick(now)
        self.contributor.tick(now)
        if now - self._last_upkeep_ms >= UPKEEP_MS:
            self._last_upkeep_ms = now
            self.activity.update()
            self.links.top_up()
            self.account.upkeep(now)

    async def _on_direct(self, body: bytes, link: PeerLink) -> None:
        """A task message over a link: claims, results and abandons go to the submitter,
        assignments and cancels to the contributor."""
        try:
            msg = parse(body)
        except WireError as exc:
            log.info("bad task message from %s: %s", node_id_of(link.remote), exc)
            return
        if msg.sender != link.remote:
            log.info("task message relayed by another peer; ignored")
            return
        if isinstance(msg, Claim | Result | Abandon) and self.submitter is not None:
            self.submitter.handle(msg)
        elif isinstance(msg, Assign | Cancel) and self.contributor is not None:
            self.contributor.handle(msg)

    async def _publish(self, events: list[Event]) -> None:
        """Send new events of ours to the mesh and tell the listeners."""
        if self.mesh is not None:
            await self.mesh.publish_events(events)
        self.notifier.ledger_events(events)

    def _publish_soon(self, events: list[Event]) -> None:
        if self.mesh is not None and events:
            self.background.spawn(self.mesh.publish_events(events))
        self.notifier.ledger_events(events)

    # -- what the outside asks ------------------------------------------------------------

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(event)` for every notification (see `Notifier`); returns an
        unsubscribe function."""
        return self.notifier.subscribe(callback)

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        """Run a task on the network, pay the workers that agreed, return the result."""
        if self.submitter is None:
            raise NodeError("the node is not started")
        return await self.submitter.submit(request)

    def apply_settings(self, values: dict[str, Any]) -> None:
        """Apply changed settings to the running node (already validated by the caller)."""
        self.options.update(values)
        if self.pool is not None:
            self.pool.allowed_kinds = self.options.kinds
            self.pool.limits = self.options.limits
        self.activity.update()

    def pause(self) -> None:
        self.activity.pause()

    def resume(self) -> None:
        """Contribute again: ends a pause, a snooze and a pending finish-then-pause."""
        self.activity.resume()

    def snooze(self, seconds: float) -> None:
        """Pause for `seconds`, then resume by itself."""
        self.activity.snooze(seconds)

    def finish_then_pause(self) -> None:
        """Take no new tasks; pause once those running here are done."""
        self.activity.finish_then_pause()

    @property
    def paused(self) -> bool:
        return self.activity.paused

    @property
    def draining(self) -> bool:
        return self.activity.draining

    @property
    def snoozed_until_ms(self) -> int:
        return self.activity.snoozed_until_ms

    def state(self) -> tuple[str, str]:
        """(state, reason), as last decided (see `ActivityService.state`)."""
        return self.activity.state()

    def stats(self) -> NodeStatus:
        """A snapshot for `edgenet status`, the control API and the tray."""
        return status(
            self.genesis,
            self.identity,
            self.ledger.ledger if self.ledger else None,
            activity=self.activity,
            counters=self.counters,
            peers=[node_id_of(p) for p in self.mesh.open_peers()] if self.mesh else [],
            started_ms=self.account.started_ms if self.account else 0,
            now=now_ms(),
        )

    def history(self, limit: int = 50) -> NodeHistory:
        """For the dashboard: recent tasks, and this node's earnings over time."""
        if self.history_log is None:
            return NodeHistory()
        return self.history_log.recent(limit)

    def rank(self) -> tuple[int, int]:
        """(#N, of M): this node's place among all accounts by total credits."""
        if self.ledger is None or self.identity is None:
            return 0, 0
        return rank(self.ledger.ledger, self.identity.public_key, now_ms())
