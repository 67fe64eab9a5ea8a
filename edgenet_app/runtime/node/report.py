"""What a node reports about itself: its status (`edgenet status`, the control API, the
tray) and its rank among all accounts."""

from __future__ import annotations

from ...core import economics as econ
from ...core.genesis import Genesis
from ...core.identity import Identity
from ...core.ledger import Ledger
from ...core.status import Credits, NodeStatus
from .activity import ActivityService
from .counters import Counters


def rank(ledger: Ledger, me: bytes, now: int) -> tuple[int, int]:
    """(#N, of M): this node's place among all accounts by total credits."""
    totals = {k: ledger.balance(k, now).total for k in ledger.state.accounts}
    mine = totals.get(me, 0)
    return 1 + sum(1 for v in totals.values() if v > mine), max(1, len(totals))


def status(
    genesis: Genesis,
    identity: Identity | None,
    ledger: Ledger | None,
    *,
    activity: ActivityService,
    counters: Counters,
    peers: list[str],
    started_ms: int,
    now: int,
) -> NodeStatus:
    """A snapshot for `edgenet status`, the control API and the tray; before the node
    has started, its zeros."""
    me = identity.public_key if identity else b""
    bal = ledger.balance(me, now) if ledger else None
    acct = ledger.state.accounts.get(me) if ledger else None
    state, reason = activity.state()
    sample = activity.last_sample
    return NodeStatus(
        node_id=identity.node_id if identity else None,
        network=genesis.name,
        network_id=genesis.network_id.hex(),
        state=state,
        reason=reason,
        credits=Credits(bal.available, bal.locked, bal.staked) if bal else Credits(),
        tasks_completed=counters.tasks_completed,
        tasks_submitted=counters.tasks_submitted,
        uptime_s=round((now - started_ms) / 1000, 3) if started_ms else 0.0,
        reputation=econ.reputation_score(acct.valid_results, acct.offences)
        if acct
        else econ.reputation_score(0, 0),
        multiplier=ledger.multiplier() if ledger else econ.contribution_multiplier(0.0),
        network_cpu_hours=ledger.network_cpu_hours() if ledger else 0.0,
        rank=rank(ledger, me, now) if ledger and identity else (0, 0),
        peers=tuple(peers),
        cpu_donated_s=round(counters.cpu_donated_ms / 1000, 3),
        idle_source=sample.idle_source,
        idle_s=sample.idle_s,
        other_cpu=sample.other_cpu,
    )
