"""Attack: honest clocks that disagree. Three real `edgenet node` processes, one with its
clock 2 s ahead and one 2 s behind (libfaketime), pay each other for tasks for a while. No
honest link may be scored or cut, and every node must end with the same ledger."""

from __future__ import annotations

import asyncio
import base64
import glob
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.netharness import Net, Node

from edgenet_app.core.events import payments
from edgenet_app.runtime.control.client import ControlClient

pytestmark = pytest.mark.timeout(180)

SKEW_S = {"ahead": 2.0, "behind": -2.0, "true": 0.0}
RUN_S = 25.0  # how long the nodes keep paying each other
PACE_S = 0.2  # between one node's tasks
ENCRYPT = {
    "op": "encrypt",
    "key": base64.b64encode(bytes(range(32))).decode(),
    "nonce": base64.b64encode(bytes(12)).decode(),
    "data": base64.b64encode(b"what time is it").decode(),
}
# what a node logs when it scores a peer or cuts its link (runtime/net/mesh.py `_penalise`;
# "fwd ... dropped" is not one: a signal for a peer not linked yet is dropped, not scored)
PENALTY = re.compile(r"mesh: peer \S+: |disconnecting ")


def libfaketime() -> str:
    """The path of libfaketime.so.1 (Debian's `faketime` package, any architecture)."""
    found: list[str] = []
    try:
        listed = subprocess.run(
            ["dpkg", "-L", "libfaketime"], capture_output=True, text=True, check=False
        ).stdout.split()
        found += [p for p in listed if p.endswith("/libfaketime.so.1")]
    except OSError:  # not a Debian system
        pass
    for pattern in (
        "/usr/lib/*/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
        "/usr/local/lib/faketime/libfaketime.so.1",
        "/usr/lib64/faketime/libfaketime.so.1",
    ):
        found += sorted(glob.glob(pattern))
    found = [p for p in found if os.path.isfile(p)]
    if not found:
        pytest.fail("libfaketime.so.1 not found: install it (apt-get install faketime)")
    return found[0]


def skewed_env(skew_s: float) -> dict[str, str]:
    if skew_s == 0:
        return {}
    return {
        "LD_PRELOAD": libfaketime(),
        "FAKETIME": f"{skew_s:+g}s",
        # only the wall clock: a machine's monotonic clock is its own business
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def measured_skew(env: dict[str, str]) -> float:
    """How far ahead of ours a Python process started with `env` thinks it is."""
    before = time.time()
    out = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    after = time.time()
    return float(out.stdout) - (before + after) / 2


async def pay_each_other(node: Node, until: float, results: list[dict[str, Any]]) -> None:
    """Submit small tasks through `node`'s control API until `until` (the other two work)."""
    client = ControlClient.discover(node.data_dir)
    assert client is not None, f"{node.name}: no control API"
    try:
        while time.monotonic() < until:
            out = await client.submit("encryption", ENCRYPT, redundancy=2, timeout_s=30)
            results.append(out)
            # a few tasks a second: the claim limiter (10 a second per worker, burst 60)
            # would otherwise refuse claims, which is not what this test is about
            await asyncio.sleep(PACE_S)
    finally:
        await client.close()


async def watch_links(nodes: list[Node], until: float, seen: list[dict[str, Any]]) -> None:
    """Sample every node's links (`/v1/peers`) until `until`."""
    clients = {n.name: ControlClient.discover(n.data_dir) for n in nodes}
    try:
        while time.monotonic() < until:
            for name, client in clients.items():
                assert client is not None
                seen.append({"node": name, "peers": await client.peers()})
            await asyncio.sleep(0.5)
    finally:
        for client in clients.values():
            if client is not None:
                await client.close()


async def test_two_seconds_of_clock_skew_between_honest_nodes_costs_no_link(
    tmp_path: Path,
) -> None:
    # libfaketime really moves the clock a Python process reads, both ways
    for skew in (2.0, -2.0):
        got = measured_skew(skewed_env(skew))
        assert abs(got - skew) < 0.5, f"FAKETIME={skew:+g}s: the process clock is off by {got} s"

    names = list(SKEW_S)
    with Net(tmp_path, funded=names) as net:
        net.start_relay()
        nodes = [net.start_node(n, env=skewed_env(SKEW_S[n])) for n in names]
        by_id = {n.node_id: n for n in nodes}

        async def linked() -> bool:
            for n in nodes:
                client = ControlClient.discover(n.data_dir)
                assert client is not None
                try:
                    peers = await client.peers()
                finally:
                    await client.close()
                if len([p for p in peers if p["open"]]) < 2:
                    return False
            return True

        end = time.monotonic() + 30
        while not await linked():
            assert time.monotonic() < end, "the three nodes never linked up"
            await asyncio.sleep(0.2)

        until = time.monotonic() + RUN_S
        results: dict[str, list[dict[str, Any]]] = {n.name: [] for n in nodes}
        samples: list[dict[str, Any]] = []
        await asyncio.gather(
            *(pay_each_other(n, until, results[n.name]) for n in nodes),
            watch_links(nodes, until, samples),
        )

        # the node processes themselves ran skewed: their notification lines carry their clock
        for n in nodes:
            offsets = [o["t"] - at for o, at in zip(n.lines, n.arrived, strict=True) if "t" in o]
            assert offsets, f"{n.name}: no notifications"
            assert abs(statistics.median(offsets) - SKEW_S[n.name]) < 0.5, (n.name, offsets[:5])

        # every task was paid: settlements flowed from every node, each clock reading
        for name, outs in results.items():
            assert len(outs) >= 5, f"{name}: only {len(outs)} tasks in {RUN_S} s"
            failed = [o["reason"] for o in outs if not o["verified"]]
            assert not failed, f"{name}: tasks failed: {failed[:3]}"

        # one ledger: the flood is immediate, anti-entropy follows within a resync period
        end = time.monotonic() + 40
        while True:
            views = {n.name: net.ledger_events(n.data_dir) for n in nodes}
            if len({v["root"] for v in views.values()}) == 1 or time.monotonic() > end:
                break
            await asyncio.sleep(0.5)
        ids = {name: v["ids"] for name, v in views.items()}
        first = ids[names[0]]
        for name in names[1:]:
            assert ids[name] == first, (
                f"{name} differs from {names[0]}: {len(ids[name] - first)} more, "
                f"{len(first - ids[name])} fewer"
            )
        assert len({v["root"] for v in views.values()}) == 1
        view = views[names[0]]
        assert not view["forks"] and not view["rejected"] and not view["skipped"], view["rejected"]
        paid_by = {n.name: 0 for n in nodes}
        for e in view["events"]:
            for _ in payments(e.body):
                paid_by[next(n.name for n in nodes if n.public_key == e.author)] += 1
        assert all(count >= 10 for count in paid_by.values()), paid_by

    # nobody was scored, cut or refused; every link stayed up the whole time
    for n in nodes:
        log = n.log.read_text()
        bad = [line for line in log.splitlines() if PENALTY.search(line)]
        assert not bad, f"{n.name} penalised an honest peer:\n" + "\n".join(bad[:10])
    last_seen: dict[tuple[str, str], int] = {}
    for s in samples:
        open_to = {p["node_id"] for p in s["peers"] if p["open"]}
        me = next(n for n in nodes if n.name == s["node"])
        assert open_to >= set(by_id) - {me.node_id}, f"{s['node']} lost a link: {s['peers']}"
        for p in s["peers"]:
            key = (s["node"], p["node_id"])
            # a link that was replaced starts counting its bytes from zero again
            assert p["bytes_in"] >= last_seen.get(key, 0), f"{key}: the link was replaced"
            last_seen[key] = p["bytes_in"]
