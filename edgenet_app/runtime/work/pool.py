"""The worker pool: tasks run in separate, throttled, resource-limited processes.

- Workers are processes (spawned on demand, at most the number of CPUs the CPU limit
  allows, and stopped again after `idle_timeout_s` without work: the pool scales to zero).
- Each task is validated in the caller before it is queued (a bad payload never reaches
  a worker), then re-validated in the worker.
- Per-task limits: wall-clock time counted while the task is allowed to run, memory
  (RLIMIT_DATA in the worker on Linux plus an RSS watchdog here), and the kind's own
  limits (wasm fuel).
- A worker that crashes, is killed or exceeds a limit fails only its task; the pool
  starts a fresh worker for the next one. Tasks can be cancelled, queued or running.
- The CPU limit is enforced by `Throttle` (duty-cycle suspend/resume) on top of the
  lowest OS priority; `set_cpu_limit` takes effect at once.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import itertools
import logging
import math
import multiprocessing
import multiprocessing.connection
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ...core.economics import TASK_KINDS
from ...tasks.base import Json, Limits, PayloadError, TaskError
from . import worker as worker_mod
from .throttle import Throttle

SCOPE_RE = re.compile(r"[a-z2-7]{24}")  # a node id

log = logging.getLogger(__name__)

POLL_S = 0.02
IDLE = "idle"
RSS_CHECK_S = 0.2
RSS_SLACK_MB = 512  # the watchdog allows for the interpreter, numpy and a loaded model


@dataclass(frozen=True)
class TaskOutcome:
    """What became of one task."""

    task_id: str
    kind: str
    ok: bool
    result: Json = None
    error_code: str | None = None
    error: str | None = None
    cpu_s: float = 0.0
    wall_ms: float = 0.0

    def unwrap(self) -> Json:
        if not self.ok:
            raise TaskError(self.error or "task failed", code=self.error_code)
        return self.result


class PoolTask:
    """A submitted task: a future for its outcome, and a way to cancel it."""

    def __init__(
        self, task_id: str, kind: str, payload: Json, limits: Limits, scope: str = ""
    ) -> None:
        self.task_id = task_id
        self.kind = kind
        self.payload = payload
        self.limits = limits
        self.scope = scope
        self.future: concurrent.futures.Future[TaskOutcome] = concurrent.futures.Future()
        self.cancel_requested = threading.Event()
        self.submitted = time.perf_counter()
        self.future.add_done_callback(self._on_done)

    def _on_done(self, future: concurrent.futures.Future[TaskOutcome]) -> None:
        if future.cancelled():  # cancelled through the future (e.g. by asyncio)
            self.cancel()

    def cancel(self) -> None:
        self.cancel_requested.set()

    def result(self, timeout: float | None = None) -> TaskOutcome:
        return self.future.result(timeout)

    async def wait(self) -> TaskOutcome:
        """Await the outcome; cancelling the awaiting coroutine cancels the task."""
        try:
            return await asyncio.wrap_future(self.future)
        except asyncio.CancelledError:
            self.cancel()
            raise

    def __await__(self) -> Any:
        return self.wait().__await__()


class _Worker:
    def __init__(self, pool: WorkerPool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=worker_mod.main,
            args=(
                child,
                str(pool.data_dir),
                pool.limits.memory_mb,
                str(pool.model_dir) if pool.model_dir else None,
            ),
            name="edgenet-worker",
            daemon=True,
        )
        self.process.start()
        child.close()
        msg = self.conn.recv() if self.conn.poll(60) else None
        if not msg or msg[0] != "ready":
            self.kill()
            raise TaskError("a worker process failed to start", code="worker_failed")
        self.pid: int = msg[1]
        self.ps = psutil.Process(self.pid)
        self.last_used = time.monotonic()

    def alive(self) -> bool:
        return self.process.is_alive()

    def rss_mb(self) -> float:
        try:
            return float(self.ps.memory_info().rss) / 2**20
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        try:
            self.conn.send(("stop",))
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.kill()
        self.conn.close()

    def kill(self) -> None:
        try:
            self.process.kill()  # SIGKILL works on a suspended process too
        except (OSError, AttributeError):
            pass
        self.process.join(timeout=5)


class WorkerPool:
    def __init__(
        self,
        data_dir: Path,
        *,
        cpu_limit: float = 0.3,
        max_workers: int | None = None,
        idle_timeout_s: float = 30.0,
        limits: Limits | None = None,
        model_dir: Path | None = None,
        allowed_kinds: tuple[str, ...] | None = None,
    ) -> None:
        if not 0.0 < cpu_limit <= 1.0:
            raise ValueError(f"cpu_limit must be in (0, 1], got {cpu_limit}")
        self.data_dir = Path(data_dir)
        self.model_dir = model_dir
        self.limits = limits or Limits()
        self.idle_timeout_s = idle_timeout_s
        self.allowed_kinds = allowed_kinds
        self.cpus = psutil.cpu_count() or 1
        self._max_workers_cap = max_workers
        self.throttle = Throttle(cpu_limit, cpus=self.cpus)
        self._queue: collections.deque[PoolTask] = collections.deque()
        self._cond = threading.Condition()
        self._slots: list[threading.Thread] = []
        self._workers: dict[int, _Worker] = {}
        self._running: dict[int, PoolTask] = {}
        self._closed = False
        self._ids = itertools.count(1)
        self.completed = 0
        self.failed = 0

    # -- configuration ----------------------------------------------------------------

    @property
    def cpu_limit(self) -> float:
        return self.throttle.limit

    @property
    def max_workers(self) -> int:
        n = max(1, math.ceil(self.throttle.limit * self.cpus - 1e-9))
        return min(n, self._max_workers_cap) if self._max_workers_cap else n

    def set_cpu_limit(self, fraction: float) -> None:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"cpu_limit must be in (0, 1], got {fraction}")
        self.throttle.set_limit(fraction)
        with self._cond:
            if not self._closed:
                self._ensure_slots()
            self._cond.notify_all()

    def hold(self) -> None:
        """Suspend the workers (running tasks stop using CPU at once) until `release`;
        time held does not count against a task's time limit."""
        self.throttle.hold()

    def release(self) -> None:
        self.throttle.release()

    @property
    def held(self) -> bool:
        return self.throttle.held

    def worker_pids(self) -> list[int]:
        return [w.pid for w in list(self._workers.values()) if w.alive()]

    # -- submitting -------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        payload: Json,
        *,
        task_id: str | None = None,
        limits: Limits | None = None,
        urgent: bool = False,
        scope: str = "",
        validate: bool = True,
    ) -> PoolTask:
        """Validate and queue a task (`urgent`: ahead of the others, for high priority).

        `validate=False` leaves the payload's validation to the worker process (it parses
        it anyway; a bad payload then fails the task with `bad_payload`): a node
        running peers' tasks then never loads numpy, wasmtime or hnswlib itself.

        `scope` names whose stored data (vector collections) the task sees: "" the local
        user's, a submitter's node id for network tasks, so peers cannot touch each
        other's collections. Raises PayloadError (or TaskError) at once if the kind is
        unknown, not allowed here, or the payload is invalid."""
        if scope and not SCOPE_RE.fullmatch(scope):
            raise ValueError(f"invalid task scope {scope!r}")
        if self._closed:
            raise TaskError("the worker pool is shut down", code="closed")
        if kind not in TASK_KINDS:
            raise PayloadError(f"unknown task kind {kind!r}; known: {', '.join(TASK_KINDS)}")
        if self.allowed_kinds is not None and kind not in self.allowed_kinds:
            raise TaskError(f"task kind {kind!r} is not allowed on this node", code="not_allowed")
        if validate:
            from ...tasks.registry import get_kind  # numpy & co.: only with the first task

            get_kind(kind).parse(payload)
        task = PoolTask(
            task_id or f"t{next(self._ids)}", kind, payload, limits or self.limits, scope
        )
        with self._cond:
            if self._closed:  # shut down while the payload was being validated
                raise TaskError("the worker pool is shut down", code="closed")
            if urgent:
                self._queue.appendleft(task)
            else:
                self._queue.append(task)
            self._ensure_slots()
            self._cond.notify()
        return task

    async def run(self, kind: str, payload: Json, **kw: Any) -> TaskOutcome:
        return await self.submit(kind, payload, **kw).wait()

    def run_sync(self, kind: str, payload: Json, **kw: Any) -> TaskOutcome:
        return self.submit(kind, payload, **kw).result()

    # -- slots: one thread per possible worker -----------------------------------------

    def _ensure_slots(self) -> None:
        """Start (or restart) a thread for every slot the CPU limit allows."""
        for i in range(self.max_workers):
            if i < len(self._slots) and self._slots[i].is_alive():
                continue
            t = threading.Thread(
                target=self._slot, args=(i,), name=f"edgenet-slot-{i}", daemon=True
            )
            if i < len(self._slots):
                self._slots[i] = t
            else:
                self._slots.append(t)
            t.start()

    def _next_task(self, slot: int) -> PoolTask | str | None:
        """The next task for this slot; None when the pool closes; IDLE after a quiet tick."""
        with self._cond:
            if self._closed:
                return None
            if self._queue and slot < self.max_workers:
                return self._queue.popleft()
            self._cond.wait(timeout=min(1.0, self.idle_timeout_s / 2))
            if self._closed:
                return None
            if self._queue and slot < self.max_workers:
                return self._queue.popleft()
            return IDLE

    def _slot(self, slot: int) -> None:
        """One slot's thread. Only this thread ever talks to the slot's worker."""
        while True:
            task = self._next_task(slot)
            if task is None:
                self._drop(slot, kill=False)
                return
            if isinstance(task, str):
                w = self._workers.get(slot)
                idle_for = time.monotonic() - w.last_used if w else 0.0
                if w is not None and (idle_for > self.idle_timeout_s or slot >= self.max_workers):
                    log.debug("stopping idle worker %s", w.pid)
                    self._drop(slot, kill=False)
                continue
            if task.cancel_requested.is_set() or not task.future.set_running_or_notify_cancel():
                self._finish(task, _fail(task, "cancelled", "cancelled before it started"))
                continue
            try:
                outcome = self._execute(slot, task)
            except TaskError as exc:  # e.g. the worker failed to start
                self._drop(slot)
                outcome = _fail(task, exc.code, str(exc))
            except Exception as exc:  # never lose a task to a pool bug
                log.exception("pool failure")
                self._drop(slot)
                outcome = _fail(task, "internal_error", f"pool failure: {exc}")
            self._finish(task, outcome)

    def _finish(self, task: PoolTask, outcome: TaskOutcome) -> None:
        if outcome.ok:
            self.completed += 1
        else:
            self.failed += 1
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            if not task.future.done():
                task.future.set_result(outcome)

    def _get_worker(self, slot: int) -> _Worker:
        w = self._workers.get(slot)
        if w is not None and w.alive():
            return w
        if w is not None:
            self._drop(slot)
        w = _Worker(self)
        self._workers[slot] = w
        self.throttle.add(w.pid)
        return w

    def _drop(self, slot: int, *, kill: bool = True) -> None:
        w = self._workers.pop(slot, None)
        if w is None:
            return
        self.throttle.remove(w.pid)
        if kill:
            w.kill()
        else:
            w.stop()

    def _execute(self, slot: int, task: PoolTask) -> TaskOutcome:
        self._running[slot] = task
        try:
            return self._execute_in(slot, task)
        finally:
            self._running.pop(slot, None)

    def _execute_in(self, slot: int, task: PoolTask) -> TaskOutcome:
        start = time.perf_counter()
        w = self._get_worker(slot)
        self.throttle.set_busy(w.pid, True)
        try:
            w.conn.send(("task", task.task_id, task.kind, task.payload, task.limits, task.scope))
        except (OSError, EOFError):
            self.throttle.set_busy(w.pid, False)
            return self._crashed(slot, w, task, start)
        active = 0.0  # time the task was allowed to run (the throttle's duty cycle)
        last = time.perf_counter()
        next_rss = last + RSS_CHECK_S
        try:
            while True:
                if w.conn.poll(POLL_S):
                    msg = w.conn.recv()
                    break
                now = time.perf_counter()
                active += (now - last) * self.throttle.running_fraction()
                last = now
                if not w.alive():
                    return self._crashed(slot, w, task, start)
                if task.cancel_requested.is_set():
                    self._drop(slot)
                    return _fail(task, "cancelled", "cancelled while running", start)
                if active > task.limits.timeout_s:
                    self._drop(slot)
                    return _fail(
                        task,
                        "timeout",
                        f"the task ran longer than its {task.limits.timeout_s:g} s limit",
                        start,
                    )
                if now >= next_rss:
                    next_rss = now + RSS_CHECK_S
                    if w.rss_mb() > task.limits.memory_mb + RSS_SLACK_MB:
                        self._drop(slot)
                        return _fail(
                            task,
                            "out_of_memory",
                            f"the worker exceeded the {task.limits.memory_mb} MB memory limit",
                            start,
                        )
        except (EOFError, OSError):
            return self._crashed(slot, w, task, start)
        finally:
            self.throttle.set_busy(w.pid, False)
        w.last_used = time.monotonic()
        wall = (time.perf_counter() - start) * 1000
        if msg[0] == "ok":
            return TaskOutcome(task.task_id, task.kind, True, msg[2], cpu_s=msg[3], wall_ms=wall)
        return TaskOutcome(task.task_id, task.kind, False, None, msg[2], msg[3], msg[4], wall)

    def _crashed(self, slot: int, w: _Worker, task: PoolTask, start: float) -> TaskOutcome:
        w.process.join(timeout=1)
        code = w.process.exitcode
        self._drop(slot)
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return _fail(
            task,
            "worker_crashed",
            f"the worker process died ({how}) while running this task",
            start,
        )

    # -- scaling to zero and shutdown ---------------------------------------------------

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop accepting tasks, cancel queued and running ones, stop every worker."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            pending = list(self._queue)
            self._queue.clear()
            running = list(self._running.values())
            self._cond.notify_all()
        for task in pending:
            self._finish(task, _fail(task, "cancelled", "the pool shut down"))
        for task in running:
            task.cancel()
        deadline = time.monotonic() + timeout_s
        for t in self._slots:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        for slot in list(self._workers):  # slots that did not finish in time
            self._drop(slot)
        self.throttle.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def stats(self) -> dict[str, Any]:
        return {
            "workers": len(self.worker_pids()),
            "max_workers": self.max_workers,
            "queued": len(self._queue),
            "completed": self.completed,
            "failed": self.failed,
            "cpu_limit": self.cpu_limit,
        }


def _fail(task: PoolTask, code: str, message: str, start: float | None = None) -> TaskOutcome:
    wall = (time.perf_counter() - start) * 1000 if start is not None else 0.0
    return TaskOutcome(task.task_id, task.kind, False, None, code, message, 0.0, wall)
