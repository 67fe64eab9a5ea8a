"""`edgenet tasks` and `edgenet run-task`: the task kinds, and running one locally."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._json import jsonable
from ..core import economics as econ
from ..core.errors import EdgenetError
from ..runtime.store import paths
from ..tasks.base import Limits, PayloadError, TaskError
from ..tasks.registry import UnknownKind, all_kinds, get_kind, kind_names
from .io import read_payload


class TaskCommandError(EdgenetError):
    pass


def register(sub: Any) -> None:
    t = sub.add_parser("tasks", help="list the task kinds with their payload and result schemas")
    t.add_argument("--json", action="store_true", help="print the schemas as JSON")
    t.set_defaults(func=_tasks)

    r = sub.add_parser(
        "run-task",
        help="run one task locally through the worker pool (no network, no credits)",
        description="Validate a payload and run it in a sandboxed, throttled worker process.",
    )
    r.add_argument(
        "--type",
        dest="kind",
        required=True,
        metavar="KIND",
        choices=kind_names(),
        help="task kind: " + ", ".join(kind_names()),
    )
    r.add_argument(
        "--payload-file",
        required=True,
        metavar="FILE",
        help="JSON payload ('-' reads standard input); see examples/tasks/",
    )
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument(
        "--cpu-limit",
        type=float,
        default=1.0,
        metavar="F",
        help="fraction of the machine the worker may use (default: %(default)s)",
    )
    r.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds the task may run (default: %(default)s)",
    )
    r.add_argument(
        "--memory-mb",
        type=int,
        default=1024,
        metavar="MB",
        help="worker memory limit (default: %(default)s)",
    )
    r.set_defaults(func=_run_task)


def _tasks(args: argparse.Namespace) -> int:
    kinds = [k.describe() for k in all_kinds()]
    if args.json:
        print(json.dumps(kinds, indent=2, ensure_ascii=False))
        return 0
    for k in kinds:
        print(f"{k['kind']}  —  {k['summary']}")
        print(f"  price: {k['price']};  verification: {k['verification']}")
        for name, spec in k["payload"].items():
            need = "required" if spec.get("required") else "optional"
            print(f"    {name:<16} {spec.get('type', ''):<12} {need:<9} {spec.get('rule', '')}")
        print()
    return 0


def _run_task(args: argparse.Namespace) -> int:
    from ..runtime.work.pool import WorkerPool

    if not 0.05 <= args.cpu_limit <= 1.0:
        raise TaskCommandError(f"--cpu-limit {args.cpu_limit}: allowed 0.05–1.0")
    if not 0 < args.timeout <= 3600:
        raise TaskCommandError(f"--timeout {args.timeout}: allowed up to 3600 s")
    if not 64 <= args.memory_mb <= 65536:
        raise TaskCommandError(f"--memory-mb {args.memory_mb}: allowed 64–65536")
    payload = read_payload(args.payload_file)
    try:
        kind = get_kind(args.kind)
        parsed = kind.parse(payload)
    except UnknownKind as exc:
        raise TaskCommandError(str(exc.args[0])) from None
    except PayloadError as exc:
        raise TaskCommandError(f"invalid payload: {exc}") from None
    except TaskError as exc:
        raise TaskCommandError(f"{exc} [{exc.code}]") from None
    price = econ.task_price_micro(args.kind, kind.size(parsed))
    data_dir = paths.ensure_private_dir(paths.data_dir(args.data_dir))
    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory_mb)
    with WorkerPool(data_dir, cpu_limit=args.cpu_limit, limits=limits, idle_timeout_s=1) as pool:
        outcome = pool.run_sync(args.kind, payload)
    report = {
        "kind": args.kind,
        "ok": outcome.ok,
        "result": outcome.result,
        "error": None if outcome.ok else {"code": outcome.error_code, "message": outcome.error},
        "wall_ms": round(outcome.wall_ms, 3),
        "cpu_s": round(outcome.cpu_s, 4),
        "price_credits": econ.format_credits(price),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=jsonable))
    elif outcome.ok:
        print(json.dumps(outcome.result, indent=2, ensure_ascii=False, default=jsonable))
        print(
            f"ok: {args.kind} in {outcome.wall_ms:.1f} ms ({outcome.cpu_s:.3f} s CPU); "
            f"on the network it would cost {econ.format_credits(price)} credits",
            file=sys.stderr,
        )
    else:
        print(f"edgenet: task failed [{outcome.error_code}]: {outcome.error}", file=sys.stderr)
    return 0 if outcome.ok else 3
