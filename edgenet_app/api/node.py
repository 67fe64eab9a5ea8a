"""`EdgeNode`: the handle of a node started by `init`. It submits tasks (checked into
`SubmitRequest`s before the node sees them), relays the node's notifications to the
`on_credit`, `on_task` and `on_error` callbacks, and disconnects cleanly."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..core import economics as econ
from ..core import notifications as notes
from ..core.notifications import CreditNote, ErrorNote, Notification, TaskNote
from ..core.settings import SettingValue
from ..core.submit import MIN_TIMEOUT_S, SubmitRequest
from .arguments import batch_requests, task_request
from .errors import ApiError, DisconnectedError, NodeReportedError

if TYPE_CHECKING:
    from ..runtime.node import Node

__all__ = ["BatchResult", "CreditCallback", "EdgeNode", "ErrorCallback", "TaskCallback"]

log = logging.getLogger(__name__)

CreditCallback = Callable[[float, float], Any]
TaskCallback = Callable[[dict[str, Any]], Any]
ErrorCallback = Callable[[BaseException], Any]
BatchResult = dict[str, Any] | BaseException

PEER_WAIT_S = 30.0  # how long submit waits for `redundancy` peers before announcing anyway
CALLBACK_GRACE_S = 5.0  # disconnect lets running coroutine callbacks finish this long


class EdgeNode:
    """A running node started by `init`: contributes CPU and submits tasks.

    `stats()`, `pause()`, `resume()`, `await disconnect()`, `await submit(...)`,
    `await submit_batch(...)`; `async with` disconnects on exit. `node` is the underlying
    `runtime.node.Node`, `settings` the effective settings it was started with.
    """

    def __init__(
        self,
        node: Node,
        *,
        site_id: str | None,
        settings: Mapping[str, SettingValue],
        on_credit: CreditCallback | None = None,
        on_task: TaskCallback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self.node = node
        self.site_id = site_id
        self.settings = dict(settings)
        self._on_credit = on_credit
        self._on_task = on_task
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._callbacks: set[asyncio.Future[Any]] = set()
        self._unsubscribe: Callable[[], object] | None = None
        self._stopping: asyncio.Future[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def _start(self) -> None:
        self._unsubscribe = self.node.subscribe(self._on_event)
        try:
            await self.node.start()
        except BaseException:
            self._unsubscribe()
            try:
                await self.node.stop()
            except Exception:
                log.exception("cleaning up after a failed start")
            raise

    async def disconnect(self) -> None:
        """Stop the node (links, worker pool, store). Calling it again does nothing."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        try:
            if self._unsubscribe is not None:
                self._unsubscribe()
            await self.node.stop()
        finally:
            pending = self._callbacks - {asyncio.current_task()}
            if pending:
                _, late = await asyncio.wait(pending, timeout=CALLBACK_GRACE_S)
                for fut in late:
                    fut.cancel()

    @property
    def disconnected(self) -> bool:
        return self._stopping is not None

    async def __aenter__(self) -> EdgeNode:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    # -- status ---------------------------------------------------------------------------

    @property
    def node_id(self) -> str:
        assert self.node.identity is not None
        return self.node.identity.node_id

    @property
    def data_dir(self) -> Path:
        return self.node.data_dir

    def stats(self) -> dict[str, Any]:
        """node_id, network, state, reason, credits {available, locked, staked} (in
        micro-credits), tasks_completed, tasks_submitted, uptime_s, reputation, multiplier,
        rank, peers, cpu_donated_s... (`core/status.py` NodeStatus as JSON)."""
        return self.node.stats().to_json()

    def pause(self) -> None:
        """Stop taking new tasks (running ones finish); submitting still works."""
        self.node.pause()

    def resume(self) -> None:
        self.node.resume()

    def __repr__(self) -> str:
        who = self.node.identity.node_id if self.node.identity else "?"
        state = "disconnected" if self.disconnected else self.node.state()[0]
        return f"<EdgeNode {who} site={self.site_id!r} {state}>"

    # -- callbacks ------------------------------------------------------------------------

    def _on_event(self, note: Notification) -> None:
        if isinstance(note, CreditNote) and self._on_credit is not None:
            self._call("on_credit", self._on_credit, note.amount / econ.MICRO, self._total())
        elif isinstance(note, TaskNote) and self._on_task is not None:
            self._call("on_task", self._on_task, {"type": note.kind, **notes.to_json(note)})
        elif isinstance(note, ErrorNote) and self._on_error is not None:
            self._call(
                "on_error", self._on_error, NodeReportedError(note.message, notes.to_json(note))
            )

    def _total(self) -> float:
        credits = self.node.stats().credits
        return (credits.available + credits.locked) / econ.MICRO

    def _call(self, name: str, callback: Callable[..., Any], *args: Any) -> None:
        try:
            result = callback(*args)
        except Exception:
            log.exception("the %s callback failed", name)
            return
        if inspect.isawaitable(result):
            fut = asyncio.ensure_future(result)
            self._callbacks.add(fut)
            fut.add_done_callback(lambda f: self._callback_done(name, f))

    def _callback_done(self, name: str, fut: asyncio.Future[Any]) -> None:
        self._callbacks.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.error("the %s callback failed", name, exc_info=fut.exception())

    # -- submitting -----------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self.disconnected:
            raise ApiError("this node is disconnected; start one with `await edgenet_app.init()`")
        if asyncio.get_running_loop() is not self._loop:
            raise ApiError(
                "this node runs in another event loop; call init() in the loop that submits"
            )

    async def submit(
        self, type: str, payload: Any, options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one task on the network and pay the workers whose results agreed.

        Returns {"result", "cost" (credits, float), "cost_micro", "workers" (node ids),
        "verified", "reason"}. A result that could not be verified is returned with
        verified False and the reason; a bad payload, too few credits or no verdict before the
        timeout raise. Options: see `submit_options` (`timeout` is in milliseconds, like the
        seed's; `timeout_s` in seconds; default 60 s).
        """
        self._check_usable()
        return await self._submit(task_request(type, payload, options))

    async def submit_batch(self, tasks: Sequence[Mapping[str, Any]]) -> list[BatchResult]:
        """Run several tasks concurrently; the results come back in order.

        Every item is `{"type", "payload", "options"?}`, all checked before any task starts
        (a bad item raises `ApiError` naming its index). A task that then fails does not
        cancel the others: its slot holds the exception (like `asyncio.gather(...,
        return_exceptions=True)`), so check `isinstance(r, BaseException)`.
        """
        self._check_usable()
        runs = [self._submit(request) for request in batch_requests(tasks)]
        return list(await asyncio.gather(*runs, return_exceptions=True))

    async def _submit(self, request: SubmitRequest) -> dict[str, Any]:
        waited = await self._wait_for_peers(request)
        # the time spent waiting counts against the timeout, down to SubmitRequest's least
        left = max(request.timeout_s - waited, MIN_TIMEOUT_S)
        try:
            out = await self.node.submit(dataclasses.replace(request, timeout_s=left))
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if self.disconnected and me is not None and not me.cancelling():
                raise DisconnectedError(
                    "the node was disconnected before the task finished"
                ) from None
            raise
        result = out.as_dict()
        result["cost"] = out.cost / econ.MICRO
        return result

    async def _wait_for_peers(self, request: SubmitRequest) -> float:
        """Right after start, give the mesh time to reach `redundancy` peers (at most half the
        timeout, and PEER_WAIT_S), so the announcement finds its workers. A bad payload is
        reported before waiting. Returns the seconds waited."""
        if len(self.node.stats().peers) >= request.redundancy:
            return 0.0
        from ..tasks.registry import get_kind

        get_kind(request.kind).parse(request.payload)
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + min(request.timeout_s / 2, PEER_WAIT_S)
        while len(self.node.stats().peers) < request.redundancy and loop.time() < deadline:
            await asyncio.sleep(0.1)
        return loop.time() - start
