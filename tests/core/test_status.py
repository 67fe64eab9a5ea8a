"""The status, history and notification contract (core/status.py, core/notifications.py):
JSON round trips exactly, and anything else is refused with WireError naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgenet_app.core import notifications as notes
from edgenet_app.core.errors import WireError
from edgenet_app.core.status import Credits, NodeHistory, NodeStatus, TaskEntry

micro = st.integers(0, 2**53)
text = st.text(max_size=20)
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)

statuses = st.builds(
    NodeStatus,
    node_id=st.none() | text,
    network=text,
    network_id=text,
    state=text,
    reason=text,
    credits=st.builds(Credits, micro, micro, micro),
    tasks_completed=st.integers(0, 10**9),
    tasks_submitted=st.integers(0, 10**9),
    uptime_s=finite,
    reputation=finite,
    multiplier=finite,
    network_cpu_hours=finite,
    rank=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)),
    peers=st.lists(text, max_size=4).map(tuple),
    cpu_donated_s=finite,
    idle_source=st.none() | text,
    idle_s=st.none() | finite,
    other_cpu=st.none() | finite,
)
entries = st.builds(
    TaskEntry,
    text,
    text,
    st.sampled_from(["executed", "submitted", "spot-check"]),
    st.sampled_from(["done", "failed"]),
    st.integers(0, 2**50),
    st.none() | st.integers(0, 2**50),
    micro,
    st.none() | text,
)
histories = st.builds(
    NodeHistory,
    st.lists(entries, max_size=4).map(tuple),
    st.lists(st.tuples(st.integers(0, 2**50), micro), max_size=4).map(tuple),
)
notifications = st.one_of(
    st.builds(notes.LedgerNote, text, text, text),
    st.builds(notes.CreditNote, micro, text, text),
    st.builds(notes.TaskNote, text, text, st.booleans(), st.integers(0, 10**9), st.none() | text),
    st.builds(notes.StateNote, text, text),
    st.builds(notes.RelayNote, text, st.integers(0, 10**6)),
    st.builds(notes.SpotCheckFailedNote, text),
    st.builds(notes.ErrorNote, text),
)


def through_json(value: dict[str, Any]) -> Any:
    return json.loads(json.dumps(value))


@given(statuses)
def test_status_round_trips_through_json(s: NodeStatus) -> None:
    assert NodeStatus.from_json(through_json(s.to_json())) == s


@given(histories)
def test_history_round_trips_through_json(h: NodeHistory) -> None:
    assert NodeHistory.from_json(through_json(h.to_json())) == h


@given(notifications)
def test_notifications_round_trip_through_json(n: notes.Notification) -> None:
    assert notes.from_json(through_json(notes.to_json(n))) == n


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | text,
        lambda c: st.lists(c) | st.dictionaries(text, c),
    )
)
def test_junk_is_refused_with_wire_error_only(junk: Any) -> None:
    for read in (NodeStatus.from_json, NodeHistory.from_json, notes.from_json):
        try:
            read(junk)
        except WireError:
            pass


def test_credits_are_micro_credits_and_never_negative() -> None:
    good = NodeStatus("n", "edgenet", "00", "paused", "paused by you", Credits(1_500_000, 0, 0))
    assert good.to_json()["credits"] == {"available": 1_500_000, "locked": 0, "staked": 0}
    bad = good.to_json()
    bad["credits"]["available"] = -1
    with pytest.raises(WireError, match=r"status\.credits\.available: micro-credits must be ≥ 0"):
        NodeStatus.from_json(bad)
    bad["credits"]["available"] = "1,284.5"  # the old strings are not accepted
    with pytest.raises(WireError, match=r"status\.credits\.available"):
        NodeStatus.from_json(bad)


def test_a_missing_field_is_named() -> None:
    d = NodeStatus("n", "edgenet", "00", "paused", "why").to_json()
    del d["rank"]
    with pytest.raises(WireError, match=r"status\.rank: missing"):
        NodeStatus.from_json(d)
    with pytest.raises(WireError, match="unknown event 'telepathy'"):
        notes.from_json({"event": "telepathy"})
    with pytest.raises(WireError, match=r"credit\.amount: unexpected str"):
        notes.from_json({"event": "credit", "amount": "1.5", "task": "t", "payer": "p"})


def test_numbers_out_of_range_are_wire_errors_not_overflows() -> None:
    d = NodeStatus("n", "edgenet", "00", "paused", "why").to_json()
    for key in ("uptime_s", "multiplier", "tasks_completed", "idle_s"):
        with pytest.raises(WireError, match=rf"status\.{key}: .* out of range"):
            NodeStatus.from_json({**d, key: 10**400})
    with pytest.raises(WireError, match=r"status\.tasks_completed: must be ≥ 0"):
        NodeStatus.from_json({**d, "tasks_completed": -1})
    with pytest.raises(WireError, match=r"status\.rank"):
        NodeStatus.from_json({**d, "rank": [1, 10**400]})
    h = {"tasks": [], "earnings": [[1, -5]]}
    with pytest.raises(WireError, match=r"history\.earnings\[0\]"):
        NodeHistory.from_json(h)
    for amount in (-5, 10**400):
        with pytest.raises(WireError, match=r"credit\.amount: .* out of range"):
            notes.from_json({"event": "credit", "amount": amount, "task": "t", "payer": "p"})


def test_a_huge_timeout_is_a_request_error() -> None:
    from edgenet_app.core.errors import RequestError
    from edgenet_app.core.submit import SubmitRequest

    for t in (10**400, float("nan"), float("inf"), -1):
        with pytest.raises(RequestError, match=r"timeout: .* s is out of range; allowed 1–86400 s"):
            SubmitRequest("embedding", {}, timeout_s=t)
