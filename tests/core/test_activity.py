"""core/activity.decide: every rule, their precedence, and properties over all inputs.

The conditions come from fake probes (`FixedProbe`) and a fake clock through
`runtime/probe.observe`, as the node builds them, or directly as `Conditions`.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgenet_app.core.activity import (
    MIN_CPU_LIMIT,
    STATES,
    Activity,
    Conditions,
    Policy,
    decide,
    local_clock,
)
from edgenet_app.runtime.platform.probe import FixedProbe, ProbeSample, observe

POLICY = Policy()  # the settings' defaults: cpu 0.3, idle after 60 s, in use 0.1, battery 50%
IDLE = Conditions(peers=3, idle_s=600.0)  # a plugged-in, idle, connected machine


class FakeClock:
    """Wall-clock seconds since the epoch, moved by hand."""

    def __init__(self, when: str) -> None:  # "2024-01-01 13:30" (UTC; that day is a Monday)
        self.now = float(calendar.timegm(time.strptime(when, "%Y-%m-%d %H:%M")))

    def ms(self, later_s: float = 0.0) -> int:
        return int((self.now + later_s) * 1000)


@pytest.fixture
def tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time = UTC+1 without daylight saving (so the expected clock times are fixed)."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    monkeypatch.setenv("TZ", "XST-1")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def seen(probe: FixedProbe, clock: FakeClock, *, peers: int = 3, **node: object) -> Conditions:
    """The conditions as the node builds them: a probe sample and the clock."""
    return observe(probe.sample({4242}), now=clock.now, peers=peers, **node)  # type: ignore[arg-type]


# -- each rule ------------------------------------------------------------------------------


def test_idle_plugged_in_connected_machine_contributes_at_its_limit() -> None:
    a = decide(IDLE, POLICY)
    assert a == Activity("contributing", "accepting tasks (30% of the machine)", 0.3)
    assert a.accepts_tasks


def test_paused_by_the_user() -> None:
    a = decide(replace(IDLE, paused=True), POLICY)
    assert a == Activity("paused", "paused by the user", 0.0)
    assert not a.accepts_tasks


def test_snoozed_until_a_local_time_then_contributes_again(tz: None) -> None:
    clock = FakeClock("2024-01-01 13:30")  # 14:30 local (UTC+1)
    probe = FixedProbe(ProbeSample(idle_s=600.0))
    until = clock.ms(3600)  # snooze for an hour: until 15:30 local
    c = seen(probe, clock, snoozed_until_ms=until)
    assert (c.weekday, c.minute_of_day, c.utc_offset_s) == (0, 14 * 60 + 30, 3600)
    assert decide(c, POLICY) == Activity("paused", "snoozed until 15:30", 0.0)
    clock.now += 3599
    assert decide(seen(probe, clock, snoozed_until_ms=until), POLICY).reason == (
        "snoozed until 15:30"
    )
    clock.now += 1  # the snooze has ended: nothing to do for the node
    assert decide(seen(probe, clock, snoozed_until_ms=until), POLICY).state == "contributing"


def test_a_snooze_ending_on_another_day_names_the_day() -> None:
    c = replace(IDLE, now_ms=FakeClock("2024-01-01 22:00").ms(), utc_offset_s=-5 * 3600)
    tomorrow = FakeClock("2024-01-02 14:00").ms()  # 09:00 on Tuesday at UTC-5
    assert decide(replace(c, snoozed_until_ms=tomorrow), POLICY).reason == (
        "snoozed until Tue 09:00"
    )
    sunday = FakeClock("2024-01-07 23:59").ms()
    assert decide(replace(c, snoozed_until_ms=sunday), POLICY).reason == ("snoozed until Sun 18:59")


def test_local_clock() -> None:
    assert local_clock(0, 0) == (0, "00:00")
    assert local_clock(FakeClock("2024-03-05 23:45").ms(), 3600) == (19788, "00:45")  # the next day
    assert local_clock(59_999, 0) == (0, "00:00")
    assert local_clock(0, -60) == (-1, "23:59")


def test_draining_finishes_running_tasks_then_pauses() -> None:
    draining = replace(IDLE, draining=True, running_tasks=2)
    a = decide(draining, POLICY)
    assert a == Activity("paused", "finishing 2 tasks, then pausing", 0.3, draining=True)
    assert not a.accepts_tasks  # keeps its CPU for the two tasks, takes no new one
    assert decide(replace(draining, running_tasks=1), POLICY).reason == (
        "finishing 1 task, then pausing"
    )
    done = decide(replace(draining, running_tasks=0), POLICY)
    assert done == Activity("paused", "paused by the user", 0.0)


def test_draining_keeps_the_limit_the_other_rules_give() -> None:
    busy_user = replace(IDLE, draining=True, running_tasks=1, idle_s=5.0)
    assert decide(busy_user, POLICY).cpu_limit == 0.1  # in use: the in-use limit
    offline = decide(replace(IDLE, draining=True, running_tasks=1, peers=0), POLICY)
    assert (offline.state, offline.cpu_limit, offline.accepts_tasks) == ("paused", 0.3, False)
    # a rule that stops contributing altogether is shown as it is, still without new tasks
    low = replace(IDLE, draining=True, running_tasks=3, on_battery=True, battery_percent=20)
    a = decide(low, POLICY)
    assert (a.state, a.cpu_limit, a.draining, a.accepts_tasks) == ("on_battery", 0.0, True, False)


def test_outside_the_schedule() -> None:
    policy = replace(POLICY, schedule="mon-fri 18:00-08:00")
    monday_noon = replace(IDLE, weekday=0, minute_of_day=12 * 60)
    assert decide(monday_noon, policy) == Activity(
        "paused", "outside the schedule (mon-fri 18:00-08:00)", 0.0
    )
    assert decide(replace(monday_noon, minute_of_day=19 * 60), policy).state == "contributing"
    assert decide(monday_noon, replace(POLICY, schedule="never")).state == "paused"


def test_schedule_from_the_fake_clock(tz: None) -> None:
    policy = replace(POLICY, schedule="sat, sun")
    probe = FixedProbe(ProbeSample(idle_s=600.0))
    clock = FakeClock("2024-01-05 22:59")  # Friday 23:59 local
    assert decide(seen(probe, clock), policy).state == "paused"
    clock.now += 60  # Saturday 00:00 local
    assert decide(seen(probe, clock), policy).state == "contributing"


@pytest.mark.parametrize(
    ("percent", "state", "reason"),
    [
        (20.0, "on_battery", "on battery at 20% (threshold 50%)"),
        (50.0, "on_battery", "on battery at 50% (threshold 50%)"),
        (None, "on_battery", "on battery at unknown (threshold 50%)"),
        (50.4, "contributing", "accepting tasks (30% of the machine)"),
        (90.0, "contributing", "accepting tasks (30% of the machine)"),
    ],
)
def test_on_battery_below_and_above_the_threshold(
    percent: float | None, state: str, reason: str
) -> None:
    probe = FixedProbe(ProbeSample(idle_s=600.0, on_battery=True, battery_percent=percent))
    a = decide(seen(probe, FakeClock("2024-01-01 12:00")), POLICY)
    assert (a.state, a.reason) == (state, reason)
    assert a.cpu_limit == (0.0 if state == "on_battery" else 0.3)


def test_battery_ignored_when_plugged_in_or_not_respected() -> None:
    low = replace(IDLE, on_battery=True, battery_percent=5.0)
    assert decide(low, replace(POLICY, respect_battery=False)).state == "contributing"
    assert decide(replace(low, on_battery=False), POLICY).state == "contributing"


def test_other_programs_busy_waits_for_idle() -> None:
    probe = FixedProbe(ProbeSample(idle_s=600.0, other_cpu=0.8))
    a = decide(seen(probe, FakeClock("2024-01-01 12:00")), POLICY)
    assert a == Activity(
        "waiting_for_idle", "other programs are using 80% of the machine (limit 50%)", 0.0
    )
    assert probe.our_pids == {4242}  # the caller's pids reach the probe
    assert decide(replace(IDLE, other_cpu=0.5), POLICY).state == "contributing"  # not above
    assert decide(replace(IDLE, other_cpu=None), POLICY).state == "contributing"  # unknown
    never = replace(POLICY, max_other_cpu=1.0)
    assert decide(replace(IDLE, other_cpu=1.0), never).state == "contributing"
    strict = replace(POLICY, max_other_cpu=0.0)
    assert decide(replace(IDLE, other_cpu=0.01), strict).state == "waiting_for_idle"


def test_in_use_throttles_or_waits() -> None:
    in_use = replace(IDLE, idle_s=4.0)
    assert decide(in_use, POLICY) == Activity(
        "contributing", "the computer is in use: reduced CPU limit (10% of the machine)", 0.1
    )
    assert decide(in_use, replace(POLICY, work_while_in_use=False)) == Activity(
        "waiting_for_idle", "the computer is in use (idle 4 s of 60 s)", 0.0
    )
    # the in-use limit never exceeds the CPU limit
    assert decide(in_use, replace(POLICY, cpu_limit=0.1, in_use_cpu_limit=0.2)).cpu_limit == 0.1
    assert decide(replace(IDLE, idle_s=60.0), POLICY).cpu_limit == 0.3  # idle long enough
    assert decide(replace(IDLE, idle_s=None), POLICY).cpu_limit == 0.3  # unknown = idle
    assert decide(in_use, replace(POLICY, min_idle_s=0)).cpu_limit == 0.3


def test_offline_keeps_accepting_at_its_limit() -> None:
    a = decide(replace(IDLE, peers=0), POLICY)
    assert a == Activity("offline", "no peer connected", 0.3)
    assert a.accepts_tasks
    assert decide(replace(IDLE, peers=0, idle_s=1.0), POLICY).cpu_limit == 0.1


# -- precedence -----------------------------------------------------------------------------


def test_precedence_of_the_rules(tz: None) -> None:
    """Every rule holds at once; lifting the winning one reveals the next, in order."""
    clock = FakeClock("2024-01-01 11:00")  # Monday 12:00 local
    policy = replace(POLICY, schedule="mon-fri 18:00-08:00", work_while_in_use=False)
    sample = ProbeSample(idle_s=3.0, on_battery=True, battery_percent=10.0, other_cpu=0.9)
    node: dict[str, int | bool | None] = {
        "paused": True,
        "snoozed_until_ms": clock.ms(600),
        "draining": True,
        "running_tasks": 0,
        "peers": 0,
    }

    def now() -> Activity:
        c = observe(FixedProbe(sample).sample(), now=clock.now, **node)  # type: ignore[arg-type]
        return decide(c, policy)

    steps = []
    a = now()
    steps.append(a.reason)
    node["paused"] = False
    steps.append(now().reason)
    node["snoozed_until_ms"] = None
    steps.append(now().reason)  # draining with nothing left: paused
    node["running_tasks"] = 2
    a = now()
    steps.append(f"{a.state}/{a.draining}")  # draining, but outside the schedule shows
    node["draining"] = False
    steps.append(now().reason)
    policy = replace(policy, schedule="always")
    steps.append(now().reason)
    sample = replace(sample, on_battery=False)
    steps.append(now().reason)
    sample = replace(sample, other_cpu=0.1)
    steps.append(now().reason)
    policy = replace(policy, work_while_in_use=True)
    steps.append(now().reason)
    sample = replace(sample, idle_s=3600.0)
    steps.append(now().reason)
    node["peers"] = 2
    steps.append(now().reason)
    assert steps == [
        "paused by the user",
        "snoozed until 12:10",
        "paused by the user",
        "paused/True",
        "outside the schedule (mon-fri 18:00-08:00)",
        "on battery at 10% (threshold 50%)",
        "other programs are using 90% of the machine (limit 50%)",
        "the computer is in use (idle 3 s of 60 s)",
        "no peer connected",
        "no peer connected",
        "accepting tasks (30% of the machine)",
    ]


def test_default_call_shape_still_works() -> None:
    """The node's `Conditions(...)` of before (no load, snooze or draining fields)."""
    c = Conditions(paused=False, peers=1, weekday=2, minute_of_day=600, idle_s=None)
    assert decide(c, Policy()).state == "contributing"


# -- properties -----------------------------------------------------------------------------


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    cpu = draw(st.floats(0.1, 1.0))
    return Policy(
        cpu_limit=cpu,
        min_idle_s=draw(st.integers(0, 86400)),
        work_while_in_use=draw(st.booleans()),
        in_use_cpu_limit=draw(st.floats(0.05, 1.0)),  # may exceed cpu_limit: min() applies
        respect_battery=draw(st.booleans()),
        battery_threshold=draw(st.integers(0, 100)),
        schedule=draw(
            st.sampled_from(["always", "never", "mon-fri 09:00-17:30", "sat, sun", "22:00-06:00"])
        ),
        max_other_cpu=draw(st.floats(0.0, 1.0)),
    )


_maybe_float = st.none() | st.floats(0.0, 1e6, allow_nan=False)
conditions = st.builds(
    Conditions,
    paused=st.booleans(),
    peers=st.integers(0, 50),
    weekday=st.integers(0, 6),
    minute_of_day=st.integers(0, 1439),
    idle_s=_maybe_float,
    on_battery=st.booleans(),
    battery_percent=st.none() | st.floats(0.0, 100.0),
    other_cpu=st.none() | st.floats(0.0, 1.0),
    now_ms=st.integers(0, 4_000_000_000_000),
    utc_offset_s=st.integers(-12 * 3600, 14 * 3600),
    snoozed_until_ms=st.none() | st.integers(0, 4_000_000_000_000),
    draining=st.booleans(),
    running_tasks=st.integers(0, 20),
)


@given(conditions, policies())
def test_decisions_are_well_formed(c: Conditions, p: Policy) -> None:
    a = decide(c, p)
    assert a.state in STATES and a.reason
    assert a.cpu_limit == 0 or MIN_CPU_LIMIT <= a.cpu_limit <= p.cpu_limit
    assert a.accepts_tasks == (a.cpu_limit > 0 and not a.draining)
    assert a == decide(c, p)  # pure: the same facts, the same answer
    if c.paused:
        assert a == Activity("paused", "paused by the user", 0.0)
    elif c.snoozed_until_ms is not None and c.snoozed_until_ms > c.now_ms:
        assert a.state == "paused" and a.reason.startswith("snoozed until ")
    if c.draining:
        assert not a.accepts_tasks
    if a.state in ("on_battery", "waiting_for_idle") or a.state == "paused":
        assert a.cpu_limit == 0 or a.draining


@given(conditions, policies())
def test_more_restrictions_never_raise_the_limit(c: Conditions, p: Policy) -> None:
    base = decide(c, p).cpu_limit
    for stricter in (
        replace(c, paused=True),
        replace(c, on_battery=True, battery_percent=0.0),
        replace(c, other_cpu=1.0),
        replace(c, idle_s=0.0),
    ):
        assert decide(stricter, p).cpu_limit <= base


def test_policy_defaults_are_the_settings_defaults() -> None:
    from edgenet_app.core.settings import defaults

    d = defaults()
    assert Policy() == Policy(
        cpu_limit=d["cpu_limit"],  # type: ignore[arg-type]
        min_idle_s=d["idle.min_idle_seconds"],  # type: ignore[arg-type]
        work_while_in_use=d["idle.work_while_in_use"],  # type: ignore[arg-type]
        in_use_cpu_limit=d["idle.in_use_cpu_limit"],  # type: ignore[arg-type]
        respect_battery=d["idle.respect_battery"],  # type: ignore[arg-type]
        battery_threshold=d["idle.battery_threshold"],  # type: ignore[arg-type]
        schedule=d["schedule"],  # type: ignore[arg-type]
        max_other_cpu=d["idle.max_other_cpu"],  # type: ignore[arg-type]
    )
