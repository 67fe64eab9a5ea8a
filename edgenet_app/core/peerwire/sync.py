"""Received ledger events on one peer link.

`LedgerSync` admits the events a link delivers (flooded `events`, or a `reply` to our
`want`, see recon.py) to the ledger: each is authenticated, then checked against the rules.
A bad one is counted against the sender; one its author may not write now is refused,
neither stored nor passed on, and not counted against the sender, who may hold another
state (see `Ledger.admit`). An event stamped ahead of this node's clock by more than the
ledger allows is not bad: the sender's clock may simply run a little ahead. It is held (a
few, for a while) and retried (`retry`), and never counted against the sender.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..economics import MAX_CLOCK_SKEW_MS
from ..errors import LedgerError, WireError
from ..events import Event, event_id
from ..ledger import ADDED, Admission, Ledger, Refused
from .frames import Events


@dataclass
class SyncReport:
    added: int = 0
    duplicates: int = 0
    rejected: int = 0  # provably bad: the sender should not have passed them on
    refused: int = 0  # not admitted (their author may not write them now): not the sender's
    last_refusal: str | None = None
    refused_scored: int = 0  # of `refused`, how many the link was already scored for
    early: int = 0  # stamped ahead of our clock: held and retried, not the sender's fault
    last_error: str | None = None


EARLY_HOLD_MS = 10 * 60 * 1000  # events further ahead than skew + this are refused (bad)
MAX_EARLY = 256  # early events held per link (the first held go first)...
MAX_EARLY_BYTES = 256 * 1024  # ...and at most this many bytes of them
# ids of events judged on a link but not held (fork losers, dropped early ones): ~100 B
# each, so ≤ 100 KiB a link, ≤ 7 MiB at 64 links
MAX_SEEN = 1024


class LedgerSync:
    """Anti-entropy for one link. Methods return the frames to send (as bytes)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.report = SyncReport()
        self.early: dict[bytes, Event] = {}  # id -> an event held until our clock catches up
        self._early_bytes = 0
        self._seen: dict[bytes, None] = {}  # ids judged before and not held: skipped unread

    def on_events(self, events: Events, now_ms: int) -> list[Event]:
        """Hold the events of a frame; returns those that were new. Each is authenticated
        and checked on its own: a bad one is counted in the report, never applied, and does
        not stop the rest of the frame. An event already held is recognised by its id (a hash
        of its bytes) before anything is decoded or verified."""
        new: list[Event] = []
        for raw in events.raw:
            eid = event_id(raw)
            if eid in self.ledger or eid in self.early or eid in self._seen:
                self.report.duplicates += 1  # judged already: no signature to check
                continue
            try:
                event = Event.decode(raw)
                if event.network == self.ledger.network and self._within_hold(event, now_ms):
                    self._hold(event)
                    continue
                outcome = self.admit(event, now_ms)
            except (WireError, LedgerError) as exc:
                self.report.rejected += 1  # bad, or stamped beyond any honest clock
                self.report.last_error = str(exc)
                continue
            if outcome == ADDED or isinstance(outcome, Refused):
                self._tally(outcome, event, new)
            elif eid not in self.ledger:  # lost the fork cap: never worth reading again
                self.report.refused += 1  # and counted, so twins cannot be sent for free
                self.report.last_refusal = "a third event at one seq of a forked chain"
                self._remember(eid)
            else:
                self.report.duplicates += 1
        return new

    def admit(self, event: Event, now_ms: int) -> Admission:
        """Whether to hold an authentic event (`Ledger.admit`)."""
        return self.ledger.admit(event, now_ms=now_ms)

    def retry(self, now_ms: int) -> list[Event]:
        """Add the held early events our clock has caught up with; returns the new ones."""
        new: list[Event] = []
        for eid, event in list(self.early.items()):
            if self._too_early(event, now_ms):
                continue
            del self.early[eid]
            self._early_bytes -= len(event.raw)
            try:
                outcome = self.admit(event, now_ms)
            except LedgerError as exc:
                self.report.last_error = str(exc)
                continue
            self._tally(outcome, event, new)
        return new

    def _tally(self, outcome: Admission, event: Event, new: list[Event]) -> None:
        """Count an admitted event (into `new`) or a refused one. A refusal is not the
        sender's fault (it may hold a state in which the event is valid); one that can never
        be admitted is remembered, so that it is skipped unread if passed on again."""
        if outcome == ADDED:
            self.report.added += 1
            new.append(event)
        elif isinstance(outcome, Refused):
            self.report.refused += 1
            self.report.last_refusal = outcome.reason
            if not outcome.later:
                self._remember(event.id)

    @staticmethod
    def _too_early(event: Event, now_ms: int) -> bool:
        return event.ts > now_ms + MAX_CLOCK_SKEW_MS

    @classmethod
    def _within_hold(cls, event: Event, now_ms: int) -> bool:
        """A little ahead of our clock (held), not so far that no honest clock could have
        passed it on (those the ledger refuses, and the sender is scored for them)."""
        return cls._too_early(event, now_ms) and (
            event.ts <= now_ms + MAX_CLOCK_SKEW_MS + EARLY_HOLD_MS
        )

    def _hold(self, event: Event) -> None:
        self.report.early += 1
        self.early[event.id] = event
        self._early_bytes += len(event.raw)
        while len(self.early) > MAX_EARLY or self._early_bytes > MAX_EARLY_BYTES:
            dropped = self.early.pop(next(iter(self.early)))  # the first held go first
            self._early_bytes -= len(dropped.raw)
            self._remember(dropped.id)

    def _remember(self, eid: bytes) -> None:
        self._seen[eid] = None
        while len(self._seen) > MAX_SEEN:
            del self._seen[next(iter(self._seen))]
