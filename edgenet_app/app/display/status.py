"""The node's status and history in words: the "why am I (not) earning" line, the state
names, the tray's lines and tooltip, the dashboard's stat lines, the charts' tooltips and the
credit notification (pure: no Qt, no clock read).

Every function takes the status (`NodeStatus`, None before the node first answers) or a
value from it, or an entry of the history (`NodeHistory`, core/status.py), and returns text;
the numbers in it come from formats.py. Credits arrive as micro-credits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...core.status import Credits, NodeStatus, TaskEntry
from .formats import (
    UNKNOWN,
    format_compact,
    format_micro,
    format_moment,
    format_percent,
    format_rank,
    network_stage,
    plain_credits,
    short_credits,
)

STATE_TITLES = {
    "contributing": "Contributing",
    "paused": "Paused",
    "waiting_for_idle": "Waiting for idle",
    "on_battery": "On battery",
    "offline": "Offline",
}


# -- the "why am I (not) earning" line ---------------------------------------------------


@dataclass(frozen=True)
class WhyLine:
    text: str
    tone: str  # a Theme colour role: "good", "warn", "bad" or "muted"
    earning: bool


def why_line(state: str | None, reason: str | None, *, connected: bool = True) -> WhyLine:
    """One plain sentence: whether this computer earns right now, why, and what to do.

    `state` and `reason` are the status's (core/activity.py).
    """
    reason = (reason or "").strip()
    if not connected:
        return WhyLine("Not earning: lost contact with the node — reconnecting…", "bad", False)
    if not state:
        return WhyLine("Connecting to the node…", "muted", False)
    if state == "contributing":
        return WhyLine(f"Earning: {reason or 'accepting tasks'}", "good", True)
    if state == "paused":
        if reason.startswith("finishing"):
            return WhyLine(f"{reason[:1].upper()}{reason[1:]} — no new tasks", "warn", True)
        if reason.startswith("snoozed"):
            return WhyLine(
                f"Not earning: {reason} — Resume from the tray menu to start sooner", "warn", False
            )
        if reason.startswith("outside the schedule"):
            return WhyLine(f"Not earning: {reason} — change the hours in Settings", "muted", False)
        if not reason or reason == "paused by the user":
            return WhyLine("Not earning: paused by you — Resume from the tray menu", "warn", False)
        return WhyLine(f"Not earning: {reason} — Resume from the tray menu", "warn", False)
    if state == "on_battery":
        return WhyLine(f"Not earning: {reason or 'on battery'} — plug in to resume", "warn", False)
    if state == "waiting_for_idle":
        if reason.startswith("other programs"):
            hint = "work resumes when they quieten down"
        else:
            hint = "work resumes once the computer is idle"
        return WhyLine(f"Not earning: {reason or 'the computer is in use'} — {hint}", "warn", False)
    if state == "offline":
        return WhyLine(
            f"Not earning: {reason or 'no peer connected'} — checking the network…", "bad", False
        )
    return WhyLine(f"Not earning: {reason or state}", "muted", False)


# -- the tray menu and the toolbar ---------------------------------------------------------


def reason_text(status: NodeStatus | None, connected: bool) -> str:
    """The state's reason as a line of its own (the menu's second line, the chip's tooltip)."""
    if not connected:
        return "Connecting to the node…" if status is None else "Lost contact with the node"
    reason = status.reason if status is not None else ""
    return reason[:1].upper() + reason[1:]


def credits_line(status: NodeStatus | None) -> str:
    """The menu's credits line: '1,284.51 credits · rank #12 of 340'."""
    if status is None:
        return "Credits unknown"
    line = f"{short_credits(status.credits.available)} credits"
    n, of = status.rank
    if of:
        line += f" · rank #{n:,} of {of:,}"
    return line


def state_of(status: NodeStatus | None, connected: bool) -> str:
    """The state the icon shows: the node's, or offline when the app cannot reach it."""
    state = status.state if connected and status is not None else "offline"
    return state if state in STATE_TITLES else "offline"


def tray_tooltip(status: NodeStatus | None, connected: bool) -> str:
    """edgenet — contributing · 1,284.51 credits"""
    words = STATE_TITLES[state_of(status, connected)].lower()
    if status is None or not connected:
        return f"edgenet — {words}"
    return f"edgenet — {words} · {short_credits(status.credits.available)} credits"


# -- the dashboard ---------------------------------------------------------------------------


def credits_detail(credits: Credits) -> str:
    """'36.2 locked · 100 staked'."""
    return f"{plain_credits(credits.locked)} locked · {plain_credits(credits.staked)} staked"


def credits_available(credits: Credits) -> str:
    """'1,284.513 credits available' (the big number's tooltip: to 0.001)."""
    return f"{plain_credits(credits.available)} credits available"


def tasks_detail(submitted: int) -> str:
    return f"{submitted:,} submitted by you" if submitted else "for other people"


def rank_texts(rank: Sequence[int]) -> tuple[str, str]:
    """(the big number, the line under it): ('#12', 'of 340 contributors')."""
    if len(rank) == 2 and rank[0] > 0:
        return f"#{rank[0]:,}", f"of {rank[1]:,} contributors"
    return UNKNOWN, "not ranked yet"


def rank_tip(rank: Sequence[int] | None) -> str:
    return f"By total credits: {format_rank(rank)}"


def stage_line(cpu_hours: float) -> str:
    """'Very early network · 41K CPU-hours so far'."""
    return f"{network_stage(cpu_hours)} network · {format_compact(cpu_hours)} CPU-hours so far"


def cpu_detail(share: float, limit: float | None) -> str:
    """The average share of the machine given to tasks, and the CPU limit if one is set."""
    cap = f" · limit {format_percent(limit)}" if limit else ""
    return f"{format_percent(share)} of this machine on average since start{cap}"


def short_node_id(node: str) -> str:
    """A node id cut to 12 characters and '…'; '—' when unknown."""
    return node[:12] + "…" if len(node) > 12 else node or UNKNOWN


def node_banner(node: str) -> str:
    """The banner's right end: 'node q4mzx7k2'."""
    return f"node {node[:8]}" if node else ""


def idle_source_label(source: str) -> str:
    """How the node detects idleness, cut to 30 characters."""
    return source if len(source) <= 30 else source[:29] + "…"


def idle_source_tip(source: str) -> str:
    return f"How edgenet knows you are away: {source}"


def earned_total(micro: int) -> str:
    return f"{format_micro(micro)} credits in total"


def task_tip(task: TaskEntry) -> str:
    """A recent task's tooltip: its id, and its error if it failed."""
    tip = f"task {task.task[:16]}…"
    if task.error:
        tip += f"\n{task.error}"
    return tip


# -- the charts --------------------------------------------------------------------------------


def earned_point_tip(ms: int, micro: int) -> str:
    """A point of the earnings chart: 'Tue 4 Jun, 14:02' and the credits earned by then."""
    return f"{format_moment(ms)}\n{format_micro(micro)} credits earned"


def curve_tip(cpu_hours: float) -> str:
    return (
        f"The network has contributed {cpu_hours:,.0f} CPU-hours so far.\n"
        "Rewards are multiplied by 1 + 9·e^(−hours / 1,000,000): early contributors\n"
        "earn up to 10×, falling towards 1× as the network grows."
    )


def curve_marker_lines(cpu_hours: float) -> tuple[str, str]:
    """The two lines beside the network's position on the curve."""
    return "network now", f"{format_compact(cpu_hours)} CPU-hours"


# -- notifications -----------------------------------------------------------------------------


def credits_earned(micro: int, tasks: int) -> str:
    """'You earned 3.2 credits for 14 tasks'."""
    count = "1 task" if tasks == 1 else f"{tasks:,} tasks"
    return f"You earned {short_credits(micro)} credits for {count}"
