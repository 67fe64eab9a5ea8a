"""Peer-link frames and ledger anti-entropy, sans-IO: two replicas converge."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import GENESIS, NODES, OTHER_GENESIS, T0, M

from edgenet_app.core import codec
from edgenet_app.core.errors import WireError
from edgenet_app.core.events import GenesisGrant, Transfer
from edgenet_app.core.ledger import Ledger
from edgenet_app.core.peerwire import (
    MAX_DIRECT_BYTES,
    PART_BYTES,
    Dedup,
    Events,
    Gossip,
    LedgerSync,
    Part,
    Reassembly,
    VersionVector,
    direct_frames,
    parse,
)

A, B, C = NODES[:3]
NOW = T0 + 10**9


def exchange(x: Ledger, y: Ledger) -> None:
    """What two nodes do when a link opens: swap version vectors, send what is missing."""
    sx, sy = LedgerSync(x), LedgerSync(y)
    for frame in sx.hello():
        vv = parse(frame)
        assert isinstance(vv, VersionVector)
        for out in sy.on_version_vector(vv):
            ev = parse(out)
            assert isinstance(ev, Events)
            sx.on_events(ev, NOW)
    for frame in sy.hello():
        vv = parse(frame)
        assert isinstance(vv, VersionVector)
        for out in sx.on_version_vector(vv):
            ev = parse(out)
            assert isinstance(ev, Events)
            sy.on_events(ev, NOW)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 5), st.booleans()), max_size=30))
def test_two_replicas_converge_after_one_exchange(ops: list[tuple[int, int, bool]]) -> None:
    src = Ledger(GENESIS)
    for n in NODES[:3]:
        src.append(n, GenesisGrant(), T0 + 1)
    ts = T0 + 2
    x, y = Ledger(GENESIS), Ledger(GENESIS)
    for who, amount, to_x in ops:
        ts += 1000
        e = src.append(NODES[who], Transfer(NODES[(who + 1) % 3].public_key, amount * M), ts)
        (x if to_x else y).add(e)
    for e in src.events():
        if e.kind == "genesis_grant":
            x.add(e)
    exchange(x, y)
    assert x.event_ids() == y.event_ids() == src.event_ids()
    assert x.state_root() == y.state_root() == src.state_root()


def test_many_events_are_split_into_bounded_frames() -> None:
    src = Ledger(GENESIS)
    src.append(A, GenesisGrant(), T0 + 1)
    for i in range(600):
        src.append(A, Transfer(B.public_key, 1), T0 + 10 + i)
    frames = LedgerSync(src).on_version_vector(VersionVector(()))
    assert len(frames) >= 3
    assert all(len(f) <= 256 * 1024 for f in frames)
    dst = Ledger(GENESIS)
    for f in frames:
        ev = parse(f)
        assert isinstance(ev, Events)
        LedgerSync(dst).on_events(ev, NOW)
    assert dst.state_root() == src.state_root()


def test_bad_events_are_counted_not_applied() -> None:
    other = Ledger(OTHER_GENESIS)
    foreign = other.append(A, GenesisGrant(), T0 + 1)
    dst = Ledger(GENESIS)
    sync = LedgerSync(dst)
    assert sync.on_events(Events((b"junk", foreign.raw)), NOW) == []
    assert sync.report.rejected == 2 and len(dst) == 0
    good = Ledger(GENESIS).append(A, GenesisGrant(), T0 + 1)
    assert sync.on_events(Events((b"junk", good.raw)), NOW) == [good]  # the rest still counts
    assert sync.on_events(Events((good.raw,)), NOW) == []
    assert (sync.report.added, sync.report.duplicates, sync.report.rejected) == (1, 1, 3)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        os.urandom(64),
        codec.encode({"t": "vv", "entries": [[b"x", 1, b"y"]]}),
        codec.encode({"t": "gossip"}),
        codec.encode({"t": "what"}),
        codec.encode([1]),
    ],
)
def test_hostile_frames_raise_wire_errors(blob: bytes) -> None:
    with pytest.raises(WireError):
        parse(blob)


def test_gossip_ttl_and_dedup() -> None:
    body = b"announce"
    g = Gossip(Gossip.make_id(A.public_key, "announce", body), A.public_key, 2, "announce", body)
    assert parse(g.frame()) == g
    hops = [g]
    while (nxt := hops[-1].forwarded()) is not None:
        hops.append(nxt)
    assert [h.ttl for h in hops] == [2, 1, 0]
    d = Dedup(ttl_ms=1000, capacity=3)
    assert d.first_time(g.id, 0) and not d.first_time(g.id, 10)
    assert d.first_time(g.id, 2000)  # forgotten after its TTL
    for i in range(10):
        d.first_time(bytes([i]) * 16, 2001)
    assert len(d._seen) <= 3


# --- large direct messages in parts ------------------------------------------------------


@given(size=st.integers(1, 3 * PART_BYTES + 7), seed=st.binary(min_size=1, max_size=8))
def test_any_body_survives_splitting_and_reassembly(size: int, seed: bytes) -> None:
    body = (seed * (size // len(seed) + 1))[:size]
    frames = [parse(f) for f in direct_frames(body, b"\x01" * 16)]
    if len(frames) == 1:
        assert frames[0].body == body  # type: ignore[attr-defined]
        return
    r = Reassembly()
    outs = [r.add(f, 0) for f in frames]  # type: ignore[arg-type]
    assert outs[:-1] == [None] * (len(frames) - 1) and outs[-1] == body


def test_contradicting_or_excess_parts_are_refused() -> None:
    r = Reassembly(max_open=2)
    r.add(Part(b"\x01" * 16, 0, 3, 10, b"abc"), 0)
    with pytest.raises(WireError, match="disagree"):
        r.add(Part(b"\x01" * 16, 1, 4, 10, b"abc"), 0)
    r.add(Part(b"\x02" * 16, 0, 2, 4, b"ab"), 0)
    with pytest.raises(WireError, match="twice"):
        r.add(Part(b"\x02" * 16, 0, 2, 4, b"ab"), 0)
    r.add(Part(b"\x03" * 16, 0, 2, 4, b"ab"), 0)
    r.add(Part(b"\x04" * 16, 0, 2, 4, b"ab"), 0)
    with pytest.raises(WireError, match="in flight"):
        r.add(Part(b"\x05" * 16, 0, 2, 4, b"ab"), 0)
    assert r.add(Part(b"\x06" * 16, 0, 2, 4, b"ab"), 61_000) is None  # stale ones expired
    with pytest.raises(WireError, match="larger"):
        r.add(Part(b"\x06" * 16, 1, 2, 4, b"abc"), 61_000)
    with pytest.raises(WireError):
        direct_frames(b"x" * (MAX_DIRECT_BYTES + 1), b"\x00" * 16)
    with pytest.raises(WireError):
        parse(Part(b"\x07" * 16, 0, 2, 4, b"ab").frame()[:-1] + b"\xff")
