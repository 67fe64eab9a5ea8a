"""Range reconciliation (core/peerwire/recon.py, core/ledger_index.py), sans-IO: replicas
converge through frames only, frames stay bounded at any number of authors, an in-sync
exchange is one `sum` each way, and a joiner pulling from three peers gets each event once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.ledger_helpers import GENESIS, NODES, T0
from support.recon_helpers import Net, converge

from edgenet_app.core import codec
from edgenet_app.core.errors import WireError
from edgenet_app.core.events import ZERO_HASH, Event, GenesisGrant, Transfer
from edgenet_app.core.identity import Identity
from edgenet_app.core.ledger import Ledger
from edgenet_app.core.peerwire import (
    MAX_FRAME_BYTES,
    Buckets,
    LedgerSync,
    Recon,
    Want,
    Wants,
    parse,
)

NET = GENESIS.network_id
NOW = T0 + 10**9


def ev(who: Identity, seq: int, prev: bytes, ts: int, to: int = 0) -> Event:
    body = GenesisGrant() if seq == 1 and not to else Transfer(NODES[to].public_key, seq)
    return Event.create(who, NET, seq, prev, ts, body)


def _pool() -> list[Event]:
    """Four authors' chains of 7, each with a fork at two seqs (three events at one)."""
    out = []
    for a, who in enumerate(NODES[:4]):
        prev = ZERO_HASH
        chain = []
        for seq in range(1, 8):
            e = ev(who, seq, prev, T0 + seq)
            chain.append(e)
            prev = e.id
        out += chain
        for k, seq in enumerate((2 + a, 5)):
            for twin in range(1 if k else 2):
                out.append(ev(who, seq, chain[seq - 2].id, T0 + seq, to=1 + twin))
    return out


POOL = _pool()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["x", "y", "xy", ""]), min_size=len(POOL), max_size=len(POOL)))
def test_any_two_replicas_converge_through_frames_only(where: list[str]) -> None:
    """Arbitrary subsets of chains with forks (up to three events at a seq) and gaps."""
    x, y, union = Ledger(GENESIS), Ledger(GENESIS), Ledger(GENESIS)
    for e, w in zip(POOL, where, strict=True):
        for side, ledger in (("x", x), ("y", y)):
            if side in w:
                ledger.add(e)
                union.add(e)
    net = converge(x, y, NOW, admission=False)  # the mechanism, on arbitrary sets
    assert x.event_ids() == y.event_ids() == union.event_ids()
    assert x.sync_index.root() == y.sync_index.root() == union.sync_index.root()
    assert x.state_root() == y.state_root()
    assert net.traffic.max_frame <= MAX_FRAME_BYTES
    before = dict(net.traffic.frames)
    assert net.sync() == 0  # in sync: the next exchange is one `sum` each way, nothing else
    sent = {k: v - before.get(k, 0) for k, v in net.traffic.frames.items()}
    assert {k: v for k, v in sent.items() if v} == {"sum": 2}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["xy"] * 6 + ["x", "y", ""]), min_size=len(POOL), max_size=len(POOL))
)
def test_equal_summaries_mean_equal_events(where: list[str]) -> None:
    """The per-author summary hashes only the irregular slots, yet tells sets apart."""
    x, y = Ledger(GENESIS), Ledger(GENESIS)
    for e, w in zip(POOL, where, strict=True):
        for side, ledger in (("x", x), ("y", y)):
            if side in w:
                ledger.add(e)
    for who in NODES[:4]:
        a = who.public_key
        held_x = {e.id for e in x.events() if e.author == a}
        held_y = {e.id for e in y.events() if e.author == a}
        same = x.sync_index.summary(a) == y.sync_index.summary(a)
        assert same == (held_x == held_y)


@pytest.fixture(scope="module")
def big() -> Ledger:
    """10,000 authors with one event each, and 40 with chains of 60 (2,400 more events)."""
    ledger = Ledger(GENESIS)
    for i in range(10_000):
        who = Identity(i.to_bytes(4, "big") * 8)
        ledger.add(ev(who, 1, ZERO_HASH, T0 + 1))
    for i in range(40):
        who = Identity(b"\xee" + i.to_bytes(4, "big") * 7 + b"\xee" * 3)
        prev = ZERO_HASH
        for seq in range(1, 61):
            e = ev(who, seq, prev, T0 + seq)
            ledger.add(e)
            prev = e.id
    return ledger


def test_ten_thousand_authors_sync_in_bounded_frames(big: Ledger) -> None:
    assert big.sync_index.authors() == 10_040
    empty = Ledger(GENESIS)
    net = converge(big, empty, NOW, admission=False)  # free identities: see test_admission
    assert empty.event_ids() == big.event_ids()
    # a page of 1,000 entries is ≈ 80 KB; the old single vector frame was ≈ 560 KB
    assert net.traffic.max_frame <= 200_000, net.traffic.max_frame
    assert net.traffic.frames["ents"] >= 256  # paged: every bucket, at least one page
    small = Net({"x": big, "y": empty}, NOW, admission=False)
    small.link("x", "y")
    small.sync()
    assert small.traffic.frames == {"sum": 2}
    assert small.traffic.max_frame < 64


def test_a_joiner_pulling_from_three_peers_gets_each_event_about_once(big: Ledger) -> None:
    peers = {}
    for name in ("p1", "p2", "p3"):
        copy = Ledger(GENESIS)
        copy.add_many(big.events())
        peers[name] = copy
    net = Net({"j": Ledger(GENESIS), **peers}, NOW, admission=False)
    for name in peers:
        net.link("j", name)
    net.sync()
    joiner = net.ledgers["j"]
    assert joiner.event_ids() == big.event_ids()
    copies = net.traffic.events_in["j"] / len(big)
    assert copies <= 1.2, copies
    # the pull was spread over the links, not all from the first one
    by_link: dict[str, int] = {}
    for (node, peer), recon in net.recons.items():
        if node == "j":
            by_link[peer] = recon.sync.report.added
    assert sum(by_link.values()) == len(big)
    assert sum(1 for n in by_link.values() if n) >= 2, by_link
    assert net.traffic.max_frame <= 200_000


def test_an_author_is_wanted_from_one_link_at_a_time() -> None:
    w = Wants(timeout_ms=1000)
    a = NODES[0].public_key
    assert w.claim(a, b"l1", 0)
    assert not w.claim(a, b"l2", 500)  # l1 has it
    assert w.claim(a, b"l1", 600)  # renewed by its holder
    assert not w.claim(a, b"l2", 1500)
    assert w.claim(a, b"l2", 1601)  # l1 timed out
    assert w.holder(a) == b"l2"
    w.release(a, b"l1")  # not l1's any more: nothing happens
    assert w.holder(a) == b"l2"
    w.release_link(b"l2")
    assert w.holder(a) is None and len(w) == 0


def test_a_want_with_a_disagreeing_prefix_gets_the_whole_chain() -> None:
    x = Ledger(GENESIS)
    chain = [ev(NODES[0], 1, ZERO_HASH, T0 + 1)]
    for seq in range(2, 6):
        chain.append(ev(NODES[0], seq, chain[-1].id, T0 + seq))
    x.add_many(chain)
    a = NODES[0].public_key
    recon = Recon(LedgerSync(x))
    good = x.sync_index.prefix_digest(a, 3)
    assert good is not None
    [f] = recon.on_want(parse_want([(a, 4, good)]))
    assert len(parse(f).raw) == 2  # type: ignore[attr-defined]
    [f] = recon.on_want(parse_want([(a, 4, b"\x00" * 16)]))
    assert len(parse(f).raw) == 5  # type: ignore[attr-defined]


def parse_want(items: list[tuple[bytes, int, bytes]]) -> Want:
    f = parse(codec.encode({"t": "want", "items": [list(i) for i in items]}))
    assert isinstance(f, Want)
    return f


A32 = b"\x07" * 32
D16 = b"d" * 16


@pytest.mark.parametrize(
    "wire",
    [
        {"t": "bkts", "digests": b"x" * 4095, "start": 0},
        {"t": "bkts", "digests": b"x" * 4096, "start": 256},
        {
            "t": "ents",
            "bucket": 7,
            "entries": [[b"\x08" * 32, 1, D16, b""]],
            "last": True,
            "resume": -1,
        },  # not in this bucket
        {
            "t": "ents",
            "bucket": 7,
            "entries": [[A32, 1, D16, b""], [A32, 2, D16, b""]],
            "last": True,
            "resume": -1,
        },  # twice
        {"t": "ents", "bucket": 7, "entries": [[A32, 1, D16, b"t"]], "last": True, "resume": -1},
        {"t": "ents", "bucket": 7, "entries": [], "last": False, "resume": 9},
        {"t": "ents", "bucket": 7, "entries": [], "last": True, "resume": 7},
        {
            "t": "ents",
            "bucket": 7,
            "entries": [[A32, 1, D16, b""]] * 1001,
            "last": True,
            "resume": -1,
        },
        {"t": "want", "items": []},
        {"t": "want", "items": [[A32, 1, D16]]},  # a digest for seq 1
        {"t": "want", "items": [[A32, 0, b""]]},
        {"t": "want", "items": [[A32, 2, b""], [A32, 3, b""]]},
        {"t": "want", "items": [[bytes([i % 256, i // 256]) * 16, 1, b""] for i in range(1001)]},
        {"t": "reply", "raw": [], "more": [[A32, 2, b""]], "last": False},
        {"t": "reply", "raw": [b"e"] * 257, "more": [], "last": True},
        {"t": "reply", "raw": [], "more": [], "last": 1},
    ],
)
def test_bad_recon_frames_are_refused(wire: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(WireError):
        parse(codec.encode(wire))


def test_unasked_pages_and_replies_start_nothing() -> None:
    x, y = Ledger(GENESIS), Ledger(GENESIS)
    x.add(POOL[0])
    rx, ry = Recon(LedgerSync(x)), Recon(LedgerSync(y))
    pages = rx.on_buckets(Buckets(y.sync_index.bucket_digests(), 0))
    page = parse(pages[-1])
    assert ry.on_entries(page, NOW) == []  # type: ignore[arg-type]
    assert len(y) == 0
