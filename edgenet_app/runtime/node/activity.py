"""Whether the node contributes now: the user's pause, snooze and finish-then-pause (kept
across restarts), the machine's state (idle, battery, other programs), and what that means
for the tasks running here (suspended at once, handed back if it lasts)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ...core.activity import Activity, decide
from ...core.notifications import StateNote
from ..platform.probe import ProbeSample, observe
from ..work.pool import WorkerPool
from .background import Background
from .meta import MetaValue
from .notify import Notifier
from .options import NodeOptions

log = logging.getLogger(__name__)

PAUSE_META = "pause"  # store meta: paused / snoozed until, kept across restarts
HAND_BACK_AFTER_MS = 15_000  # tasks suspended this long (paused, busy machine) are given back


class ActivityService:
    """Decides (core/activity.py) whether to contribute, and at which CPU limit; applies it
    to the worker pool. `running()` counts the tasks running here, `peers()` the open links,
    `hand_back(reason)` gives the running tasks back to their submitters."""

    def __init__(
        self,
        options: NodeOptions,
        *,
        notifier: Notifier,
        background: Background,
        clock: Callable[[], int],
    ) -> None:
        self.options = options
        self._notifier, self._bg, self._clock = notifier, background, clock
        self.paused = False
        self.snoozed_until_ms = 0
        self.draining = False
        self.last_sample = ProbeSample()
        self.activity = Activity("offline", "not started", 0.0)
        self._held_since_ms: int | None = None  # running tasks suspended since
        self._saved: MetaValue | None = None
        self._pool: WorkerPool | None = None
        self._running: Callable[[], int] = lambda: 0
        self._peers: Callable[[], int] = lambda: 0
        self._hand_back: Callable[[str], Coroutine[Any, Any, None]] | None = None

    def restore(self, saved: MetaValue) -> None:
        """Keep the pause in `saved` from now on; a pause saved before a restart holds."""
        self._saved = saved
        try:
            state = saved.load() or {}
            paused = state.get("paused", False)
            until = state.get("snoozed_until_ms", 0)
            if not isinstance(paused, bool) or not isinstance(until, int):
                raise ValueError(f"unexpected values {state!r}")
        except (ValueError, AttributeError) as exc:
            log.warning("ignoring an unreadable saved pause: %s", exc)
            return
        self.paused = self.paused or paused
        if until > self._clock():
            self.snoozed_until_ms = max(self.snoozed_until_ms, until)
        if self.paused or self.snoozed_until_ms:
            log.info("still paused from before the restart (resume to contribute)")

    def drive(
        self,
        pool: WorkerPool,
        *,
        running: Callable[[], int],
        peers: Callable[[], int],
        hand_back: Callable[[str], Coroutine[Any, Any, None]],
    ) -> None:
        """From now on, apply decisions to `pool` and its running tasks."""
        self._pool, self._running, self._peers, self._hand_back = pool, running, peers, hand_back

    # -- the user's say -------------------------------------------------------------------

    def pause(self) -> None:
        self.paused = True
        self._save()
        self.update()

    def resume(self) -> None:
        """Contribute again: ends a pause, a snooze and a pending finish-then-pause."""
        self.paused = False
        self.snoozed_until_ms = 0
        self.draining = False
        self._save()
        self.update()

    def snooze(self, seconds: float) -> None:
        """Pause for `seconds`, then resume by itself."""
        self.snoozed_until_ms = self._clock() + int(seconds * 1000)
        self._save()
        self.update()

    def finish_then_pause(self) -> None:
        """Take no new tasks; pause once those running here are done."""
        self.draining = True
        self._save()
        self.update()

    def _save(self) -> None:
        """A pause, snooze or pending finish-then-pause outlives a restart (like BOINC's
        suspend): the user said so, a reboot did not take it back."""
        if self._saved is not None:
            paused = self.paused or self.draining
            self._saved.save({"paused": paused, "snoozed_until_ms": self.snoozed_until_ms})

    # -- deciding -------------------------------------------------------------------------

    def state(self) -> tuple[str, str]:
        """(state, reason): contributing, paused, waiting_for_idle, on_battery or offline.

        As last decided: every 2 s, and at once on pause, resume, snooze, drain, a new link
        or a settings change (a status poll does not sample the machine again)."""
        return self.activity.state, self.activity.reason

    def update(self) -> None:
        """Decide (core/activity.py) whether to contribute now, and at which CPU limit."""
        running = self._running()
        if self.draining and not running:  # finished: now a plain pause
            self.paused, self.draining = True, False
        workers = self._pool.worker_pids() if self._pool is not None else []
        sample = self.options.probe.sample([os.getpid(), *workers])
        self.last_sample = sample
        conditions = observe(
            sample,
            now=time.time(),
            paused=self.paused,
            peers=self._peers(),
            snoozed_until_ms=self.snoozed_until_ms,
            draining=self.draining,
            running_tasks=running,
        )
        new = decide(conditions, self.options.policy)
        if new.state != self.activity.state:
            log.info("state: %s (%s)", new.state, new.reason)
            self._notifier.emit(StateNote(new.state, new.reason))
        self.activity = new
        if self._pool is not None:
            self._apply(self._pool, new, running)

    def _apply(self, pool: WorkerPool, new: Activity, running: int) -> None:
        """Contributing: run at the decided limit. Not contributing: running tasks stop
        using the CPU at once (suspended); back to contributing soon, they go on where they
        were; still stopped after HAND_BACK_AFTER_MS, they are handed back."""
        if new.cpu_limit > 0:
            if abs(pool.cpu_limit - new.cpu_limit) > 1e-9:
                pool.set_cpu_limit(new.cpu_limit)
            if self._held_since_ms is not None:
                self._held_since_ms = None
                pool.release()
                log.info("running tasks resumed")
            return
        if self._held_since_ms is None:
            if not running:
                return
            self._held_since_ms = self._clock()
            pool.hold()
            log.info("running tasks suspended: %s", new.reason)
        elif not running:  # handed back or finished: nothing left to hold
            self._held_since_ms = None
            pool.release()
        elif self._clock() - self._held_since_ms >= HAND_BACK_AFTER_MS:
            if self._hand_back is not None:
                self._bg.spawn(self._hand_back(f"the node stopped contributing: {new.reason}"))
