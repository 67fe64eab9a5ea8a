"""Attack: identities are free, so write with 10,000 of them. An attacker (its own identity,
a real WebRTC link through the relay to a real `edgenet node`) sends events signed by
10,000 fresh identities, each at seq 1: a genesis grant the genesis does not give, a
referral, a transfer of credits it never had. Writing costs a credit (`Ledger.admit`,
core/ledger.py): the victim must store none of them and pass none on, the honest links
around it must stay up, the attacker's link must be cut (it passes on nothing but refused
events), and afterwards a newcomer must sync the ledger and a task with three workers must
verify."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.attacker import WireAttacker
from support.netharness import Net, Node

from edgenet_app.core import economics as econ
from edgenet_app.core.events import ZERO_HASH, Event, GenesisGrant, Referral, Transfer
from edgenet_app.core.identity import Identity, node_id_of
from edgenet_app.core.peerwire import MAX_EVENTS_PER_FRAME, Events
from edgenet_app.runtime.control.client import ControlClient

pytestmark = pytest.mark.timeout(180)

IDENTITIES = 10_000
ENCRYPT = {
    "op": "encrypt",
    "key": base64.b64encode(bytes(range(32))).decode(),
    "nonce": base64.b64encode(bytes(12)).decode(),
    "data": base64.b64encode(b"who wrote all this").decode(),
}
# what a node logs when it scores a peer or cuts its link (runtime/net/mesh.py `_penalise`)
PENALTY = re.compile(r"mesh: peer (\S+): |disconnecting (\S+) ")


def spam(network: bytes, victim: bytes, other: bytes) -> list[bytes]:
    """One event at seq 1 from each of IDENTITIES fresh identities, all authentic."""
    now = int(time.time() * 1000)
    bodies = (GenesisGrant(), Referral(victim), Transfer(other, econ.MICRO))
    return [
        Event.create(
            Identity(os.urandom(32)), network, 1, ZERO_HASH, now + i % 1000, bodies[i % 3]
        ).raw
        for i in range(IDENTITIES)
    ]


async def peers_of(node: Node) -> list[dict[str, Any]]:
    client = ControlClient.discover(node.data_dir)
    assert client is not None, f"{node.name}: no control API"
    try:
        return await client.peers()
    finally:
        await client.close()


async def watch_links(nodes: list[Node], done: asyncio.Event, seen: list[dict[str, Any]]) -> None:
    """Sample every node's links (`/v1/peers`) until `done`, and once more after."""
    while True:
        finished = done.is_set()
        for n in nodes:
            seen.append({"node": n, "peers": await peers_of(n)})
        if finished:
            return
        await asyncio.sleep(0.2)


def penalties(node: Node) -> list[tuple[str, str]]:
    """(peer node id, log line) of every score or cut `node` logged."""
    out = []
    for line in node.log.read_text().splitlines():
        m = PENALTY.search(line)
        if m:
            out.append((m.group(1) or m.group(2), line))
    return out


async def test_ten_thousand_free_identities_write_nothing_and_break_no_honest_link(
    tmp_path: Path,
) -> None:
    with Net(tmp_path, funded=["victim", "b", "c", "newcomer"]) as net:
        net.start_relay()
        honest = [net.start_node(n) for n in ("victim", "b", "c")]
        victim, b, _ = honest
        by_id = {n.node_id: n for n in honest}

        async def linked() -> bool:
            return all([len([p for p in await peers_of(n) if p["open"]]) >= 2 for n in honest])

        end = time.monotonic() + 30
        while not await linked():
            assert time.monotonic() < end, "the three honest nodes never linked up"
            await asyncio.sleep(0.2)

        t0 = time.monotonic()
        raws = await asyncio.to_thread(
            spam, net.genesis.network_id, victim.public_key, b.public_key
        )
        signing_s = time.monotonic() - t0
        authors = {Event.decode(r).author for r in raws[:: IDENTITIES // 100]}
        frames = [
            Events(tuple(raws[i : i + MAX_EVENTS_PER_FRAME])).frame()
            for i in range(0, len(raws), MAX_EVENTS_PER_FRAME)
        ]
        rss_before = psutil.Process(victim.popen.pid).memory_info().rss

        samples: list[dict[str, Any]] = []
        done = asyncio.Event()
        watcher = asyncio.create_task(watch_links(honest, done, samples))
        async with WireAttacker(net) as attacker:
            sent = await attacker.deliver(victim.public_key, frames, timeout=60)
        await asyncio.sleep(2)  # anything the victim passed on has arrived by now
        done.set()
        await watcher
        rss_after = psutil.Process(victim.popen.pid).memory_info().rss
        assert sent.frames == len(frames), f"only {sent.frames} of {len(frames)} frames read"

        # stored nowhere, passed on to nobody
        views = {n.name: net.ledger_events(n.data_dir) for n in honest}
        spam_ids = {Event.decode(r).id for r in raws[:: IDENTITIES // 1000]}
        held = {name: len(v["ids"] & spam_ids) for name, v in views.items()}
        assert held == dict.fromkeys(held, 0), f"spam stored (of 1,000 sampled ids): {held}"
        for name, v in views.items():
            assert not any(e.author in authors for e in v["events"]), f"{name} stored spam"
            assert len(v["events"]) < 50, (name, len(v["events"]))

        # the victim judged every event, refused each, scored the link and cut it
        me = node_id_of(attacker.identity.public_key)
        scored = [line for who, line in penalties(victim) if who == me]
        refusals = [line for line in scored if "refused" in line]
        cut = [line for line in scored if "disconnecting" in line]
        # a point per 32 refusals on a link: cut at 10; dialling straight back, it is not
        # served until its score has decayed (a point a minute)
        assert len(refusals) >= 10, f"{len(refusals)} points"
        assert cut and sent.cuts >= 1, f"the attacker's link was never cut: {sent}"
        assert sent.dials > 1 and f"refusing a link from {me}" in victim.log.read_text()

        # honest links: never scored, never closed, never replaced
        for n in honest:
            blamed = [line for who, line in penalties(n) if who in by_id]
            assert not blamed, f"{n.name} penalised an honest peer:\n" + "\n".join(blamed[:5])
        last_seen: dict[tuple[str, str], int] = {}
        for s in samples:
            me_node: Node = s["node"]
            open_to = {p["node_id"] for p in s["peers"] if p["open"]}
            assert open_to >= set(by_id) - {me_node.node_id}, f"{me_node.name}: {s['peers']}"
            for p in s["peers"]:
                if p["node_id"] not in by_id:
                    continue
                key = (me_node.name, p["node_id"])
                assert p["bytes_in"] >= last_seen.get(key, 0), f"{key}: the link was replaced"
                last_seen[key] = p["bytes_in"]

        # a newcomer syncs the same ledger, then a task with three workers verifies
        newcomer = net.start_node("newcomer")
        everyone = [*honest, newcomer]
        end = time.monotonic() + 40
        while True:
            views = {n.name: net.ledger_events(n.data_dir) for n in everyone}
            roots = {v["root"] for v in views.values()}
            synced = len(roots) == 1 and any(
                e.author == victim.public_key for e in views["newcomer"]["events"]
            )
            if synced or time.monotonic() > end:
                break
            await asyncio.sleep(0.5)
        assert synced, {name: (v["root"][:16], len(v["ids"])) for name, v in views.items()}
        assert not any(e.author in authors for e in views["newcomer"]["events"])
        client = ControlClient.discover(newcomer.data_dir)
        assert client is not None
        try:
            out = await client.submit("encryption", ENCRYPT, redundancy=3, timeout_s=30)
        finally:
            await client.close()
        assert out["verified"], out
        assert set(out["workers"]) == set(by_id), out
        print(
            f"signed {IDENTITIES} events in {signing_s:.1f} s; delivered {sent.frames} frames "
            f"in {sent.seconds:.1f} s over {sent.dials} links ({sent.cuts} cut, after frames "
            f"{sent.cut_after[:5]}...); victim refusal points {len(refusals)}, cuts "
            f"{len(cut)}; victim RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB; "
            f"ledger {len(views['victim']['ids'])} events"
        )
