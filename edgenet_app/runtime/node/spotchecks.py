"""Spot-checks with known answers (core/spotcheck.py): about one submitted task in ten is
followed by an earlier task whose answer is known, sent like any other; workers that get it
wrong are unpaid and barred by this node for 24 h (kept across restarts)."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from ...core import economics as econ
from ...core.errors import EdgenetError
from ...core.identity import node_id_of
from ...core.ledger import Ledger
from ...core.notifications import SpotCheckFailedNote
from ...core.spotcheck import BAR_MS, AnswerBank, KnownAnswer, barred
from ...core.taskflow import Verdict
from ..net.mesh import Mesh
from .background import Background
from .meta import MetaValue
from .notify import Notifier

log = logging.getLogger(__name__)

BARS_META = "spot_check_bars"  # store meta: workers barred after failing a spot-check
SPOT_CHECK_HEADROOM = 10  # a spot-check runs only with 10× its budget available


class SpotChecks:
    """Known answers kept from verified tasks, the checks run with them, and the bars.

    `run(known, redundancy, size, price)` runs a check like any task and returns its
    verdict; `spendable()` is what this node may spend now (available minus reserved)."""

    def __init__(
        self,
        ledger: Ledger,
        mesh: Mesh,
        saved: MetaValue,
        *,
        rate: Callable[[], float],
        run: Callable[[KnownAnswer, int, int, int], Awaitable[Verdict]],
        spendable: Callable[[], int],
        notifier: Notifier,
        background: Background,
        clock: Callable[[], int],
    ) -> None:
        self.ledger, self.mesh, self._saved, self._rate = ledger, mesh, saved, rate
        self._run, self._spendable = run, spendable
        self._notifier, self._bg, self._clock = notifier, background, clock
        self.answers = AnswerBank()
        self.bars: dict[bytes, int] = {}  # worker → barred until (failed a spot-check)
        self._rng = random.Random()
        self._load()

    def barred_now(self) -> frozenset[bytes]:
        return barred(self.bars, self._clock())

    def is_barred(self, worker: bytes) -> bool:
        return self.bars.get(worker, 0) > self._clock()

    def after(
        self, kind: str, payload: Any, priority: str, timeout_s: float, verdict: Verdict
    ) -> None:
        """Keep a strong answer for later; about one task in ten, spot-check with one."""
        rate = self._rate()  # the share of tasks followed by a check (read live)
        if rate <= 0:
            return
        self.answers.learn(kind, payload, priority, timeout_s, verdict)
        known = self.answers.pick(self._rng, rate, lambda k: self.checkers(k) > 0)
        if known is not None:
            self._bg.spawn(self.check(known))

    async def check(self, known: KnownAnswer) -> None:
        """Send a task whose answer is known, like any other; bar the workers that get it
        wrong. Paid like any task: only the agreeing results. Those that computed the
        original may not claim it; with fewer others linked than the original's
        redundancy, fewer are checked; with none, there is no check."""
        from ...tasks.registry import get_kind

        now = self._clock()
        self.bars = {w: t for w, t in self.bars.items() if t > now}
        redundancy = min(known.redundancy, self.checkers(known))
        if redundancy < 1:
            return
        k = get_kind(known.kind)
        size = k.size(k.parse(known.payload))  # parsed before: it was submitted from here
        price = econ.task_price_micro(known.kind, size, known.priority)
        if price * redundancy * SPOT_CHECK_HEADROOM > self._spendable():
            return  # never take credits the user's own tasks may need
        try:
            verdict = await self._run(known, redundancy, size, price)
        except (TimeoutError, EdgenetError) as exc:  # e.g. the node stopping meanwhile
            log.info("spot-check not run: %s", exc)
            return
        now = self._clock()
        for dissent in verdict.dissenters:
            self.bars[dissent.worker] = now + BAR_MS
            log.warning(
                "%s failed a spot-check (%s): barred for 24 h",
                node_id_of(dissent.worker),
                known.kind,
            )
            self._notifier.emit(SpotCheckFailedNote(node_id_of(dissent.worker)))
        if verdict.dissenters:
            self._save()
        log.info(
            "spot-check %s: %d passed, %d failed",
            known.kind,
            len(verdict.payments),
            len(verdict.dissenters),
        )

    def checkers(self, known: KnownAnswer) -> int:
        """Linked workers that could take a check of `known`: proven (paid for work before,
        so they do take tasks), not barred, and not among those that computed it."""
        accounts = self.ledger.state.accounts
        shut_out = known.computed_by | self.barred_now()
        return sum(
            1
            for p in self.mesh.open_peers()
            if p not in shut_out
            and (acct := accounts.get(p)) is not None
            and acct.valid_results > 0
        )

    def _save(self) -> None:
        now = self._clock()
        self._saved.save({w.hex(): t for w, t in self.bars.items() if t > now})

    def _load(self) -> None:
        try:
            saved = self._saved.load() or {}
            now = self._clock()
            self.bars = {
                bytes.fromhex(w): int(t) for w, t in saved.items() if len(w) == 64 and int(t) > now
            }
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            log.warning("ignoring unreadable spot-check bars: %s", exc)
            self.bars = {}
