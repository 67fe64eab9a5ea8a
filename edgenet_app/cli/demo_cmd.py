"""`edgenet demo`: a whole network on this machine, for real, in under a minute.

Starts a relay and N contributor nodes as separate processes (real WebRTC on loopback), a
submitter funded by the genesis of a fresh private network, runs a mix of task kinds with
redundancy, prints progress and a final table, and shuts everything down.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..core import economics as econ
from ..core.activity import Policy
from ..core.errors import EdgenetError
from ..core.genesis import Genesis
from ..core.identity import Identity, node_id_of
from ..core.submit import SubmitRequest
from ..runtime.store import keystore
from ..runtime.store.networks import write_network

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples" / "tasks"
DEMO_KINDS = (
    "encryption",
    "neural_inference",
    "compression",
    "custom_wasm",
    "embedding",
    "semantic_match",
    "vector_insert",
)


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run a self-contained local network and show credits moving")
    p.add_argument("--nodes", type=int, default=3, help="contributor processes (default 3)")
    p.add_argument("--tasks", type=int, default=14, help="tasks to submit (default 14)")
    p.add_argument("--redundancy", type=int, default=3, help="workers per task (default 3)")
    p.set_defaults(func=_demo)


def _payloads() -> dict[str, Any]:
    from ..tasks.registry import get_kind

    out = {}
    for kind in DEMO_KINDS:
        f = EXAMPLES / f"{kind}.json"
        out[kind] = json.loads(f.read_text()) if f.exists() else get_kind(kind).small_example()
    return out


def _spawn(args: list[str], log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgenet_app", *args],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def same_machine_node_options(network: Path, relay_url: str, cpu_limit: float = 1.0) -> list[str]:
    """`edgenet node` options for a contributor sharing this machine with other nodes (the
    demo, tests, benchmarks): loopback WebRTC, and it neither waits for the user to be idle
    nor steps back because the other nodes keep the machine busy."""
    return [
        *("--network", str(network), "--relay", relay_url, "--loopback"),
        *("--cpu-limit", str(cpu_limit)),
        *("--idle-max-other-cpu", "1", "--idle-min-idle-seconds", "0"),
    ]


def _drain(stream: Any) -> None:
    """Read a node's JSON-lines notifications so its stdout pipe never fills up."""
    for _ in stream:
        pass


def _demo(args: argparse.Namespace) -> int:
    if not 1 <= args.nodes <= 20 or not 1 <= args.tasks <= 1000:
        raise EdgenetError("--nodes must be 1–20 and --tasks 1–1000")
    redundancy = min(args.redundancy, args.nodes)
    with tempfile.TemporaryDirectory(prefix="edgenet-demo-") as tmp:
        try:
            return asyncio.run(_stoppable(_run(Path(tmp), args.nodes, args.tasks, redundancy)))
        except asyncio.CancelledError:  # SIGTERM: the processes were stopped on the way out
            print("demo stopped", file=sys.stderr)
            return 143


async def _stoppable(run: Any) -> int:
    """Run the demo; SIGTERM cancels it, so its `finally` stops every process it started."""
    task = asyncio.ensure_future(run)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C only
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    result: int = await task
    return result


async def _run(tmp: Path, n_nodes: int, n_tasks: int, redundancy: int) -> int:
    from ..runtime.node import Node, NodeOptions
    from ..tasks.base import Limits

    t_start = time.perf_counter()
    sub_dir = tmp / "submitter"
    me = keystore.create_identity(sub_dir, ops=1, mem=8192)
    # each contributor gets the stake it needs: staked workers earn the multiplier's bonus
    contributors = [
        keystore.create_identity(tmp / f"node{i}", ops=1, mem=8192) for i in range(n_nodes)
    ]
    genesis = Genesis.create(
        Identity.generate(),
        "edgenet-demo",
        int(time.time() * 1000) - 60_000,
        grants=(
            (me.node_id, 10_000 * econ.MICRO),
            *((c.node_id, econ.STAKE_REQUIRED) for c in contributors),
        ),
    )
    net = tmp / "demo.net"
    write_network(genesis, net)
    procs: list[subprocess.Popen[str]] = []
    node: Node | None = None
    try:
        relay = _spawn(["relay", "--port", "0", "--network", str(net)], tmp / "relay.log")
        procs.append(relay)
        assert relay.stdout is not None
        url = relay.stdout.readline().strip().rsplit(" ", 1)[-1]
        if not url.startswith("ws://"):
            raise EdgenetError(f"the relay did not start (see {tmp / 'relay.log'})")
        print(f"relay        {url}")
        names = []
        for i in range(n_nodes):
            p = _spawn(
                [
                    *("--data-dir", str(tmp / f"node{i}"), "node"),
                    *same_machine_node_options(net, url),
                ],
                tmp / f"node{i}.log",
            )
            procs.append(p)
        for i, p in enumerate(procs[1:]):
            assert p.stdout is not None
            ready = json.loads(p.stdout.readline() or "{}")
            if ready.get("event") != "ready":
                raise EdgenetError(f"node {i} did not start (see {tmp / f'node{i}.log'})")
            threading.Thread(target=_drain, args=(p.stdout,), daemon=True).start()
            names.append(ready["node_id"])
            print(f"node {i:<7} {ready['node_id']}  ready in {ready['ready_s']:.2f} s")
        opts = NodeOptions(
            relays=(url,),
            kinds=(),
            loopback=True,
            limits=Limits(timeout_s=60),
            spot_check_rate=0.0,  # the table accounts for exactly the tasks it lists
            policy=Policy(cpu_limit=0.1, max_other_cpu=1.0),
        )
        node = Node(sub_dir, genesis, opts)
        await node.start()
        print(f"submitter    {me.node_id}  10,000 credits from the genesis grant")
        deadline = time.monotonic() + 20
        while len(node.stats().peers) < n_nodes and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        payloads = _payloads()
        rows = []
        for i in range(n_tasks):
            kind = DEMO_KINDS[i % len(DEMO_KINDS)]
            t = time.perf_counter()
            try:
                out = await node.submit(
                    SubmitRequest(kind, payloads[kind], redundancy=redundancy, timeout_s=45)
                )
                ok, workers, cost = out.verified, len(out.workers), out.cost
            except (TimeoutError, EdgenetError) as exc:
                ok, workers, cost = False, 0, 0
                print(f"  task {i + 1}: {kind} failed: {exc}")
            ms = (time.perf_counter() - t) * 1000
            rows.append((kind, ok, ms, workers, cost))
            print(
                f"  task {i + 1:>3}/{n_tasks}  {kind:<17} {'verified' if ok else 'FAILED':<9} "
                f"{ms:7.0f} ms  {workers} workers  {econ.format_credits(cost)} credits"
            )
        await node.settle_now()  # the last batch of payments, without waiting its period
        await asyncio.sleep(1.0)  # settlements reach the contributors
        assert node.ledger is not None
        ledger = node.ledger.ledger
        now = int(time.time() * 1000)
        print("\nnode                         available       locked   staked  tasks paid")
        for name in [me.node_id, *names]:
            key = next((k for k in ledger.state.accounts if node_id_of(k) == name), None)
            bal = ledger.balance(key, now) if key else None
            paid = ledger.state.accounts[key].valid_results if key else 0
            print(
                f"{name:<26} {econ.format_credits(bal.available if bal else 0):>12} "
                f"{econ.format_credits(bal.locked if bal else 0):>12} "
                f"{econ.format_credits(bal.staked if bal else 0):>8}  {paid:>10}"
            )
        spent = sum(r[4] for r in rows)
        bonus = ledger.state.minted.get("task_bonus", 0)
        print(
            f"\ncontributors earned {econ.format_credits(spent + bonus)} credits: "
            f"{econ.format_credits(spent)} paid by the submitter + "
            f"{econ.format_credits(bonus)} minted as the early-contributor bonus"
        )
        done = sum(1 for r in rows if r[1])
        lat = sorted(r[2] for r in rows if r[1])
        p50 = lat[len(lat) // 2] if lat else 0.0
        state = ledger.state
        print(
            f"\n{done}/{n_tasks} tasks verified with redundancy {redundancy}; "
            f"latency p50 {p50:.0f} ms; multiplier {ledger.multiplier():.4f}; "
            f"supply {econ.format_credits(state.total_supply)} = minted "
            f"{econ.format_credits(state.total_minted)} − burned "
            f"{econ.format_credits(state.burned)}; {time.perf_counter() - t_start:.1f} s"
        )
        return 0 if done == n_tasks else 1
    finally:
        if node is not None:
            await node.stop()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
