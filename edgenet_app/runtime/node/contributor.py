"""The contributor's side of the task protocol: take announced tasks this node accepts, run
them in the worker pool, send the results; give back what it cannot finish."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ...core.activity import Activity
from ...core.errors import WireError
from ...core.genesis import Genesis
from ...core.identity import Identity, node_id_of
from ...core.notifications import TaskNote
from ...core.peerwire import Gossip
from ...core.taskflow import (
    WORKER_END_STATES,
    Action,
    Broadcast,
    Execute,
    Rejected,
    SendTo,
    StopExecution,
    TokenBucket,
    WorkerFlow,
)
from ...core.taskmsg import Assign, Cancel, TaskAnnounce
from ...tasks.base import TaskError
from ..net.mesh import Mesh
from ..net.webrtc import PeerLink
from ..store.store import TaskRecord
from ..work.pool import PoolTask, WorkerPool
from .background import Background
from .counters import Counters
from .history import History
from .notify import Notifier
from .options import NodeOptions
from .outbox import deliver

log = logging.getLogger(__name__)


class Contributor:
    """Runs other peers' tasks. `activity()` is the node's current decision: tasks are
    taken only while it accepts them, and started only while it has CPU to give."""

    def __init__(
        self,
        identity: Identity,
        genesis: Genesis,
        options: NodeOptions,
        pool: WorkerPool,
        mesh: Mesh,
        *,
        activity: Callable[[], Activity],
        history: History,
        counters: Counters,
        notifier: Notifier,
        background: Background,
        clock: Callable[[], int],
    ) -> None:
        self.identity, self.genesis, self.options = identity, genesis, options
        self.pool, self.mesh = pool, mesh
        self._activity, self._history, self._counters = activity, history, counters
        self._notifier, self._bg, self._clock = notifier, background, clock
        self.works: dict[bytes, WorkerFlow] = {}
        self.running: dict[bytes, PoolTask] = {}
        self._announces_in = TokenBucket()  # announces per submitter

    @property
    def busy(self) -> bool:
        """A task is claimed or running here (its deadlines need prompt ticks)."""
        return any(w.state in ("claimed", "executing") for w in self.works.values())

    async def on_announce(self, g: Gossip, link: PeerLink) -> None:
        if g.kind != "announce" or not self._activity().accepts_tasks:
            return
        try:
            announce = TaskAnnounce.decode(g.body)
        except WireError as exc:
            log.info("bad announce from %s: %s", node_id_of(link.remote), exc)
            return
        if announce.sender == self.identity.public_key or announce.task in self.works:
            return
        flow = WorkerFlow(
            self.identity,
            self.genesis.network_id,
            kinds=self.options.kinds,
            limiter=self._announces_in,
        )
        actions = flow.on_announce(announce, self._clock())
        if flow.state == "idle":  # not for us: keep no state (a re-announce is judged anew)
            return
        self.works[announce.task] = flow
        self._act(actions, flow)

    def handle(self, msg: Assign | Cancel) -> None:
        """A message from the task's submitter (the sender was checked by the caller)."""
        flow = self.works.get(msg.task)
        if flow is not None:
            self._act(flow.handle(msg, self._clock()), flow)

    def tick(self, now: int) -> None:
        for task, flow in list(self.works.items()):
            self._act(flow.tick(now), flow)
            if flow.state in WORKER_END_STATES and now > flow.deadline_ms:
                del self.works[task]

    async def hand_back(self, reason: str) -> None:
        """Stop the tasks running here and give them back (Abandon): their submitters
        reassign them at once instead of waiting for the assignment deadline."""
        now = self._clock()
        executing = [(t, w) for t, w in self.works.items() if w.state == "executing"]
        for task, _ in executing:
            running = self.running.pop(task, None)
            if running is not None:
                running.cancel()
        if executing:
            log.info("handing back %d task(s): %s", len(executing), reason)
        await asyncio.gather(*(self._perform(w.on_failed(reason, now), w) for _, w in executing))

    def _act(self, actions: list[Action], flow: WorkerFlow) -> None:
        """Perform actions in the background: a link's reader must never wait on a send
        (a claim dialed through the very neighbour whose frames it would block)."""
        if actions:
            self._bg.spawn(self._perform(actions, flow))

    async def _perform(self, actions: list[Action], flow: WorkerFlow) -> None:
        for action in actions:
            if isinstance(action, SendTo | Broadcast):
                await deliver(self.mesh, action)
            elif isinstance(action, Execute):
                self._bg.spawn(self.execute(flow, action))
            elif isinstance(action, StopExecution):
                running = self.running.pop(action.task, None)
                if running is not None:
                    running.cancel()
            elif isinstance(action, Rejected):
                log.info("rejected: %s", action.reason)

    async def execute(self, flow: WorkerFlow, action: Execute) -> None:
        if flow.state != "executing":  # handed back before it could start
            return
        activity = self._activity()
        if activity.cpu_limit <= 0:  # assigned after we stopped contributing: give it back
            reason = f"the node stopped contributing: {activity.reason}"
            await self._perform(flow.on_failed(reason, self._clock()), flow)
            return
        assert flow.announce is not None
        try:
            task = self.pool.submit(
                action.kind,
                action.payload,
                urgent=flow.announce.priority == "high",
                scope=node_id_of(flow.announce.sender),
                validate=False,  # the worker process validates: numpy & co. stay out of here
            )
        except TaskError as exc:
            await self._perform(flow.on_failed(str(exc), self._clock()), flow)
            return
        self.running[action.task] = task
        started = self._clock()
        outcome = await task.wait()
        self.running.pop(action.task, None)
        cpu_ms = int(outcome.cpu_s * 1000)
        self._counters.cpu_donated_ms += cpu_ms
        error = None if outcome.ok else f"{outcome.error_code}: {outcome.error}"
        self._history.record(
            TaskRecord(
                action.task.hex(),
                action.kind,
                "executed",
                "done" if outcome.ok else "failed",
                started,
                self._clock(),
                flow.announce.price,
                None if error is None else error[:500],
            )
        )
        self._notifier.emit(
            TaskNote(
                action.kind,
                action.task.hex(),
                outcome.ok,
                cpu_ms,
                None if outcome.ok else outcome.error_code,
            )
        )
        if flow.state != "executing":  # handed back, or cancelled by its submitter
            return
        if outcome.ok:
            self._counters.tasks_completed += 1
            actions = flow.on_executed(outcome.result, self._clock(), cpu_ms)
        else:
            actions = flow.on_failed(f"{outcome.error_code}: {outcome.error}", self._clock())
        await self._perform(actions, flow)
