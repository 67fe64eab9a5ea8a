"""Attack: 100,000 invalid events from one identity. A funded attacker (a grant in the
genesis) claims its grant honestly over a real WebRTC link to a real `edgenet node`, then
sends 100,000 distinct, authentic events that no replica may apply: transfers at its next
seq, each of more than it holds (different amounts and stamps), with a frame of events
with broken signatures after the first frame of them. Admission (`Ledger.admit`) must
store none and pass none on, the attacker's
link must be cut, the victim's memory must stay modest, and the victim must keep working:
paying for a task and working on one afterwards."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.attacker import WireAttacker
from support.netharness import Net, Node

from edgenet_app.core import codec
from edgenet_app.core import economics as econ
from edgenet_app.core.events import ZERO_HASH, Event, GenesisGrant, Transfer
from edgenet_app.core.identity import Identity
from edgenet_app.core.peerwire import MAX_EVENTS_PER_FRAME, Events
from edgenet_app.runtime.control.client import ControlClient

pytestmark = pytest.mark.timeout(240)

INVALID = 100_000
FORGED = MAX_EVENTS_PER_FRAME  # events with a broken signature, the third frame
GRANT = 1000  # credits each funded identity holds (Net's default)
RSS_GROWTH_LIMIT = 50 * 2**20
ENCRYPT = {
    "op": "encrypt",
    "key": base64.b64encode(bytes(range(32))).decode(),
    "nonce": base64.b64encode(bytes(12)).decode(),
    "data": base64.b64encode(b"still working").decode(),
}
PENALTY = re.compile(r"mesh: peer (\S+): |disconnecting (\S+) ")


def overspends(who: Identity, network: bytes, grant: Event, to: bytes) -> list[bytes]:
    """INVALID distinct events at seq 2, each spending more than `who` holds."""
    return [
        Event.create(
            who,
            network,
            2,
            grant.id,
            grant.ts + i % 60_000,
            Transfer(to, (GRANT + 1) * econ.MICRO + i, f"#{i}"),
        ).raw
        for i in range(INVALID)
    ]


def forged(raws: list[bytes]) -> list[bytes]:
    """The same events with one bit of the signature flipped: no longer authentic."""
    out = []
    for raw in raws:
        fields = codec.decode(raw)
        assert isinstance(fields, dict)
        sig = bytearray(fields["sig"])
        sig[7] ^= 1
        out.append(codec.encode({**fields, "sig": bytes(sig)}))
    return out


async def control(node: Node) -> ControlClient:
    client = ControlClient.discover(node.data_dir)
    assert client is not None, f"{node.name}: no control API"
    return client


async def open_links(node: Node) -> int:
    client = await control(node)
    try:
        return len([p for p in await client.peers() if p["open"]])
    finally:
        await client.close()


async def submit(node: Node) -> dict[str, Any]:
    client = await control(node)
    try:
        return await client.submit("encryption", ENCRYPT, redundancy=2, timeout_s=30)
    finally:
        await client.close()


async def sample_rss(pid: int, done: asyncio.Event, peak: list[int]) -> None:
    proc = psutil.Process(pid)
    while not done.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        await asyncio.sleep(0.1)


def scored(node: Node, peer: str) -> list[str]:
    lines = node.log.read_text().splitlines()
    return [line for line in lines if (m := PENALTY.search(line)) and peer in m.groups()]


async def test_a_hundred_thousand_invalid_events_are_neither_stored_nor_passed_on(
    tmp_path: Path,
) -> None:
    with Net(tmp_path, funded=["victim", "b", "c", "attacker"], grant=GRANT) as net:
        net.start_relay()
        honest = [net.start_node(n) for n in ("victim", "b", "c")]
        victim, b, c = honest
        end = time.monotonic() + 30
        while not all([await open_links(n) >= 2 for n in honest]):
            assert time.monotonic() < end, "the three honest nodes never linked up"
            await asyncio.sleep(0.2)

        who = net.identities["attacker"]
        network = net.genesis.network_id
        grant = Event.create(who, network, 1, ZERO_HASH, int(time.time() * 1000), GenesisGrant())
        t0 = time.monotonic()
        invalid = await asyncio.to_thread(overspends, who, network, grant, b.public_key)
        signing_s = time.monotonic() - t0
        assert len(set(invalid)) == INVALID
        bad_sigs = forged(invalid[:FORGED])
        spend_frames = [
            Events(tuple(invalid[i : i + MAX_EVENTS_PER_FRAME])).frame()
            for i in range(0, len(invalid), MAX_EVENTS_PER_FRAME)
        ]
        # a frame of overspends (refused: 8 points), the forged frame (a point each: cut),
        # then the rest, which a cut peer dialling back does not get read
        frames = [Events((grant.raw,)).frame(), spend_frames[0], Events(tuple(bad_sigs)).frame()]
        frames += spend_frames[1:]

        proc = psutil.Process(victim.popen.pid)
        rss_before = proc.memory_info().rss
        cpu_before = sum(proc.cpu_times()[:2])
        peak = [rss_before]
        done = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(victim.popen.pid, done, peak))
        async with WireAttacker(net, who) as attacker:
            sent = await attacker.deliver(victim.public_key, frames, timeout=150)
        await asyncio.sleep(2)  # anything the victim passed on has arrived by now
        done.set()
        await sampler
        rss_after = proc.memory_info().rss
        cpu_s = sum(proc.cpu_times()[:2]) - cpu_before
        assert sent.frames == len(frames), f"only {sent.frames} of {len(frames)} frames read"

        # the grant, claimed honestly, is everywhere; nothing after it anywhere
        held = {
            n.name: sorted(
                e.seq for e in net.ledger_events(n.data_dir)["events"] if e.author == who.public_key
            )
            for n in honest
        }
        assert held == {name: [1] for name in held}, f"the attacker's events held: {held}"

        # every event was judged, refused, and the link scored and cut
        mine = attacker.identity.node_id
        lines = scored(victim, mine)
        refused = [line for line in lines if "refused" in line]
        bad = [line for line in lines if "bad event" in line]
        cuts = [line for line in lines if "disconnecting" in line]
        # the first frame's 256 overspends cost 8 points, the forged frame the rest: cut; the
        # attacker dials straight back and is not served until its score has decayed
        assert len(refused) >= MAX_EVENTS_PER_FRAME // 32, f"{len(refused)} points"
        assert bad, f"no point for broken signatures: {lines[-3:]}"
        assert cuts and sent.cuts >= 1, f"the attacker's link was never cut: {sent}"
        assert sent.dials > 1 and f"refusing a link from {mine}" in victim.log.read_text()
        # the victim passed nothing on that its honest peers had to refuse
        for n in (b, c):
            assert not scored(n, victim.node_id), f"{n.name} scored the victim"

        growth = rss_after - rss_before
        assert peak[0] - rss_before < RSS_GROWTH_LIMIT, (rss_before, peak[0], rss_after)

        # and it keeps working: it pays for a task, and works on one
        paid = await submit(victim)
        assert paid["verified"], paid
        worked = await submit(b)
        assert worked["verified"] and victim.node_id in worked["workers"], worked
        print(
            f"signed {INVALID} invalid events in {signing_s:.1f} s; delivered {sent.frames} "
            f"frames in {sent.seconds:.1f} s over {sent.dials} links ({sent.cuts} cut, "
            f"{sent.timeouts} timeouts); victim refusal points {len(refused)}, bad-event "
            f"points {len(bad)}, cut {len(cuts)} times; victim CPU {cpu_s:.1f} s; RSS "
            f"{rss_before / 2**20:.1f} MiB before, peak {peak[0] / 2**20:.1f}, after "
            f"{rss_after / 2**20:.1f} ({growth / 2**20:+.1f})"
        )
