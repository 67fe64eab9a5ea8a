"""Attack: a full disk under a node that is writing ledger events, then a restart while it
is cut off from every peer. A node whose disk filled up must never sign two events at one
seq (a fork of its own chain, which any peer could prove and slash): not while the disk is
full, not after a restart that may have lost what it could not write, not once it meets
its peers again.

The victim's data dir is a small tmpfs (we run as root). It pays two real peers for tasks
until its writes fail, keeps working and paying while the disk is full (a newcomer links
up then, so whatever the victim holds in memory, written or not, reaches a peer), is
stopped, restarted with no peer reachable (the relay up, every other node down: `edgenet
node` does not start without a relay), given room again, and left to append (its stake,
which it now sets aside), then meets its peers again. A node that holds an event it could
not write, or that waits to learn its chain's head from peers before signing, passes or
fails this test only by whether a chain forks."""

from __future__ import annotations

import asyncio
import base64
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.netharness import Net, Node

from edgenet_app.core.identity import node_id_of
from edgenet_app.runtime.control.client import ControlClient, ControlError

pytestmark = pytest.mark.timeout(180)

DISK = "8m"  # the victim's tmpfs
ENCRYPT = {
    "op": "encrypt",
    "key": base64.b64encode(bytes(range(32))).decode(),
    "nonce": base64.b64encode(bytes(12)).decode(),
    "data": base64.b64encode(b"is there room for one more").decode(),
}
FULL = "database or disk is full"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A DISK-sized tmpfs at tmp_path/victim, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs: run it as root (CI does)")
    where = tmp_path / "victim"
    where.mkdir(mode=0o700)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Fill `disk` to its last byte with a ballast file; return the file."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    return ballast


async def submit(node: Node, *, timeout_s: float = 20) -> dict[str, Any] | None:
    """One small task through `node`'s control API; None if the node refused it."""
    client = ControlClient.discover(node.data_dir)
    assert client is not None, f"{node.name}: no control API"
    try:
        return await client.submit("encryption", ENCRYPT, redundancy=2, timeout_s=timeout_s)
    except ControlError:
        return None
    finally:
        await client.close()


async def open_links(node: Node) -> int:
    client = ControlClient.discover(node.data_dir)
    if client is None:
        return 0
    try:
        return len([p for p in await client.peers() if p["open"]])
    except ControlError:
        return 0
    finally:
        await client.close()


async def wait_for(cond: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not await cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def no_fork(views: dict[str, dict[str, Any]]) -> None:
    """Not one (author, seq) with two events in any node's ledger."""
    for name, v in views.items():
        twins = [
            f"{node_id_of(author)} seq {seq}: " + ", ".join(sorted(i.hex()[:16] for i in ids))
            for (author, seq), ids in v["at"].items()
            if len(ids) > 1
        ]
        assert not twins and not v["forks"], f"{name} holds a fork: {twins or v['forks']}"


async def test_a_full_disk_then_a_partitioned_restart_never_forks_a_chain(
    tmp_path: Path, small_disk: Path
) -> None:
    names = ["victim", "b", "c", "d"]
    with Net(tmp_path, funded=names) as net:
        net.start_relay()
        b, c = net.start_node("b"), net.start_node("c")
        # no stake yet: the victim stakes (an append) after its restart
        victim = net.start_node("victim", "--no-auto-stake")
        me = victim.public_key

        async def linked() -> bool:
            return await open_links(victim) >= 2

        await wait_for(linked, 30, "the victim to link up")
        for _ in range(3):  # the disk has room: paid as usual
            out = await submit(victim)
            assert out is not None and out["verified"], out

        # the disk fills up; the victim keeps paying and working (the others pay it)
        ballast = fill(small_disk)

        async def paying(node: Node, n: int) -> list[dict[str, Any] | None]:
            return [await submit(node) for _ in range(n)]

        async def full_reported() -> bool:
            return FULL in victim.log.read_text()

        end = time.monotonic() + 30
        while not await full_reported():
            assert time.monotonic() < end, "the victim's writes never failed:\n" + victim.tail()
            await asyncio.gather(paying(victim, 3), paying(b, 1), paying(c, 1))
        unpaid, _, _ = await asyncio.gather(paying(victim, 5), paying(b, 3), paying(c, 3))
        assert victim.popen.poll() is None, "the victim died of a full disk:\n" + victim.tail()
        full_lines = [line for line in victim.log.read_text().splitlines() if FULL in line]

        # a newcomer joins while the disk is full: on connect the two exchange version
        # vectors, so it gets whatever the victim holds, written or not
        d = net.start_node("d")

        async def met() -> bool:
            return await open_links(victim) >= 3 and await open_links(d) >= 3

        await wait_for(met, 30, "the newcomer to link up")
        await asyncio.gather(paying(victim, 2), paying(d, 2))
        await asyncio.sleep(1)

        # stop the victim on its full disk, and cut it off: every peer goes down
        assert victim.stop() is not None, "the victim did not stop on SIGTERM"
        for peer in (b, c, d):
            assert peer.stop() == 0
        heads = {
            name: max(
                (seq for (author, seq) in net.ledger_events(net.tmp / name)["at"] if author == me),
                default=0,
            )
            for name in ("b", "c", "d")
        }

        # restarted alone (the relay is up, nobody else is), the disk still full: it may
        # refuse to start, saying why, or start and fail its writes
        try:
            again = net.start_node("victim", "--auto-stake")
        except AssertionError as exc:  # it exited before "ready"
            refusal = str(exc)
            assert "exit 1" in refusal and FULL in refusal, refusal
            started_full = False
            ballast.unlink()  # room again
            again = net.start_node("victim", "--auto-stake")
        else:
            started_full = True
            await asyncio.sleep(3)
            assert again.popen.poll() is None, again.tail()
            ballast.unlink()  # room again

        def staked() -> bool:
            v = net.ledger_events(small_disk)
            return any(e.author == me and e.kind == "stake" for e in v["events"])

        end = time.monotonic() + 10
        while not staked() and time.monotonic() < end:
            await asyncio.sleep(0.5)
        appended_alone = staked()  # or it waits to learn its head from its peers: fine too
        alone = net.ledger_events(small_disk)
        no_fork({"victim": alone})

        # back together
        b, c, d = net.start_node("b"), net.start_node("c"), net.start_node("d")

        async def all_linked() -> bool:
            return await open_links(again) >= 3

        await wait_for(all_linked, 30, "the victim to meet its peers again")
        out = await submit(again)  # and it pays them once more
        assert out is not None and out["verified"], out

        end = time.monotonic() + 40
        while True:
            views = {n: net.ledger_events(net.tmp / n) for n in names}
            if len({v["root"] for v in views.values()}) == 1 and all(
                any(e.author == me and e.kind == "stake" for e in v["events"])
                for v in views.values()
            ):
                break
            if time.monotonic() > end:
                break
            await asyncio.sleep(0.5)
        no_fork(views)
        roots = {n: v["root"] for n, v in views.items()}
        assert len(set(roots.values())) == 1, roots
        assert all(views[n]["ids"] == views["victim"]["ids"] for n in names)
        # every event of the victim is accepted by all: one unbroken chain, none rejected
        mine = sorted(e.seq for e in views["b"]["events"] if e.author == me)
        assert mine == list(range(1, len(mine) + 1)), mine
        assert mine[-1] > max(heads.values())
        for n in names:
            assert not views[n]["rejected"], (n, views[n]["rejected"])
        balances = [net.ledger_view(net.tmp / n)["totals"] for n in names]
        assert all(b == balances[0] for b in balances[1:])
        print(
            f"victim head before the restart: {heads}; after: {mine[-1]}; "
            f"started on the full disk: {started_full}; appended while cut off: {appended_alone}; "
            f"first full-disk message: {full_lines[0][:160]}; "
            f"the victim's tasks while full: {[(o or {}).get('cost_micro') for o in unpaid]}"
        )
