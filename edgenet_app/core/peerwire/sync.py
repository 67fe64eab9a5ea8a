"""Ledger anti-entropy on one peer link, and the digest the periodic summary carries.

`LedgerSync` turns frames into actions for one link: on connect it sends its version
vector; on a version vector it sends what the peer lacks, in frames of bounded size; on
events it adds them to the ledger (each authenticated and checked; a bad one is counted,
never applied).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .. import codec
from ..errors import LedgerError, WireError
from ..events import Event, event_id
from ..ledger import Ledger
from .frames import DIGEST_BYTES, MAX_EVENTS_PER_FRAME, MAX_VV_ENTRIES, Events, VersionVector


def vv_digest(ledger: Ledger) -> bytes:
    """The digest of what a replica holds, for the periodic summary: its version vector and
    its number of events (so events held past a gap count too)."""
    vv = ledger.version_vector()
    entries = [[a, s, d] for a, (s, d) in sorted(vv.items())]
    return hashlib.blake2b(
        codec.encode([entries, len(ledger)]), digest_size=DIGEST_BYTES, person=b"edgenet-vvsum"
    ).digest()


@dataclass
class SyncReport:
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    last_error: str | None = None


class LedgerSync:
    """Anti-entropy for one link. Methods return the frames to send (as bytes)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.report = SyncReport()

    def hello(self) -> list[bytes]:
        vv = self.ledger.version_vector()
        entries = tuple((a, s, d) for a, (s, d) in sorted(vv.items()))
        return [VersionVector(entries[:MAX_VV_ENTRIES]).frame()]

    def on_version_vector(self, vv: VersionVector) -> list[bytes]:
        missing = self.ledger.missing_for(vv.as_dict())
        frames: list[bytes] = []
        batch: list[bytes] = []
        size = 0
        for event in missing:
            if batch and (len(batch) == MAX_EVENTS_PER_FRAME or size + len(event.raw) > 200_000):
                frames.append(Events(tuple(batch)).frame())
                batch, size = [], 0
            batch.append(event.raw)
            size += len(event.raw)
        if batch:
            frames.append(Events(tuple(batch)).frame())
        return frames

    def on_events(self, events: Events, now_ms: int) -> list[Event]:
        """Hold the events of a frame; returns those that were new. Each is authenticated
        and checked on its own: a bad one is counted in the report, never applied, and does
        not stop the rest of the frame. An event already held is recognised by its id (a hash
        of its bytes) before anything is decoded or verified."""
        new = []
        for raw in events.raw:
            if event_id(raw) in self.ledger:  # held already: no signature to check
                self.report.duplicates += 1
                continue
            try:
                event = Event.decode(raw)
                added = self.ledger.add(event, now_ms=now_ms)
            except (WireError, LedgerError) as exc:
                self.report.rejected += 1
                self.report.last_error = str(exc)
                continue
            if added:
                self.report.added += 1
                new.append(event)
            else:
                self.report.duplicates += 1
        return new
