"""Faults on a network of real processes: a worker killed mid-task, a worker that lies,
a relay that restarts, and garbage sent to the relay and over data channels."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.netharness import Net

from edgenet_app.core.activity import Policy
from edgenet_app.core.events import payments
from edgenet_app.core.identity import Identity
from edgenet_app.core.peerwire import Events, Gossip
from edgenet_app.core.submit import SubmitRequest
from edgenet_app.runtime.net.relay_client import RelayClient
from edgenet_app.runtime.net.webrtc import PeerHub
from edgenet_app.runtime.node import Node, NodeOptions

pytestmark = pytest.mark.timeout(240)

FIXTURES = Path(__file__).resolve().parents[1] / "support" / "fixtures"
ENCRYPT = {
    "op": "encrypt",
    "key": base64.b64encode(bytes(range(32))).decode(),
    "nonce": base64.b64encode(bytes(12)).decode(),
    "data": base64.b64encode(b"hello network").decode(),
}


async def wait_for(cond: Any, timeout: float = 20, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(step)
    return False


async def submitter(net: Net, tmp: Path, peers: int) -> Node:
    # settlements are counted exactly: no background spot-checks
    opts = NodeOptions(
        relays=(net.url,), loopback=True, spot_check_rate=0.0, policy=Policy(max_other_cpu=1.0)
    )
    sub = Node(tmp / "submitter", net.genesis, opts)
    await sub.start()
    assert await wait_for(lambda: len(sub.stats().peers) >= peers), sub.stats()
    return sub


def explain(out: Any, workers: list[Any]) -> str:
    """A failed task's reason with what each worker logged (which part went wrong)."""
    tails = "\n".join(f"--- {w.node_id}\n{w.tail(3000)}" for w in workers)
    return f"{out.reason}\n{tails}"


async def converged(net: Net, dirs: list[Path], timeout: float = 10) -> list[dict[str, Any]]:
    end = time.monotonic() + timeout
    while True:
        views = [await asyncio.to_thread(net.ledger_view, d) for d in dirs]
        if len({v["root"] for v in views}) == 1 or time.monotonic() > end:
            return views
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_task_is_replaced_and_nobody_is_paid_twice(
    tmp_path: Path, model: Path
) -> None:
    with Net(tmp_path, funded=["submitter", "w0", "w1", "w2", "w3"]) as net:
        net.start_relay()
        workers = [net.start_node(f"w{i}") for i in range(4)]
        by_key = {w.public_key: w for w in workers}
        sub = await submitter(net, tmp_path, 4)
        try:
            texts = [f"sentence number {i} about distributed computing" for i in range(150)]
            job = asyncio.ensure_future(
                # workers run at idle priority: on a busy CI machine they are slow, so the
                # assignment timeout (half of this) leaves room
                sub.submit(SubmitRequest("embedding", {"texts": texts}, redundancy=3, timeout_s=90))
            )
            flows: list[Any] = []

            def three_assigned() -> bool:
                flows[:] = [f for f, _ in sub.submitter.flows.values() if len(f.assigned) == 3]
                return bool(flows)

            assert await wait_for(three_assigned, 20)
            victim = by_key[next(iter(flows[0].assigned))]
            victim.kill()  # SIGKILL: no goodbye, its links just go silent
            out = await job
            assert out.verified, explain(out, workers)
            assert victim.node_id not in out.workers and len(set(out.workers)) == 3
            survivors = [w for w in workers if w is not victim]
            views = await converged(net, [tmp_path / "submitter", *(w.data_dir for w in survivors)])
            assert len({v["root"] for v in views}) == 1
            assert sub.ledger is not None
            paid = [
                pay.worker
                for e in sub.ledger.ledger.events()
                if e.author == sub.identity.public_key  # type: ignore[union-attr]
                for pay in payments(e.body)
            ]
            assert len(paid) == len(set(paid)) == 3 and victim.public_key not in paid
        finally:
            await sub.stop()


async def test_a_lying_worker_is_outvoted_and_slashed_in_every_ledger(tmp_path: Path) -> None:
    names = ["w0", "w1", "w2", "evil"]
    with Net(tmp_path, funded=["submitter", *names]) as net:
        net.start_relay()
        honest = [net.start_node(n) for n in names[:3]]
        evil = net.start_node(
            "evil",
            args=[
                sys.executable,
                str(FIXTURES / "evil_node.py"),
                str(tmp_path / "evil"),
                str(net.network),
                net.url,
            ],
        )
        sub = await submitter(net, tmp_path, 4)
        try:
            # redundancy 4 with 4 workers: the liar is always one of them, 3 honest outvote it
            out = await sub.submit(SubmitRequest("encryption", ENCRYPT, redundancy=4, timeout_s=30))
            assert out.verified and evil.node_id not in out.workers and len(out.workers) == 3
            assert "forged" not in out.result
            dirs = [tmp_path / "submitter", *(n.data_dir for n in (*honest, evil))]
            views = await converged(net, dirs)
            assert len({v["root"] for v in views}) == 1
            for v in views:
                assert v["offences"][evil.public_key.hex()] == 1  # the slash is everywhere
                assert v["burned"] > 0 and v["supply"] == v["minted"] - v["burned"]
                assert all(v["offences"][n.public_key.hex()] == 0 for n in honest)
        finally:
            await sub.stop()


async def test_nodes_reconnect_after_the_relay_restarts(tmp_path: Path) -> None:
    with Net(tmp_path, funded=["submitter", "w0", "w1", "w2"]) as net:
        net.start_relay()
        port = net.relay_port
        workers = [net.start_node(f"w{i}") for i in range(3)]
        assert net.relay is not None
        net.relay.kill()
        await asyncio.sleep(1.0)
        net.start_relay(port)  # same address: the nodes find it again with backoff
        assert net.relay_port == port
        # a newcomer learns of the old nodes only through the new relay
        sub = await submitter(net, tmp_path, 3)
        try:
            out = await sub.submit(SubmitRequest("encryption", ENCRYPT, redundancy=3, timeout_s=30))
            assert out.verified and set(out.workers) == {w.node_id for w in workers}
        finally:
            await sub.stop()
        for w in workers:
            assert w.popen.poll() is None


async def test_garbage_to_the_relay_and_over_data_channels_is_dropped(tmp_path: Path) -> None:
    with Net(tmp_path, funded=["submitter", "w0", "w1"]) as net:
        net.start_relay()
        workers = [net.start_node(f"w{i}") for i in range(2)]
        # 1. raw bytes that are not HTTP, then a websocket that speaks nonsense
        with socket.create_connection(("127.0.0.1", net.relay_port), timeout=5) as s:
            s.sendall(os.urandom(4096))
        stranger = Identity.generate()
        client = RelayClient(net.url, stranger, net.genesis.network_id)
        await client.connect()
        for junk in (b"", os.urandom(64), b"\x81" * 1000, "not msgpack"):
            try:
                await client.send_raw(junk)
            except Exception:  # the relay may already have dropped us: that is the point
                break
        await client.close()
        # 2. an authenticated peer that sends garbage frames over a real data channel
        client = RelayClient(net.url, stranger, net.genesis.network_id)
        await client.connect()
        hub = PeerHub(client, timeout_s=15)
        hub.start()
        try:
            link = await hub.connect(workers[0].public_key)
            hostile = [
                os.urandom(200),
                b"\x00",
                Events((os.urandom(300),)).frame(),  # an "event" that is not one
                Gossip(os.urandom(16), stranger.public_key, 3, "announce", b"junk").frame(),
            ]
            for frame in hostile * 4:
                try:
                    await link.send(frame)
                except Exception:
                    break  # the node gave up on us after enough bad frames
            closed = await wait_for(lambda: not link.open, 20)
            assert closed, "a peer sending garbage should be disconnected"
        finally:
            await hub.close()
        # 3. the network still works
        sub = await submitter(net, tmp_path, 2)
        try:
            out = await sub.submit(SubmitRequest("encryption", ENCRYPT, redundancy=2, timeout_s=30))
            assert out.verified
        finally:
            await sub.stop()
        for w in workers:
            assert w.popen.poll() is None, w.tail()
        assert net.relay is not None and net.relay.popen.poll() is None


async def test_sigterm_hands_back_running_tasks_and_exits_cleanly(
    tmp_path: Path, model: Path
) -> None:
    with Net(tmp_path, funded=["submitter", "w0", "w1", "w2"]) as net:
        net.start_relay()
        workers = [net.start_node(f"w{i}") for i in range(3)]
        by_key = {w.public_key: w for w in workers}
        sub = await submitter(net, tmp_path, 3)
        try:
            # ~1.5 s of CPU: still running when SIGTERM arrives a few ms after the
            # assignment, short enough for the replacement on a busy machine (workers run
            # at idle priority)
            texts = [f"a longer sentence number {i} to keep a worker busy" for i in range(96)]
            job = asyncio.ensure_future(
                sub.submit(
                    SubmitRequest("embedding", {"texts": texts}, redundancy=2, timeout_s=120)
                )
            )
            flows: list[Any] = []

            def two_assigned() -> bool:
                flows[:] = [f for f, _ in sub.submitter.flows.values() if len(f.assigned) == 2]
                return bool(flows)

            assert await wait_for(two_assigned, 20)
            victim = by_key[next(iter(flows[0].assigned))]
            t0 = time.monotonic()
            # in a thread: the submitter keeps serving its links while the victim stops
            assert await asyncio.to_thread(victim.stop, 15) == 0  # SIGTERM: exit status 0
            assert time.monotonic() - t0 < 10
            assert any(o.get("event") == "stopped" for o in victim.lines)
            out = await job
            assert out.verified, explain(out, workers)
            assert victim.node_id not in out.workers and len(out.workers) == 2
        finally:
            await sub.stop()
