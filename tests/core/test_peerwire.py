"""Peer-link frames and ledger anti-entropy, sans-IO: two replicas converge."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.ledger_helpers import GENESIS, NODES, OTHER_GENESIS, T0, M
from support.recon_helpers import converge

from edgenet_app.core import codec
from edgenet_app.core import economics as econ
from edgenet_app.core import events as events_module
from edgenet_app.core.errors import WireError
from edgenet_app.core.events import GenesisGrant, Transfer
from edgenet_app.core.ledger import Ledger
from edgenet_app.core.peerwire import (
    FWD_MAX_SKEW_MS,
    MAX_DIRECT_BYTES,
    MAX_PEERS_LISTED,
    MAX_SDP_BYTES,
    PART_BYTES,
    Dedup,
    Deliver,
    Events,
    Forward,
    Fwd,
    FwdRouter,
    Gossip,
    LedgerSync,
    Part,
    PeerAdvert,
    PeerBook,
    Peers,
    Penalties,
    Reassembly,
    Recon,
    Refuse,
    Reply,
    Summary,
    Want,
    direct_frames,
    flood_targets,
    parse,
    peers_digest,
)
from edgenet_app.core.peerwire.sync import EARLY_HOLD_MS, MAX_EARLY, MAX_EARLY_BYTES

A, B, C = NODES[:3]
NOW = T0 + 10**9


def exchange(x: Ledger, y: Ledger) -> None:
    """What two nodes do when a link opens: swap summaries, pull what each lacks."""
    converge(x, y, NOW)


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


def test_many_events_are_pulled_in_bounded_replies() -> None:
    src = Ledger(GENESIS)
    src.append(A, GenesisGrant(), T0 + 1)
    for i in range(600):
        src.append(A, Transfer(B.public_key, 1), T0 + 10 + i * 11_000)  # within the rate
    frames = Recon(LedgerSync(src)).on_want(Want(((A.public_key, 1, b""),)))
    assert len(frames) >= 3
    assert all(len(f) <= 200_000 for f in frames)
    dst = Ledger(GENESIS)
    recon = Recon(LedgerSync(dst))
    for f in frames:
        reply = parse(f)
        assert isinstance(reply, Reply)
        recon.on_reply(reply, NOW)
    assert reply.last and reply.more == ()
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
        codec.encode({"t": "vv", "entries": [[b"x" * 32, 1, b"y" * 16]]}),  # gone
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


# --- peer exchange and signaling through the mesh ----------------------------------------

NET = GENESIS.network_id
keys32 = st.binary(min_size=32, max_size=32)


@given(st.lists(keys32, max_size=MAX_PEERS_LISTED, unique=True), keys32, keys32)
def test_peers_and_summary_frames_round_trip(keys: list[bytes], d1: bytes, d2: bytes) -> None:
    p = Peers(tuple(keys))
    assert parse(p.frame()) == p
    s = Summary(d1[:16], d2[:16])
    assert parse(s.frame()) == s
    assert peers_digest(keys) == peers_digest(reversed(keys))


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from([(A, B), (B, C), (C, A)]),
    st.sampled_from(["offer", "answer"]),
    st.binary(min_size=1, max_size=MAX_SDP_BYTES),
    st.integers(0, 2**53),
)
def test_fwd_round_trips_and_verifies(pair, kind: str, data: bytes, ts: int) -> None:  # type: ignore[no-untyped-def]
    src, dst = pair
    f = Fwd.create(src, NET, dst.public_key, kind, data, ts)
    assert parse(f.frame()) == f
    f.check(NET, ts)  # fresh at its own time
    with pytest.raises(WireError, match="signature"):
        f.check(OTHER_GENESIS.network_id, ts)


@pytest.mark.parametrize(
    "blob",
    [
        codec.encode({"t": "peers", "keys": [A.public_key, A.public_key]}),
        codec.encode({"t": "peers", "keys": [b"x" * 31]}),
        codec.encode({"t": "peers", "keys": [bytes([i]) * 32 for i in range(33)]}),
        codec.encode({"t": "sum", "root": b"x" * 15, "peers": b"y" * 16}),
        codec.encode({"t": "sum", "vv": b"x" * 16, "peers": b"y" * 16}),
        codec.encode(
            {
                "t": "fwd",
                "to": A.public_key,
                "sender": B.public_key,
                "kind": "offer",
                "ts": 1,
                "data": b"x" * (MAX_SDP_BYTES + 1),
                "sig": b"s" * 64,
            }
        ),
        codec.encode(
            {
                "t": "fwd",
                "to": A.public_key,
                "sender": A.public_key,
                "kind": "offer",
                "ts": 1,
                "data": b"x",
                "sig": b"s" * 64,
            }
        ),
        codec.encode(
            {
                "t": "fwd",
                "to": A.public_key,
                "sender": B.public_key,
                "kind": "candidate",
                "ts": 1,
                "data": b"x",
                "sig": b"s" * 64,
            }
        ),
    ],
)
def test_hostile_exchange_and_fwd_frames_raise_wire_errors(blob: bytes) -> None:
    with pytest.raises(WireError):
        parse(blob)


def offer(src, dst, ts: int = NOW, data: bytes = b"v=0 sdp", kind: str = "offer") -> Fwd:  # type: ignore[no-untyped-def]
    return Fwd.create(src, NET, dst.public_key, kind, data, ts)


def test_fwd_tampered_forged_stale_and_future_are_refused() -> None:
    good = offer(A, C)
    good.check(NET, NOW)
    tampered = [
        Fwd(good.to, good.sender, good.kind, good.ts, b"v=0 other", good.sig),
        Fwd(good.to, good.sender, good.kind, good.ts + 1, good.data, good.sig),
        Fwd(good.to, good.sender, "answer", good.ts, good.data, good.sig),
        Fwd(B.public_key, good.sender, good.kind, good.ts, good.data, good.sig),  # redirected
        Fwd(good.to, B.public_key, good.kind, good.ts, good.data, good.sig),  # claims B sent it
        # signed by B while claiming to come from A (what a forging forwarder would do)
        Fwd(good.to, A.public_key, "offer", NOW, good.data, offer(B, C).sig),
    ]
    for f in tampered:
        with pytest.raises(WireError, match="signature"):
            f.check(NET, NOW)
    with pytest.raises(WireError, match="stale"):
        good.check(NET, NOW + FWD_MAX_SKEW_MS + 1)
    with pytest.raises(WireError, match="stale"):
        good.check(NET, NOW - FWD_MAX_SKEW_MS - 1)
    good.check(NET, NOW + FWD_MAX_SKEW_MS)


def test_router_forwards_one_hop_and_delivers_verified_frames_only() -> None:
    a, b, c = (n.public_key for n in (A, B, C))
    at_b = FwdRouter(b, NET)
    at_c = FwdRouter(c, NET)
    f = offer(A, C)
    # B forwards A's own offer to C, once, and only if it has a link to C
    assert at_b.on_fwd(f, a, NOW, {a, c}) == Forward(c)
    assert at_b.on_fwd(f, a, NOW, {a, c}) == Refuse("fwd replayed", True)
    nolink = at_b.on_fwd(offer(A, C, NOW + 1), a, NOW, {a})
    assert isinstance(nolink, Refuse) and not nolink.penalise
    # one hop: B does not pass on what A did not sign itself
    relayed = at_b.on_fwd(offer(C, NODES[3], NOW + 2), a, NOW, {a, c, NODES[3].public_key})
    assert isinstance(relayed, Refuse) and relayed.penalise and "one hop" in relayed.reason
    # C takes it from B (the forwarder), verified; a replay or a forgery is B's fault
    assert at_c.on_fwd(f, b, NOW, {b}) == Deliver(f)
    assert at_c.on_fwd(f, b, NOW, {b}).penalise  # type: ignore[union-attr]
    forged = Fwd(c, a, "offer", NOW, b"v=0 evil", offer(B, C, NOW, b"v=0 evil").sig)
    r = at_c.on_fwd(forged, b, NOW, {b})
    assert isinstance(r, Refuse) and r.penalise and "signature" in r.reason
    other_net = Fwd.create(A, OTHER_GENESIS.network_id, c, "offer", b"v=0", NOW)
    assert at_c.on_fwd(other_net, b, NOW, {b}).penalise  # type: ignore[union-attr]
    stale = offer(A, C, NOW - FWD_MAX_SKEW_MS - 1)
    assert at_c.on_fwd(stale, b, NOW, {b}).penalise  # type: ignore[union-attr]
    mine = offer(C, A)
    assert at_c.on_fwd(mine, a, NOW, {a}).penalise  # type: ignore[union-attr]


def test_router_rate_limits_per_neighbour_and_per_signer() -> None:
    a, b, c = (n.public_key for n in (A, B, C))
    at_b = FwdRouter(b, NET, rate_per_s=1, burst=3, neighbour_rate=1, neighbour_burst=5)
    outs = [at_b.on_fwd(offer(A, C, NOW + i), a, NOW, {a, c}) for i in range(6)]
    assert outs[:3] == [Forward(c)] * 3
    assert all(isinstance(o, Refuse) and o.penalise for o in outs[3:])
    assert "neighbour" not in outs[3].reason  # type: ignore[union-attr]
    assert outs[5] == Refuse("too many fwd frames", True)
    assert at_b.on_fwd(offer(A, C, NOW + 100), a, NOW + 10_000, {a, c}) == Forward(c)
    # a signer over its rate that a neighbour merely forwarded: dropped, the forwarder blameless
    at_c = FwdRouter(c, NET, rate_per_s=1, burst=1)
    assert isinstance(at_c.on_fwd(offer(A, C, NOW), b, NOW, {b}), Deliver)
    r = at_c.on_fwd(offer(A, C, NOW + 1), b, NOW, {b})
    assert isinstance(r, Refuse) and not r.penalise


def test_peer_book_learns_confirms_expires_and_forgets() -> None:
    a, b, c, d = (n.public_key for n in NODES[:4])
    book = PeerBook(a, ttl_ms=1000, max_neighbours=2)
    book.learn(b, [a, c, d], 0)  # our own key is not a peer to dial
    assert book.known(0) == {c, d} and book.routes(c, 0) == [b]
    book.learn(c, [d], 10)
    assert book.routes(d, 10) == [c, b]  # most recently heard first
    assert book.confirm(b, peers_digest([a, c, d]), 900)
    assert not book.confirm(c, peers_digest([a]), 900)  # a stale digest renews nothing
    assert book.routes(d, 1500) == [b]  # c's list expired, b's was renewed
    book.forget(b)
    assert book.known(1500) == set()
    for i in range(5):
        book.learn(bytes([i]) * 32, [d], 2000 + i)
    assert len(book._lists) == 2  # bounded


def test_a_flood_skips_the_peers_its_sender_already_reached() -> None:
    a, b, c, d, e = (n.public_key for n in NODES[:5])
    book = PeerBook(a, ttl_ms=1000)
    assert book.covered_by(b, 0) == frozenset()  # nothing known: pass it to everyone
    assert flood_targets([b, c, d], b, book.covered_by(b, 0)) == [c, d]
    book.learn(b, [a, c, d, e], 0)  # b says it has links to c, d and e ...
    book.learn(c, [a, b], 0)  # ... c confirms its link to b; d lists no b; e said nothing
    book.learn(d, [a, e], 0)
    assert book.links_of(b, 0) == frozenset({c, d, e})
    assert book.covered_by(b, 0) == frozenset({c})  # only links both ends list
    assert flood_targets([b, c, d, e], b, book.covered_by(b, 0)) == [d, e]
    assert flood_targets([b, c, d], None, frozenset()) == [b, c, d]  # our own: all links
    assert book.covered_by(b, 2000) == frozenset()  # an expired list covers nobody


def test_peer_advert_sends_on_connect_big_changes_and_with_summaries() -> None:
    ks = [bytes([i]) * 32 for i in range(1, 12)]
    adv = PeerAdvert(min_interval_ms=5000)
    first = adv.due(frozenset(ks[:8]), 0)
    assert first is not None and parse(first) == Peers(tuple(sorted(ks[:8])))
    assert adv.digest() == peers_digest(ks[:8])
    assert adv.due(frozenset(ks[:8]), 100, periodic=True) is None  # idle: nothing
    assert adv.wait_ms(frozenset(ks[:9]), 100) is None  # one of eight: waits for a summary
    assert adv.due(frozenset(ks[:9]), 100) is None
    assert adv.due(frozenset(ks[:9]), 200, periodic=True) is not None
    assert adv.wait_ms(frozenset(ks[:5]), 1000) == 4200  # a lot, but only every 5 s
    assert adv.due(frozenset(ks[:5]), 5200) is not None
    assert PeerAdvert.listing(ks, ks[0]) == frozenset(ks[1:])
    many = [bytes([i]) * 32 for i in range(100)]
    assert len(PeerAdvert.listing(many, many[0])) == MAX_PEERS_LISTED


def test_summary_root_tells_replicas_apart() -> None:
    x, y = Ledger(GENESIS), Ledger(GENESIS)
    assert x.sync_index.root() == y.sync_index.root()
    e = x.append(A, GenesisGrant(), T0 + 1)
    assert x.sync_index.root() != y.sync_index.root()
    y.add(e)
    assert x.sync_index.root() == y.sync_index.root()


def test_held_events_are_recognised_before_any_signature_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = Ledger(GENESIS)
    raws = [src.append(A, GenesisGrant(), T0 + 1).raw]
    raws += [src.append(A, Transfer(B.public_key, 1), T0 + 10 + i).raw for i in range(20)]
    dst = Ledger(GENESIS)
    sync = LedgerSync(dst)
    assert len(sync.on_events(Events(tuple(raws)), NOW)) == 21
    checked: list[bytes] = []
    real = events_module.verify
    monkeypatch.setattr(
        events_module,
        "verify",
        lambda *a: checked.append(a[1]) or real(*a),  # type: ignore[func-returns-value]
    )
    for _ in range(5):  # a peer (or an attacker) sends the same events again and again
        assert sync.on_events(Events(tuple(raws)), NOW) == []
    assert checked == []  # no signature checked for any of them
    assert sync.report.duplicates == 5 * 21 and len(dst) == 21
    fresh = src.append(A, Transfer(B.public_key, 1), T0 + 100)
    assert sync.on_events(Events((*raws, fresh.raw)), NOW) == [fresh]
    assert len(checked) == 1  # only the new one was verified


def test_events_a_little_ahead_of_our_clock_are_held_and_retried_not_held_against_anyone() -> None:
    """Two honest nodes 2 s apart: the faster one accepts (and passes on) events stamped just
    under its limit, which are just over the slower one's. The slower one holds them, adds
    them once its clock catches up, and counts none against the peer that sent them."""
    skew = econ.MAX_CLOCK_SKEW_MS
    src = Ledger(GENESIS)
    ahead = NOW + skew + 1_000  # just over our limit: 1 s ahead of what we accept now
    raws = [src.append(A, GenesisGrant(), ahead).raw]
    raws += [src.append(A, Transfer(B.public_key, 1), ahead + i).raw for i in range(1, 5)]
    dst = Ledger(GENESIS)
    sync = LedgerSync(dst)
    assert sync.on_events(Events(tuple(raws)), NOW) == []
    assert (sync.report.rejected, sync.report.early, len(dst)) == (0, 5, 0)
    assert sync.on_events(Events(tuple(raws)), NOW) == []  # sent again: recognised as held
    assert sync.report.early == 5 and sync.report.duplicates == 5
    assert sync.retry(NOW + 500) == []  # still early
    assert len(sync.retry(NOW + 1_005)) == 5 and len(dst) == 5 and not sync.early
    assert sync.report.rejected == 0
    # far ahead, beyond what any honest clock passes on: refused, and counted
    far = Ledger(GENESIS).append(C, GenesisGrant(), NOW + skew + EARLY_HOLD_MS + 1)
    assert sync.on_events(Events((far.raw,)), NOW) == [] and far.id not in sync.early
    assert sync.report.rejected == 1
    # at most MAX_EARLY are held per link
    many = Ledger(GENESIS)
    early = [many.append(C, GenesisGrant(), ahead).raw]
    early += [many.append(C, Transfer(B.public_key, 1), ahead + i).raw for i in range(1, 300)]
    for i in range(0, len(early), 200):
        sync.on_events(Events(tuple(early[i : i + 200])), NOW)
    assert len(sync.early) == MAX_EARLY
    # by bytes too: big early events (a slash may carry 16 KiB of proofs) fill it sooner
    held = sum(len(e.raw) for e in sync.early.values())
    assert held <= MAX_EARLY_BYTES


def test_penalties_decay_and_are_bounded() -> None:
    p = Penalties(limit=10, decay_ms=60_000, max_peers=3)
    peer = b"p" * 32
    for _ in range(9):
        assert p.add(peer, 0) <= 9
    assert not p.over_limit(peer, 0)
    assert p.add(peer, 0) == 10 and p.over_limit(peer, 0)
    assert p.score(peer, 59_999) == 10 and p.score(peer, 60_000) == 9  # a point a minute
    assert p.score(peer, 600_000) == 0  # forgiven after ten quiet minutes
    # one bad frame an hour is never enough to cut an honest peer that passes one on
    q = b"q" * 32
    assert all(p.add(q, h * 3_600_000) == 1 for h in range(100))
    for i in range(10):  # bounded: the stalest scores are dropped
        p.add(bytes([i]) * 32, 10**9 + i)
    assert p.score(peer, 10**9) == 0 and len(p._scores) == 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=40))
def test_a_score_never_exceeds_the_bad_frames_and_only_falls_with_time(times: list[int]) -> None:
    p = Penalties(limit=10, decay_ms=60_000)
    peer = b"p" * 32
    times.sort()
    for n, t in enumerate(times, 1):
        s = p.add(peer, t)
        assert 1 <= s <= n
        assert p.score(peer, t) == s
        assert p.score(peer, t + 60_000 * s) == 0
        assert p.score(peer, t + 59_999) >= s - 1


def test_events_judged_and_not_held_are_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A third event at one seq loses the fork cap and is not held; sent again and again it
    is recognised unread, as held events are (no signature check per replay)."""
    forks = []
    for n in range(3):  # three replicas of A, each signing a different seq 2
        replica = Ledger(GENESIS)
        grant = replica.append(A, GenesisGrant(), T0 + 1)  # the same bytes in each
        forks.append(replica.append(A, Transfer(B.public_key, n + 1), T0 + 5))
    dst = Ledger(GENESIS)
    sync = LedgerSync(dst)
    sync.on_events(Events((grant.raw, *(f.raw for f in forks))), NOW)
    losers = [f for f in forks if f.id not in dst]
    assert len(losers) == 1
    checked: list[bytes] = []
    real = events_module.verify
    monkeypatch.setattr(
        events_module,
        "verify",
        lambda *a: checked.append(a[1]) or real(*a),  # type: ignore[func-returns-value]
    )
    for _ in range(10):
        assert sync.on_events(Events((losers[0].raw,)), NOW) == []
    assert checked == [] and sync.report.rejected == 0
