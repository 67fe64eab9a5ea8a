"""Drive ledger anti-entropy between in-memory replicas through frames only (sans-IO)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from edgenet_app.core.events import Event
from edgenet_app.core.ledger import ADDED, HELD, Admission, Ledger
from edgenet_app.core.peerwire import (
    Buckets,
    Entries,
    LedgerSync,
    Recon,
    Reply,
    Summary,
    Want,
    Wants,
    parse,
)

PEERS = bytes(16)


class Unchecked(LedgerSync):
    """Holds every authentic event, admissible or not: for testing reconciliation itself
    on arbitrary sets (gaps, forks, authors with nothing), which admission would narrow."""

    def admit(self, event: Event, now_ms: int) -> Admission:
        return ADDED if self.ledger.add(event, now_ms=now_ms) else HELD


@dataclass
class Traffic:
    frames: dict[str, int] = field(default_factory=dict)  # frame type -> count
    bytes_in: dict[str, int] = field(default_factory=dict)  # node -> bytes received
    events_in: dict[str, int] = field(default_factory=dict)  # node -> events in replies
    max_frame: int = 0


class Net:
    """Nodes (name → ledger) joined by links; each node's links share one `Wants`."""

    def __init__(self, ledgers: dict[str, Ledger], now_ms: int, *, admission: bool = True) -> None:
        self.ledgers = ledgers
        self.sync_type = LedgerSync if admission else Unchecked
        self.now = now_ms
        self.wants = {n: Wants() for n in ledgers}
        self.recons: dict[tuple[str, str], Recon] = {}  # (node, peer) -> node's side
        self.queue: deque[tuple[str, str, bytes]] = deque()
        self.traffic = Traffic()

    def link(self, a: str, b: str) -> None:
        for x, y in ((a, b), (b, a)):
            sync = self.sync_type(self.ledgers[x])
            self.recons[x, y] = Recon(sync, self.wants[x], y.encode())

    def send(self, src: str, dst: str, frames: list[bytes]) -> None:
        for f in frames:
            self.queue.append((src, dst, f))

    def summaries(self) -> None:
        for (x, y), recon in self.recons.items():
            self.send(x, y, [recon.summary(PEERS)])

    def run(self, max_frames: int = 1_000_000) -> None:
        """Deliver until nothing is left to send (polling the links when idle)."""
        n = 0
        while True:
            while self.queue:
                n += 1
                assert n <= max_frames, "no convergence"
                src, dst, data = self.queue.popleft()
                self.send(dst, src, self.deliver(src, dst, data))
            for (x, y), recon in self.recons.items():
                self.send(x, y, recon.poll(self.now))
            if not self.queue:
                return

    def deliver(self, src: str, dst: str, data: bytes) -> list[bytes]:
        t = self.traffic
        t.max_frame = max(t.max_frame, len(data))
        t.bytes_in[dst] = t.bytes_in.get(dst, 0) + len(data)
        frame = parse(data)
        t.frames[frame.T] = t.frames.get(frame.T, 0) + 1
        recon = self.recons[dst, src]
        if isinstance(frame, Summary):
            return recon.on_summary(frame, self.now)
        if isinstance(frame, Buckets):
            return recon.on_buckets(frame)
        if isinstance(frame, Entries):
            return recon.on_entries(frame, self.now)
        if isinstance(frame, Want):
            return recon.on_want(frame)
        assert isinstance(frame, Reply), frame
        t.events_in[dst] = t.events_in.get(dst, 0) + len(frame.raw)
        _, out = recon.on_reply(frame, self.now)
        return out

    def sync(self, rounds: int = 10) -> int:
        """Exchange summaries until every link is in sync; returns the rounds it took."""
        for i in range(rounds):
            before = dict(self.traffic.frames)
            self.summaries()
            self.run()
            extra = {k: v - before.get(k, 0) for k, v in self.traffic.frames.items()}
            if set(k for k, v in extra.items() if v) <= {"sum"}:
                return i
        raise AssertionError("replicas did not converge")


def converge(x: Ledger, y: Ledger, now_ms: int, *, admission: bool = True) -> Net:
    net = Net({"x": x, "y": y}, now_ms, admission=admission)
    net.link("x", "y")
    net.sync()
    return net
