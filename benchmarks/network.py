"""Network benchmark on loopback: real relay and node processes, real WebRTC.

    python benchmarks/network.py [--nodes 3] [--tasks 200]

Prints submit→verified latency p50/p99 for small tasks at redundancy 1 and 3, tasks/min
for one contributor, node start-to-ready time, idle RSS of a headless node, and idle
bytes per minute on a peer link. (Settlement propagation across 20 processes is not yet
measured here.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from edgenet_app.core import economics as econ
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.runtime import keystore
from edgenet_app.runtime.networks import write_network
from edgenet_app.runtime.node import Node, NodeOptions

PAYLOAD = {"op": "encrypt", "key": "A" * 43 + "=", "nonce": "A" * 16, "data": "aGVsbG8="}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def main(n_nodes: int, n_tasks: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        me = keystore.create_identity(tmp / "sub", ops=1, mem=8192)
        genesis = Genesis.create(
            Identity.generate(),
            "bench",
            int(time.time() * 1000) - 60_000,
            grants=((me.node_id, 10**6 * econ.MICRO),),
        )
        write_network(genesis, tmp / "b.net")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "edgenet_app"]
        relay = subprocess.Popen(
            [*cmd, "relay", "--port", "0", "--network", str(tmp / "b.net")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert relay.stdout is not None
        url = relay.stdout.readline().strip().rsplit(" ", 1)[-1]
        nodes, ready = [], []
        for i in range(n_nodes):
            t = time.perf_counter()
            p = subprocess.Popen(
                [
                    *cmd,
                    "--data-dir",
                    str(tmp / f"n{i}"),
                    "node",
                    "--network",
                    str(tmp / "b.net"),
                    "--relay",
                    url,
                    "--loopback",
                    "--cpu-limit",
                    "1.0",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            )
            assert p.stdout is not None
            info = json.loads(p.stdout.readline())
            ready.append((time.perf_counter() - t, info["ready_s"]))
            nodes.append(p)
        node = Node(tmp / "sub", genesis, NodeOptions(relays=(url,), kinds=(), loopback=True))
        await node.start()
        while len(node.stats()["peers"]) < n_nodes:
            await asyncio.sleep(0.05)
        try:
            for red in (1, 3):
                for _ in range(5):
                    await node.submit("encryption", PAYLOAD, redundancy=red)
                lat = []
                for _ in range(n_tasks):
                    t = time.perf_counter()
                    out = await node.submit("encryption", PAYLOAD, redundancy=red)
                    assert out.verified
                    lat.append((time.perf_counter() - t) * 1000)
                print(
                    f"submit→verified, redundancy {red}: p50 {pct(lat, 0.5):.1f} ms, "
                    f"p99 {pct(lat, 0.99):.1f} ms (brief: p50 ≤ 20, p99 ≤ 100 at redundancy 1)"
                )
            t = time.perf_counter()
            outs = await asyncio.gather(
                *(node.submit("encryption", PAYLOAD, redundancy=1) for _ in range(n_tasks))
            )
            rate = len(outs) / (time.perf_counter() - t) * 60
            print(
                f"throughput, {n_nodes} contributors, redundancy 1, concurrent: "
                f"{rate:,.0f} tasks/min"
            )
            print(
                "start→ready (process spawn incl. imports / node.start): "
                + ", ".join(f"{a:.2f}/{b:.2f} s" for a, b in ready)
                + " (brief: ready < 1.5 s)"
            )
            await asyncio.sleep(35)  # workers scale to zero after 30 s idle
            rss = [psutil.Process(p.pid).memory_info().rss / 2**20 for p in nodes]
            assert node.mesh is not None
            links = list(node.mesh.hub.links.values())
            before = sum(x.bytes_in + x.bytes_out for x in links)
            t = time.perf_counter()
            await asyncio.sleep(60)
            idle = (sum(x.bytes_in + x.bytes_out for x in links) - before) / len(links)
            print(
                f"idle headless node RSS: {', '.join(f'{r:.0f}' for r in rss)} MB (brief: ≤ 80 MB)"
            )
            print(
                f"idle payload bytes per link: {idle / ((time.perf_counter() - t) / 60):.0f} "
                f"B/min (frames only, without SCTP/DTLS overhead; brief: ≤ 2 KB/min)"
            )
        finally:
            await node.stop()
            for p in [*nodes, relay]:
                p.terminate()
                p.wait(timeout=10)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=200)
    a = ap.parse_args()
    asyncio.run(main(a.nodes, a.tasks))
