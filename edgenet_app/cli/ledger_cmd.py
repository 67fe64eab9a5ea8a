"""`edgenet ledger balances | events | verify`: this node's copy of the credit ledger."""

from __future__ import annotations

import argparse
import datetime
import json
from typing import Any

from ..core import economics as econ
from ..core.identity import node_id_of
from ..runtime.store import paths
from ..runtime.store.ledger_store import LedgerStore, now_ms
from ..runtime.store.networks import load_network
from .network_cmd import add_network_option


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "ledger", help="show or verify this node's copy of the credit ledger"
    )

    def show_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 0

    p.set_defaults(func=show_help)
    cmds = p.add_subparsers(dest="ledger_command", metavar="SUBCOMMAND")
    for name, func, text in (
        ("balances", _balances, "credits per node: available, locked, staked"),
        ("events", _events, "the events held, in the ledger's order"),
        ("verify", _verify, "check the store and recompute the state root"),
    ):
        c = cmds.add_parser(name, help=text)
        add_network_option(c)
        c.add_argument("--json", action="store_true", help="print JSON")
        if name == "events":
            c.add_argument("--limit", type=int, default=50, help="most recent N (default 50)")
        c.set_defaults(func=func)


def _open(args: argparse.Namespace) -> LedgerStore:
    return LedgerStore.open(paths.data_dir(args.data_dir), load_network(args.network))


def _balances(args: argparse.Namespace) -> int:
    with _open(args) as ls:
        state, now = ls.ledger.state, now_ms()
        rows: list[dict[str, Any]] = []
        for node in sorted(state.accounts):
            b = state.balance(node, now)
            rows.append(
                {
                    "node_id": node_id_of(node),
                    "available": b.available,
                    "locked": b.locked,
                    "staked": b.staked,
                }
            )
        summary: dict[str, Any] = {
            "network": ls.genesis.name,
            "events": len(ls.ledger),
            "supply": state.total_supply,
            "minted": dict(state.minted),
            "burned": state.burned,
            "network_cpu_hours": state.network_cpu_hours,
            "multiplier": ls.ledger.multiplier(),
            "state_root": ls.ledger.state_root().hex(),
        }
    if args.json:
        print(json.dumps({"balances": rows, **summary}, indent=2))
        return 0
    print(f"{'NODE':<26} {'AVAILABLE':>16} {'LOCKED':>14} {'STAKED':>12}")
    for r in rows:
        print(
            f"{r['node_id']:<26} {econ.format_credits(r['available']):>16} "
            f"{econ.format_credits(r['locked']):>14} {econ.format_credits(r['staked']):>12}"
        )
    print(
        f"\n{summary['events']} events; supply {econ.format_credits(summary['supply'])} credits; "
        f"multiplier {summary['multiplier']:.4f}; root {summary['state_root'][:16]}…"
    )
    return 0


def _events(args: argparse.Namespace) -> int:
    with _open(args) as ls:
        state = ls.ledger.state
        events = sorted(ls.ledger.events(), key=lambda e: (e.ts, e.author, e.seq))
        out = []
        for e in events[-max(0, args.limit) :]:
            status = (
                "applied" if e.id in set(state.applied) else state.rejected.get(e.id, "unlinked")
            )
            out.append(
                {
                    "id": e.id.hex(),
                    "author": node_id_of(e.author),
                    "seq": e.seq,
                    "kind": e.kind,
                    "time": datetime.datetime.fromtimestamp(e.ts / 1000, datetime.UTC).isoformat(
                        timespec="seconds"
                    ),
                    "status": status,
                }
            )
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for r in out:
        print(f"{r['time']}  {r['author']}  #{r['seq']:<4} {r['kind']:<14} {r['status']}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    with _open(args) as ls:
        report = ls.store.verify()
        forks = ls.ledger.equivocations()
        result: dict[str, Any] = {
            "ok": report.ok and ls.skipped == 0,
            "events": len(ls.ledger),
            "store_integrity": report.integrity,
            "problems": list(report.problems),
            "equivocations": [{"author": node_id_of(f.author), "seq": f.seq} for f in forks],
            "rejected": len(ls.ledger.rejected()),
            "state_root": ls.ledger.state_root().hex(),
            "supply_matches_minted": ls.ledger.state.total_supply
            == ls.ledger.state.total_minted - ls.ledger.state.burned,
        }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{'ok' if result['ok'] else 'PROBLEMS'}: {result['events']} events, "
            f"{result['rejected']} rejected by the rules, {len(forks)} equivocation(s), "
            f"supply == minted − burned: {result['supply_matches_minted']}"
        )
        for p in result["problems"]:
            print(f"  {p}")
    return 0 if result["ok"] else 1
