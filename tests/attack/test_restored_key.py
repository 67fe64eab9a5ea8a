"""Attack (on oneself): a funded key restored into an empty data dir, then used. The owner
of a funded node that has paid for tasks (its chain holds several events) exports its key
with `edgenet identity export`, stops the node and imports the key into a fresh data dir
with `edgenet identity import` (a new machine, a lost disk). The restored node holds none
of its own chain: were it to sign at once, it would claim its grant again and sign at seqs
the network already holds, a fork any peer could prove and slash. It must sign nothing
until a peer has shown it its chain (`LedgerStore.learning`), then go on from the old head:
no equivocation in any ledger, its new events extending the old head, every replica
agreeing on the balances.

Two ways: restored while its peers are up, and restored while none is (the relay up, every
peer stopped), where it must refuse to pay for a task, saying why, until they come back."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from support.netharness import EDGENET, Net, Node

from edgenet_app.core.identity import node_id_of
from edgenet_app.runtime.control.client import ControlClient

pytestmark = pytest.mark.timeout(180)

ENCRYPT = {
    "op": "encrypt",
    "key": base64.b64encode(bytes(range(32))).decode(),
    "nonce": base64.b64encode(bytes(12)).decode(),
    "data": base64.b64encode(b"who signed this").decode(),
}
LEARNING = "still being learned from peers"  # what a refused submit says


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EDGENET, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def submit(node: Node) -> dict[str, Any]:
    client = ControlClient.discover(node.data_dir)
    assert client is not None, f"{node.name}: no control API"
    try:
        return await client.submit("encryption", ENCRYPT, redundancy=2, timeout_s=30)
    finally:
        await client.close()


async def open_links(node: Node) -> int:
    client = ControlClient.discover(node.data_dir)
    assert client is not None, f"{node.name}: no control API"
    try:
        return len([p for p in await client.peers() if p["open"]])
    finally:
        await client.close()


async def wait_for(cond: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not await cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def chain(net: Net, data_dir: Path, author: bytes) -> dict[int, set[bytes]]:
    """seq -> the ids one node's ledger holds of `author` at that seq."""
    out: dict[int, set[bytes]] = {}
    for (who, seq), ids in net.ledger_events(data_dir)["at"].items():
        if who == author:
            out[seq] = ids
    return out


def short(held: dict[int, set[bytes]]) -> dict[int, list[str]]:
    return {seq: sorted(i.hex()[:12] for i in ids) for seq, ids in sorted(held.items())}


async def first_life(net: Net) -> tuple[Node, list[Node], dict[int, set[bytes]]]:
    """The owner pays for tasks with two workers; returns it, them and its chain as both
    workers hold it (after they agree on it)."""
    net.start_relay()
    workers = [net.start_node("w1"), net.start_node("w2")]
    owner = net.start_node("owner")

    async def linked() -> bool:
        return await open_links(owner) >= 2

    await wait_for(linked, 30, "the owner to link up")
    for _ in range(3):
        out = await submit(owner)
        assert out["verified"], out
    me = owner.public_key
    end = time.monotonic() + 30
    while True:
        held = [chain(net, n.data_dir, me) for n in (owner, *workers)]
        if (all(h == held[0] for h in held) and len(held[0]) >= 3) or time.monotonic() > end:
            break
        await asyncio.sleep(0.3)
    assert all(h == held[0] for h in held), held
    assert sorted(held[0]) == list(range(1, len(held[0]) + 1)), held[0]
    assert all(len(ids) == 1 for ids in held[0].values())
    return owner, workers, held[0]


def restore(net: Net, owner: Node) -> Path:
    """Export the owner's key, stop it, import the key into an empty data dir (the CLI)."""
    backup = net.tmp / "backup.key"
    done = cli(owner.data_dir, "identity", "export", "--out", str(backup))
    assert done.returncode == 0, done.stderr
    assert owner.stop() == 0
    restored = net.tmp / "restored"
    done = cli(restored, "identity", "import", str(backup), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["node_id"] == owner.node_id
    return restored


def check_one_chain(
    net: Net, dirs: dict[str, Path], me: bytes, old: dict[int, set[bytes]]
) -> list[dict[str, Any]]:
    """No fork anywhere; the owner's chain is the old one extended; one ledger."""
    views = {name: net.ledger_events(d) for name, d in dirs.items()}
    for name, v in views.items():
        twins = [(node_id_of(a), s) for (a, s), ids in v["at"].items() if len(ids) > 1]
        assert not twins and not v["forks"], f"{name} holds a fork: {twins or v['forks']}"
        assert not v["rejected"], (name, v["rejected"])
    roots = {name: v["root"] for name, v in views.items()}
    assert len(set(roots.values())) == 1, roots
    mine = sorted((e for e in views["restored"]["events"] if e.author == me), key=lambda e: e.seq)
    assert [e.seq for e in mine] == list(range(1, len(mine) + 1))
    head = max(old)
    assert len(mine) > head, "the restored node signed nothing"
    assert {e.seq: {e.id} for e in mine[:head]} == old, "the old chain was rewritten"
    assert mine[head].prev == next(iter(old[head])), "the new events do not extend the old head"
    grants = [e for e in mine if e.kind == "genesis_grant"]
    assert [e.seq for e in grants] == [1], f"the grant claimed at seqs {[e.seq for e in grants]}"
    balances = [net.ledger_view(d)["totals"] for d in dirs.values()]
    assert all(b == balances[0] for b in balances[1:]), balances
    return list(views.values())


async def converged(net: Net, dirs: dict[str, Path], me: bytes, seqs: int) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        views = [net.ledger_events(d) for d in dirs.values()]
        if len({v["root"] for v in views}) == 1 and all(
            len([k for k in v["at"] if k[0] == me]) > seqs for v in views
        ):
            return
        await asyncio.sleep(0.3)


async def pay_and_check(
    net: Net,
    restored: Node,
    restored_dir: Path,
    workers: list[Node],
    me: bytes,
    old: dict[int, set[bytes]],
) -> None:
    """Linked again, the restored node pays for a task; every node then holds one chain of
    it: the old head, then what it signed since, with no fork."""

    async def linked() -> bool:
        return await open_links(restored) >= 2

    await wait_for(linked, 30, "the restored node to link up")
    out = await submit(restored)
    assert out["verified"] and out["cost_micro"] > 0, out
    dirs = {"restored": restored_dir, **{w.name: w.data_dir for w in workers}}
    await converged(net, dirs, me, max(old))
    check_one_chain(net, dirs, me, old)


async def test_a_restored_key_learns_its_chain_from_its_peers_and_never_forks_it(
    tmp_path: Path,
) -> None:
    with Net(tmp_path, funded=["owner", "w1", "w2"]) as net:
        owner, workers, old = await first_life(net)
        me = owner.public_key
        restored_dir = restore(net, owner)
        # stopping wrote what its last settlements batch held, and passed it on
        old = chain(net, owner.data_dir, me)
        end = time.monotonic() + 10
        while any(chain(net, w.data_dir, me) != old for w in workers):
            assert time.monotonic() < end, "a worker lacks the owner's last event"
            await asyncio.sleep(0.3)

        restored = net.start_node("restored")  # its peers are up: it learns while starting
        assert restored.node_id == owner.node_id
        # it signed nothing at a held seq, nor its grant again: what it holds is the old chain
        held = chain(net, restored_dir, me)
        assert held == old, f"restored: {short(held)}; before: {short(old)}"
        assert "learned this identity's chain" in restored.tail(20_000), restored.tail()

        await pay_and_check(net, restored, restored_dir, workers, me, old)
        print(f"old head #{max(old)}; after the restore: {len(chain(net, restored_dir, me))}")


async def test_a_key_restored_with_no_peer_online_signs_nothing_until_they_return(
    tmp_path: Path,
) -> None:
    with Net(tmp_path, funded=["owner", "w1", "w2"]) as net:
        owner, workers, old = await first_life(net)
        me = owner.public_key
        for w in workers:
            assert w.stop() == 0
        restored_dir = restore(net, owner)

        # the relay is up, no peer is: it starts (after waiting to learn) but signs nothing
        restored = net.start_node("restored")
        payload = tmp_path / "payload.json"
        payload.write_text(json.dumps(ENCRYPT))
        refused = cli(
            restored_dir,
            "submit",
            *("--network", str(net.network), "--type", "encryption"),
            *("--payload-file", str(payload), "--redundancy", "2", "--timeout", "20"),
        )
        assert refused.returncode != 0, refused.stdout
        assert LEARNING in refused.stderr, refused.stderr
        await asyncio.sleep(2)
        alone = chain(net, restored_dir, me)
        assert alone == {}, f"it signed with no chain to follow: {short(alone)}"

        # its peers come back: it learns its chain, then signs on from the old head
        workers = [net.start_node("w1"), net.start_node("w2")]
        end = time.monotonic() + 30
        while "learned this identity's chain" not in restored.tail(50_000):
            assert time.monotonic() < end, "it never learned its chain:\n" + restored.tail()
            await asyncio.sleep(0.2)

        await pay_and_check(net, restored, restored_dir, workers, me, old)
        print(
            f"old head #{max(old)}; refused while alone: {refused.stderr.strip()[:200]}; "
            f"after: {len(chain(net, restored_dir, me))}"
        )
