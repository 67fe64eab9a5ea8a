"""The whole network for real: a relay and four `edgenet node` processes on loopback WebRTC,
and a submitter node that runs every task kind with redundancy 3.

Checks each result against a local execution, that every worker paid was part of the
agreeing majority, that all five ledgers converge (same state root) within a second of the
last settlement, that supply == minted − burned everywhere, and that the node processes
never loaded FFmpeg, numpy or wasmtime themselves.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from support.netharness import Net

from edgenet_app.core import economics as econ
from edgenet_app.core.activity import Policy
from edgenet_app.core.submit import SubmitRequest
from edgenet_app.runtime.node import Node, NodeOptions
from edgenet_app.tasks.base import ExecContext
from edgenet_app.tasks.registry import get_kind

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tasks"
ORDER = (
    "encryption",
    "compression",
    "neural_inference",
    "custom_wasm",
    "embedding",
    "semantic_match",
    "vector_insert",
    "vector_search",
)

pytestmark = pytest.mark.timeout(300)


def local_result(kind: str, payload: Any, ctx: ExecContext) -> Any:
    k = get_kind(kind)
    return k.execute(k.parse(payload), ctx)


async def converged(
    net: Net, dirs: list[Path], timeout: float
) -> tuple[float, list[dict[str, Any]]]:
    t0 = time.perf_counter()
    while True:
        views = [await asyncio.to_thread(net.ledger_view, d) for d in dirs]
        if len({v["root"] for v in views}) == 1:
            return time.perf_counter() - t0, views
        if time.perf_counter() - t0 > timeout:
            return float("inf"), views
        await asyncio.sleep(0.02)


async def test_every_kind_with_redundancy_3_on_four_node_processes(
    tmp_path: Path, model: Path
) -> None:
    names = ["w0", "w1", "w2", "w3"]
    with Net(tmp_path, funded=["submitter", *names], grant=1000) as net:
        net.start_relay()
        workers = [net.start_node(n) for n in names]
        sub = Node(
            tmp_path / "submitter",
            net.genesis,
            # exact accounting below: no background spot-checks
            NodeOptions(
                relays=(net.url,),
                loopback=True,
                spot_check_rate=0.0,
                policy=Policy(cpu_limit=0.5, max_other_cpu=1.0),
            ),
        )
        await sub.start()
        try:
            deadline = time.monotonic() + 20
            while len(sub.stats().peers) < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert len(sub.stats().peers) == 4
            ctx = ExecContext(tmp_path / "local")
            by_key = {w.public_key: w.node_id for w in workers}
            spent = 0
            for kind in ORDER:
                payload = json.loads((EXAMPLES / f"{kind}.json").read_text())
                expected = local_result(kind, payload, ctx)
                out = await sub.submit(SubmitRequest(kind, payload, redundancy=3, timeout_s=60))
                assert out.verified, f"{kind}: {out.reason}"
                assert len(set(out.workers)) == 3 and set(out.workers) <= set(by_key.values())
                assert get_kind(kind).verification.agree(out.result, expected), kind
                price = out.cost // 3
                assert out.cost == 3 * price > 0
                spent += out.cost
            await sub.settle_now()  # the last batch, without waiting its period
            t_last = time.perf_counter()
            dirs = [tmp_path / "submitter", *(w.data_dir for w in workers)]
            took, views = await converged(net, dirs, 10)
            print(f"ledgers converged {took * 1000:.0f} ms after the last settlement")
            assert took <= 1.0, f"ledgers still differ after {time.perf_counter() - t_last:.1f} s"
            for v in views:
                assert v["supply"] == v["minted"] - v["burned"]
                assert v["supply"] == sum(v["totals"].values())
                assert not any(v["offences"].values())
            me = sub.identity
            assert me is not None
            granted = 1000 * econ.MICRO
            staked = econ.STAKE_REQUIRED
            assert views[0]["totals"][me.public_key.hex()] == granted - spent, "payer total"
            earned = sum(views[0]["totals"][w.public_key.hex()] - granted for w in workers)
            assert earned >= spent  # paid prices plus minted bonus
            assert sub.stats().credits.staked == staked
            # the node processes ran every kind without loading FFmpeg (no_media), numpy or
            # wasmtime themselves: their worker processes did (the idle RSS target)
            for w in workers:
                maps = Path(f"/proc/{w.popen.pid}/maps")
                if maps.exists():
                    mapped = maps.read_text()
                    for lib in ("libavcodec", "_multiarray_umath", "wasmtime"):
                        assert lib not in mapped, f"{w.name} mapped {lib}"
        finally:
            await sub.stop()
