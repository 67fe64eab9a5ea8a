"""Reputation registers: LWW CRDT laws, signatures, evidence."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.ledger_helpers import GENESIS, NODES

from edgenet_app.core.errors import SchemaError
from edgenet_app.core.reputation import ReputationBook, ReputationEntry

NET = GENESIS.network_id
PROPS = settings(max_examples=200, deadline=None)

entries = st.builds(
    lambda o, s, ts, v, i: ReputationEntry.create(
        NODES[o], NET, NODES[(o + 1 + s) % 4].public_key, ts, v, i
    ),
    st.integers(0, 3),
    st.integers(0, 2),
    st.integers(0, 5),
    st.integers(0, 20),
    st.integers(0, 3),
)


def book(items: list[ReputationEntry]) -> ReputationBook:
    b = ReputationBook(NET)
    b.merge(items)
    return b


def view(b: ReputationBook) -> list[bytes]:
    return [e.id for e in b.entries()]


@PROPS
@given(
    st.lists(entries, max_size=12),
    st.lists(entries, max_size=12),
    st.lists(entries, max_size=12),
    st.randoms(use_true_random=False),
)
def test_lww_merge_laws(
    xs: list[ReputationEntry],
    ys: list[ReputationEntry],
    zs: list[ReputationEntry],
    rnd: random.Random,
) -> None:
    a, b, c = book(xs), book(ys), book(zs)
    ab, ba = book(xs), book(ys)
    ab.merge(b)
    ba.merge(a)
    assert view(ab) == view(ba)
    left = book(xs)
    left.merge(b)
    left.merge(c)
    bc = book(ys)
    bc.merge(c)
    right = book(xs)
    right.merge(bc)
    assert view(left) == view(right)
    aa = book(xs)
    aa.merge(a)
    assert view(aa) == view(a)
    shuffled = xs + ys
    rnd.shuffle(shuffled)
    assert view(book(shuffled)) == view(book(xs + ys))


def test_later_entry_wins_and_scores_follow_counts() -> None:
    a, b = NODES[0], NODES[1]
    old = ReputationEntry.create(a, NET, b.public_key, 10, 5, 0)
    new = ReputationEntry.create(a, NET, b.public_key, 20, 5, 1, (b"\x01" * 32,))
    rb = book([new, old])
    assert rb.get(a.public_key, b.public_key) == new
    assert new.score < old.score
    assert rb.aggregate(b.public_key) == pytest.approx(new.score)
    assert rb.aggregate(a.public_key) is None


def test_forged_or_inconsistent_entries_are_refused() -> None:
    a, b = NODES[0], NODES[1]
    e = ReputationEntry.create(a, NET, b.public_key, 10, 5, 0)
    wire = e.to_wire()
    with pytest.raises(SchemaError, match="signature"):
        ReputationEntry.from_wire({**wire, "observer": NODES[2].public_key})
    with pytest.raises(SchemaError, match="follow from the counts"):
        ReputationEntry.from_wire({**wire, "score_ppm": 1_000_000})
    with pytest.raises(SchemaError, match="rate itself"):
        ReputationEntry.create(a, NET, a.public_key, 1, 1, 0)
    with pytest.raises(SchemaError, match="another network"):
        ReputationBook(bytes(32)).put(e)
