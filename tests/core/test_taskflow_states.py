"""The task flows' state tables (core/taskflow/states.py) and that the flows follow them.

The tables are checked on their own (every state reachable, end states without a way out),
then against the flows: every event a table lacks is refused with the flow's usual
`Rejected(reason)`, and random runs of a submitter and its workers only ever change state
along the table.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from support.ledger_helpers import NODES, T0, make_genesis

from edgenet_app.core.taskflow import (
    SUBMITTER_END_STATES,
    SUBMITTER_TRANSITIONS,
    WORKER_END_STATES,
    WORKER_TRANSITIONS,
    Action,
    Broadcast,
    Rejected,
    SendTo,
    SubmitterEvent,
    SubmitterFlow,
    SubmitterState,
    WorkerEvent,
    WorkerFlow,
    WorkerState,
)
from edgenet_app.core.taskmsg import Abandon, Assign, Cancel, Claim, Result, TaskAnnounce

NET = make_genesis(grants=6).network_id
SUB = NODES[5]
WORKERS = NODES[:3]
TASK = bytes(range(16))
PRICE = 1000
NOW = T0 + 60_000
DEADLINE = NOW + 200_000
TIMEOUT = 20_000
GOOD = 6

TABLES: list[tuple[str, Mapping[tuple[Any, Any], Any], type[StrEnum], type[StrEnum], Any, Any]] = [
    ("worker", WORKER_TRANSITIONS, WorkerState, WorkerEvent, WorkerState.IDLE, WORKER_END_STATES),
    (
        "submitter",
        SUBMITTER_TRANSITIONS,
        SubmitterState,
        SubmitterEvent,
        SubmitterState.NEW,
        SUBMITTER_END_STATES,
    ),
]


def submitter(redundancy: int = 2) -> SubmitterFlow:
    return SubmitterFlow(
        SUB,
        NET,
        TASK,
        "neural_inference",
        {"xs": [1, 2, 3]},
        PRICE,
        redundancy,
        "normal",
        DEADLINE,
        lambda a, b: bool(a == b),
        lambda w: False,
        random.Random(1),
        assign_timeout_ms=TIMEOUT,
        audit_rate=0.0,
    )


def worker(i: int) -> WorkerFlow:
    return WorkerFlow(WORKERS[i], NET, min_price=lambda a: 0)


def sent(actions: list[Action], kind: type) -> Any:
    """The one message of type `kind` among `actions` (sent directly or broadcast)."""
    (msg,) = [a.msg for a in actions if isinstance(a, SendTo | Broadcast) and type(a.msg) is kind]
    return msg


# --- the tables ----------------------------------------------------------------------


def reachable(table: Mapping[tuple[Any, Any], Any], start: Any) -> set[Any]:
    """The states the table leads to from `start` (itself included)."""
    reached, todo = {start}, [start]
    while todo:
        here = todo.pop()
        for (s, _), new in table.items():
            if s == here and new not in reached:
                reached.add(new)
                todo.append(new)
    return reached


@pytest.mark.parametrize("name, table, states, events, initial, ends", TABLES)
def test_table_is_complete(
    name: str,
    table: Mapping[tuple[Any, Any], Any],
    states: type[StrEnum],
    events: type[StrEnum],
    initial: Any,
    ends: frozenset[Any],
) -> None:
    assert all(isinstance(s, states) and isinstance(e, events) for s, e in table)
    assert all(isinstance(s, states) for s in table.values())
    assert {e for _, e in table} == set(events), "every event is used"
    assert initial not in ends and ends <= set(states)
    unreached = set(states) - reachable(table, initial)
    assert not unreached, f"{name}: unreachable {unreached}"
    assert not {s for s, _ in table} & ends, "end states have no way out"
    for state in set(states) - ends:  # every other state leads to an end
        assert reachable(table, state) & ends, f"{name}: {state} never ends"


def test_states_compare_as_the_strings_the_runtime_uses() -> None:
    states: list[str] = list(WorkerState)  # the members themselves, compared as strings
    assert states == ["idle", "claimed", "executing", "done", "abandoned", "cancelled", "expired"]
    assert f"{WorkerState.CLAIMED}" == "claimed" and f"{SubmitterState.OPEN}" == "open"
    w = worker(0)
    assert w.state == "idle" and w.state in ("idle", "claimed") and submitter().state == "new"
    assert WORKER_END_STATES == {"done", "abandoned", "cancelled", "expired"}
    assert SUBMITTER_END_STATES == {"decided", "expired"}


# --- the flows follow them -----------------------------------------------------------


def _claim(who: int) -> Claim:
    return Claim.create(WORKERS[who], network=NET, task=TASK, ts=NOW, submitter=SUB.public_key)


def _cancel() -> Cancel:
    return Cancel.create(
        SUB, network=NET, task=TASK, ts=NOW, worker=WORKERS[0].public_key, reason="stop"
    )


class WorkerKit:
    """Worker 0 and the messages of one task: its announce, its assignment, a cancel."""

    def __init__(self) -> None:
        sub = submitter(1)
        self.announce: TaskAnnounce = sent(sub.start(NOW), TaskAnnounce)
        self.assign: Assign = sent(sub.on_claim(_claim(0), NOW), Assign)
        self.cancel = _cancel()
        self.w = worker(0)


WORKER_CALLS: dict[WorkerEvent, Callable[[WorkerKit], list[Action]]] = {
    WorkerEvent.CLAIM: lambda k: k.w.on_announce(k.announce, NOW),
    WorkerEvent.ASSIGN: lambda k: k.w.on_assign(k.assign, NOW),
    WorkerEvent.RESULT: lambda k: k.w.on_executed(GOOD, NOW),
    WorkerEvent.LATE: lambda k: k.w.on_executed(GOOD, NOW + TIMEOUT + 1),
    WorkerEvent.ABANDON: lambda k: k.w.on_failed("crash", NOW),
    WorkerEvent.CANCEL: lambda k: k.w.on_cancel(k.cancel, NOW),
    WorkerEvent.EXPIRE: lambda k: k.w.tick(DEADLINE),
}
E = WorkerEvent
WORKER_PATHS = {  # how a worker reaches each state
    WorkerState.IDLE: [],
    WorkerState.CLAIMED: [E.CLAIM],
    WorkerState.EXECUTING: [E.CLAIM, E.ASSIGN],
    WorkerState.DONE: [E.CLAIM, E.ASSIGN, E.RESULT],
    WorkerState.ABANDONED: [E.CLAIM, E.ASSIGN, E.ABANDON],
    WorkerState.CANCELLED: [E.CLAIM, E.CANCEL],
    WorkerState.EXPIRED: [E.CLAIM, E.EXPIRE],
}


@pytest.mark.parametrize("state", list(WorkerState))
@pytest.mark.parametrize("ev", list(WorkerEvent))
def test_worker_does_what_its_table_says(state: WorkerState, ev: WorkerEvent) -> None:
    kit = WorkerKit()
    for step in WORKER_PATHS[state]:
        WORKER_CALLS[step](kit)
    assert kit.w.state is state
    out = WORKER_CALLS[ev](kit)
    new = WORKER_TRANSITIONS.get((state, ev))
    if new is not None:
        assert kit.w.state is new
        return
    assert kit.w.state is state  # refused: nothing changed
    expected = {
        E.CLAIM: f"already {state} a task",
        E.ASSIGN: f"cannot take an assignment while {state}",
        E.RESULT: f"nothing is executing (state {state})",
        E.LATE: f"nothing is executing (state {state})",
        E.ABANDON: f"nothing is executing (state {state})",
        E.CANCEL: f"nothing to cancel (state {state})",
    }
    if ev is E.EXPIRE:
        assert out == []  # a timer refuses silently
    elif state is WorkerState.IDLE and ev in (E.ASSIGN, E.CANCEL):
        assert out == [Rejected("never claimed this task")]  # checked first, as always
    else:
        assert out == [Rejected(expected[ev])]


class SubmitterKit:
    """A submitter (redundancy 2) and what workers 0 and 1 send it for its task: their
    results (made by a twin run: they stay valid for any flow of the same submitter and
    task) and an abandon from worker 0."""

    def __init__(self) -> None:
        twin = submitter(2)
        announce = sent(twin.start(NOW), TaskAnnounce)
        self.results: list[Result] = []
        for i in (0, 1):
            w = worker(i)
            w.on_announce(announce, NOW)
            w.on_assign(sent(twin.on_claim(_claim(i), NOW), Assign), NOW)
            self.results.append(sent(w.on_executed(GOOD, NOW), Result))
        self.abandon = Abandon.create(
            WORKERS[0], network=NET, task=TASK, ts=NOW, submitter=SUB.public_key, reason="crash"
        )
        self.sub = submitter(2)

    def start(self) -> list[Action]:
        """Announce, and assign workers 0 and 1 (every slot taken)."""
        out = self.sub.start(NOW)
        return out + self.sub.on_claim(_claim(0), NOW) + self.sub.on_claim(_claim(1), NOW)


SUBMITTER_CALLS: dict[SubmitterEvent, Callable[[SubmitterKit], list[Action]]] = {
    SubmitterEvent.START: SubmitterKit.start,
    SubmitterEvent.CLAIM: lambda k: k.sub.on_claim(_claim(2), NOW),
    SubmitterEvent.RESULT: lambda k: k.sub.on_result(k.results[0], NOW),
    SubmitterEvent.ABANDON: lambda k: k.sub.on_abandon(k.abandon, NOW),
    SubmitterEvent.WORKER_LOST: lambda k: k.sub.on_peer_lost(WORKERS[0].public_key, NOW),
    SubmitterEvent.TICK: lambda k: k.sub.tick(NOW + 1),
    SubmitterEvent.DECIDE: lambda k: (
        k.sub.on_result(k.results[0], NOW) + k.sub.on_result(k.results[1], NOW)
    ),
    SubmitterEvent.DEADLINE: lambda k: k.sub.tick(DEADLINE),
}
S = SubmitterEvent
SUBMITTER_PATHS = {  # how a submitter reaches each state
    SubmitterState.NEW: [],
    SubmitterState.OPEN: [S.START],
    SubmitterState.DECIDED: [S.START, S.DECIDE],
    SubmitterState.EXPIRED: [S.START, S.DEADLINE],
}


@pytest.mark.parametrize("state", list(SubmitterState))
@pytest.mark.parametrize("ev", list(SubmitterEvent))
def test_submitter_does_what_its_table_says(state: SubmitterState, ev: SubmitterEvent) -> None:
    kit = SubmitterKit()
    for step in SUBMITTER_PATHS[state]:
        SUBMITTER_CALLS[step](kit)
    assert kit.sub.state is state
    out = SUBMITTER_CALLS[ev](kit)
    new = SUBMITTER_TRANSITIONS.get((state, ev))
    if new is not None:
        assert kit.sub.state is new
        assert not any(isinstance(a, Rejected) for a in out), out
        return
    assert kit.sub.state is state  # refused: nothing changed
    if ev in (S.WORKER_LOST, S.TICK, S.DEADLINE):
        assert out == []  # a timer or a closed link refuses silently
    elif ev is S.START:  # (then the claims of workers 0 and 1 are refused too)
        assert out[0] == Rejected("task already announced")
    elif state is SubmitterState.NEW:
        assert out[0] == Rejected("task not announced yet")
    else:
        assert out[0] == Rejected("task already finished")
    assert all(isinstance(a, Rejected) for a in out)


# --- random runs ---------------------------------------------------------------------

WORKER_METHOD_EVENTS = {
    "receive": {E.CLAIM, E.ASSIGN, E.CANCEL},
    "on_executed": {E.RESULT, E.LATE, E.ABANDON},
    "on_failed": {E.ABANDON},
    "tick": {E.EXPIRE},
}
SUBMITTER_METHOD_EVENTS = {
    "start": {S.START},
    "receive": {S.CLAIM, S.RESULT, S.ABANDON, S.DECIDE},
    "on_peer_lost": {S.WORKER_LOST},
    "tick": {S.TICK, S.DEADLINE},
}
OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "deliver",
                "deliver",
                "flush",
                "replay",
                "on_executed",
                "on_failed",
                "on_peer_lost",
                "tick",
                "worker_tick",
                "garbage",
                "start",
            ]
        ),
        st.integers(0, 50),
        st.sampled_from([0, 0, 0, 0, 1_000, 5_000, TIMEOUT + 1, 100_000]),
    ),
    max_size=60,
)


def explained(
    table: Mapping[tuple[Any, Any], Any], before: Any, after: Any, events: set[Any]
) -> bool:
    """A change from `before` to `after` is the table's, for one of `events`."""
    return before == after or any(table.get((before, e)) == after for e in events)


@settings(max_examples=300, deadline=None)
@given(
    redundancy=st.integers(1, 3),
    answers=st.lists(st.integers(0, 1), min_size=3, max_size=3),
    ops=OPS,
    drain=st.booleans(),
)
def test_property_random_runs_change_state_only_along_the_table(
    redundancy: int, answers: list[int], ops: list[tuple[str, int, int]], drain: bool
) -> None:
    sub = submitter(redundancy)
    workers = [worker(i) for i in range(3)]
    by_key = {w.identity.public_key: i for i, w in enumerate(workers)}
    mailbox: list[tuple[int | None, bytes]] = []  # (worker index, or None: the submitter)

    def post(actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Broadcast):
                mailbox.extend((i, a.msg.encode()) for i in range(3))
            elif isinstance(a, SendTo):
                mailbox.append((by_key.get(a.peer), a.msg.encode()))

    def on_sub(method: str, *args: Any) -> None:
        before = sub.state
        out: list[Action] = getattr(sub, method)(*args)
        assert explained(SUBMITTER_TRANSITIONS, before, sub.state, SUBMITTER_METHOD_EVENTS[method])
        if out and isinstance(out[0], Rejected):
            assert len(out) == 1 and sub.state is before  # refused: nothing changed
        assert (sub.announce is None) == (sub.state is SubmitterState.NEW)
        assert (sub.verdict is not None) == (sub.state in SUBMITTER_END_STATES)
        if before != sub.state:
            event(f"submitter {before} -> {sub.state}")
        post(out)

    def on_worker(i: int, method: str, *args: Any) -> None:
        w = workers[i]
        before = w.state
        out: list[Action] = getattr(w, method)(*args)
        assert explained(WORKER_TRANSITIONS, before, w.state, WORKER_METHOD_EVENTS[method])
        late = (before, w.state) == (WorkerState.EXECUTING, WorkerState.ABANDONED)
        if out and isinstance(out[0], Rejected) and not late:
            assert len(out) == 1 and w.state is before  # refused: nothing changed
        if before != w.state:
            event(f"worker {before} -> {w.state}")
        post(out)

    def flush() -> None:
        while mailbox:
            to, data = mailbox.pop(0)
            on_sub("receive", data, now) if to is None else on_worker(to, "receive", data, now)

    now = NOW
    on_sub("start", now)
    for op, k, dt in ops:
        now = min(now + dt, DEADLINE + 1)
        i = k % 3
        if op in ("deliver", "replay") and mailbox:
            j = 0 if k < 25 else k % len(mailbox)  # mostly in order
            to, data = mailbox[j] if op == "replay" else mailbox.pop(j)
            if to is None:
                on_sub("receive", data, now)
            else:
                on_worker(to, "receive", data, now)
        elif op == "flush":
            flush()
        elif op == "on_executed":
            on_worker(i, op, answers[i], now, 1)
        elif op == "on_failed":
            on_worker(i, op, "crash", now)
        elif op == "on_peer_lost":
            on_sub(op, WORKERS[i].public_key, now)
        elif op == "tick":
            on_sub("tick", now)
        elif op == "worker_tick":
            on_worker(i, "tick", now)
        elif op == "garbage":
            on_worker(i, "receive", bytes([k]) * 40, now)
            on_sub("receive", bytes([k]) * 40, now)
        elif op == "start" and now < DEADLINE:
            on_sub("start", now)
    for _ in range(3 if drain else 0):  # let the run finish: everything delivered, executed
        flush()
        for i in range(3):
            on_worker(i, "on_executed", answers[i], now, 1)
    on_sub("tick", DEADLINE)
    assert sub.state in SUBMITTER_END_STATES
