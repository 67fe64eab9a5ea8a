"""`edgenet status`, `peers`, `pause`, `resume`: talk to the node running for the data dir
through its local control API (`runtime/control/server.py`). None of them starts a node."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ..core import economics as econ
from ..core.status import NodeStatus
from ..runtime.store import paths

if TYPE_CHECKING:
    from ..runtime.control.client import ControlClient


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="the running node's state, credits, tasks and peers")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_status)

    p = sub.add_parser("peers", help="the running node's peer links")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_peers)

    p = sub.add_parser("pause", help="stop the running node from taking new tasks")
    p.set_defaults(func=_pause)

    p = sub.add_parser("resume", help="let the running node take tasks again")
    p.set_defaults(func=_resume)


def client_for(args: argparse.Namespace) -> ControlClient:
    from ..runtime.control.client import ControlClient, ControlError

    data_dir = paths.data_dir(args.data_dir)
    client = ControlClient.discover(data_dir)
    if client is None:
        raise ControlError(f"no node is running for {data_dir} (start one with: edgenet node)")
    return client


def duration(seconds: float) -> str:
    """12 s, 4 min 05 s, 3 h 02 min, 2 d 5 h."""
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def status_rows(st: NodeStatus) -> list[tuple[str, str]]:
    credits = st.credits
    return [
        ("state", f"{st.state} ({st.reason})"),
        ("node", str(st.node_id)),
        ("network", st.network),
        ("credits available", econ.format_credits(credits.available)),
        ("credits locked", econ.format_credits(credits.locked)),
        ("credits staked", econ.format_credits(credits.staked)),
        ("tasks completed", str(st.tasks_completed)),
        ("tasks submitted", str(st.tasks_submitted)),
        ("uptime", duration(st.uptime_s)),
        ("reputation", f"{st.reputation:.3f}"),
        ("multiplier", f"{st.multiplier:.4f}"),
        ("peers", str(len(st.peers))),
        ("CPU donated", duration(st.cpu_donated_s)),
    ]


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _status(args: argparse.Namespace) -> int:
    client = client_for(args)
    st = client.sync(client.status())
    print(json.dumps(st.to_json(), indent=2) if args.json else _table(status_rows(st)))
    return 0


def _peers(args: argparse.Namespace) -> int:
    client = client_for(args)
    peers = client.sync(client.peers())
    if args.json:
        print(json.dumps(peers, indent=2))
    elif not peers:
        print("no peers")
    else:
        rows = [("NODE", "LINK", "BYTES IN", "BYTES OUT")]
        for p in peers:
            link = "open" if p["open"] else "closed"
            rows.append((p["node_id"], link, str(p["bytes_in"]), str(p["bytes_out"])))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _pause(args: argparse.Namespace) -> int:
    client = client_for(args)
    st = client.sync(client.pause())
    print(f"{st.state} ({st.reason})")
    return 0


def _resume(args: argparse.Namespace) -> int:
    client = client_for(args)
    st = client.sync(client.resume())
    print(f"{st.state} ({st.reason})")
    return 0
