"""Network benchmark on loopback: real relay and node processes, real WebRTC.

    python benchmarks/network.py [--nodes 3] [--submitters 6] [--tasks 200] [--idle-window 60]
                                 [--propagation-nodes 20] [--settlements 20]

Phase 1 (a relay, `--nodes` contributor processes at --cpu-limit 1.0, `--submitters`
in-process submitter nodes used in turn, each kept under the workers' per-submitter rate
limit of economics.MAX_TASKS_PER_MINUTE): node start-to-ready time; submit→verified latency
p50/p99 for small tasks at redundancy 1 and 3; tasks/min with every contributor and with one
contributor (the others paused through their control API), with the contributors' RSS (node
process and worker processes) sampled meanwhile; idle RSS once the workers have scaled to
zero; idle bytes per minute on a peer link.

Phase 2 (a relay, `--propagation-nodes` node processes at --cpu-limit 0.3, an in-process
submitter): once the mesh has formed, `--settlements` tasks at redundancy 1, one after
another; for every (settlement, node) pair, the time from the submitter appending the
settlement to that node adding it (the "t" of the node's {"event": "ledger"} line).

Every figure is printed next to its target (BRIEF.md "Targets"), and a summary table ends
the run. `--nodes 0` or `--propagation-nodes 0` skips a phase. All processes are ended
(SIGTERM, then SIGKILL) and the temporary directory removed, errors or not.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import logging
import math
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
from _procs import NodeProc, Proc, RelayProc, cpu_s, stop_all

from edgenet_app.core import economics as econ
from edgenet_app.core.activity import Policy
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.core.notifications import LedgerNote, Notification
from edgenet_app.core.submit import SubmitRequest
from edgenet_app.core.taskflow.common import TokenBucket
from edgenet_app.runtime.node import Node, NodeOptions
from edgenet_app.runtime.store import keystore
from edgenet_app.runtime.store.networks import write_network

PAYLOAD = {"op": "encrypt", "key": "A" * 43 + "=", "nonce": "A" * 16, "data": "aGVsbG8="}
WARMUP = 5
WARMUP_MAX = 60
WARMUP_BURST = 8  # concurrent warm-up tasks per contributor
SCALE_DOWN_S = 35  # workers scale to zero after 30 s without work (NodeOptions.idle_timeout_s)
MESH_TIMEOUT_S = 90.0
SUBMIT_TIMEOUT_S = 60.0
MAX_FAILURES = 3  # a latency run stops after this many tasks not verified
PROPAGATION_WAIT_S = 15.0  # after the last settlement, how long to wait for stragglers

P = TypeVar("P", bound=Proc)
ALL_PROCS: list[Proc] = []  # every process started, for the last-resort cleanup
log = logging.getLogger("bench")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {psutil.cpu_count()} cores"


def spawn(proc: P) -> P:
    ALL_PROCS.append(proc)
    return proc


class Report:
    """Prints each figure next to its target as it is measured; keeps rows for the table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []
        self.failures: list[str] = []

    def figure(
        self,
        metric: str,
        value: float,
        unit: str,
        target: float | None = None,
        *,
        higher_is_better: bool = False,
        fmt: str = ".1f",
    ) -> None:
        measured = f"{value:,{fmt}} {unit}".strip()
        if target is None:
            target_s, verdict = "—", "info"
        else:
            op = "≥" if higher_is_better else "≤"
            target_s = f"{op} {target:,{fmt}} {unit}".strip()
            if math.isnan(value):
                verdict = "MISS (not measured)"
            else:
                ratio = value / target if target else math.inf
                ok = ratio >= 1 if higher_is_better else ratio <= 1
                verdict = f"{'PASS' if ok else 'MISS'} ({ratio:.2f}× target)"
        print(f"  {metric}: {measured}  [target {target_s}: {verdict}]")
        self.rows.append((metric, measured, target_s, verdict))

    def text(self, metric: str, measured: str, target: str = "—", verdict: str = "info") -> None:
        print(f"  {metric}: {measured}  [target {target}: {verdict}]")
        self.rows.append((metric, measured, target, verdict))

    def failed(self, phase: str, exc: BaseException) -> None:
        print(f"\n!! {phase} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
        self.failures.append(phase)
        self.rows.append((phase, f"ERROR: {type(exc).__name__}: {exc}"[:70], "—", "MISS"))

    def table(self) -> None:
        head = ("metric", "measured", "target", "verdict")
        rows = [head, *self.rows]
        w = [max(len(r[i]) for r in rows) for i in range(4)]
        line = "-+-".join("-" * x for x in w)
        print("\n" + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip())
        print(line)
        for r in self.rows:
            print(" | ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())


class RssSampler:
    """Samples the RSS of node processes and of their workers in a thread; keeps peaks."""

    def __init__(self, procs: list[NodeProc], every_s: float = 0.25) -> None:
        self.procs = procs
        self.every_s = every_s
        # name → peak [node RSS, workers' RSS, all (node, workers, tracker), workers]
        self.peak: dict[str, list[float]] = {p.name: [0.0, 0.0, 0.0, 0] for p in procs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            for p in self.procs:
                own, workers, n, helpers = p.rss_mb()
                if math.isnan(own):
                    continue
                pk = self.peak[p.name]
                pk[0], pk[1] = max(pk[0], own), max(pk[1], workers)
                pk[2], pk[3] = max(pk[2], own + workers + helpers), max(pk[3], n)
            if self._stop.wait(self.every_s):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def make_network(workdir: Path, name: str, n_submitters: int) -> tuple[list[Path], Genesis, Path]:
    """Submitter identities in workdir/sub<i>, and a network whose genesis grants them credits."""
    dirs = [workdir / f"sub{i}" for i in range(n_submitters)]
    ids = [keystore.create_identity(x, ops=1, mem=8192) for x in dirs]
    genesis = Genesis.create(
        Identity.generate(),
        name,
        int(time.time() * 1000) - 60_000,
        grants=tuple((me.node_id, 10**6 * econ.MICRO) for me in ids),
    )
    net = workdir / f"{name}.net"
    write_network(genesis, net)
    return dirs, genesis, net


async def wait_until(cond: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def control_client(data_dir: Path) -> Any:
    """The node's control API client, or None (no control API in this build, or not up)."""
    try:
        from edgenet_app.runtime.control.client import ControlClient
    except ImportError:
        return None
    return ControlClient.discover(data_dir)


async def open_links(client: Any) -> int:
    """Open peer links a node reports through its control API; -1 if it cannot say."""
    if client is None:
        return -1
    try:
        return sum(1 for x in await client.peers() if x.get("open"))
    except Exception:
        return -1


class Submitter:
    """An in-process submitter Node that keeps under the workers' rate limit.

    A worker claims at most `economics.MAX_TASKS_PER_MINUTE` announces per submitter (token
    bucket, burst 60) and counts every announce it sees, claimed or not. An announce over the
    limit is dropped without a word; the task waits for a repeat of its announce (every 5 s
    since taskflow_submitter.REANNOUNCE_MS; before that, for its deadline). So each submitter
    here mirrors that bucket (with a margin) and waits before announcing; the time waited is
    reported, never counted as latency.
    """

    RATE_PER_S = TokenBucket().rate_per_s * 0.95
    BURST = TokenBucket().burst - 5

    def __init__(self, node: Node) -> None:
        self.node = node
        self.tokens, self.last = self.BURST, time.monotonic()
        self.waited_s = 0.0
        self.failures: collections.Counter[str] = collections.Counter()

    async def _pace(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.BURST, self.tokens + (now - self.last) * self.RATE_PER_S)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            wait = (1 - self.tokens) / self.RATE_PER_S
            self.waited_s += wait
            await asyncio.sleep(wait)

    async def submit(self, redundancy: int) -> float:
        """One small task; its submit→verified time in ms (failures are counted, not raised)."""
        await self._pace()
        t = time.perf_counter()
        out = await self.node.submit(
            SubmitRequest("encryption", PAYLOAD, redundancy=redundancy, timeout_s=SUBMIT_TIMEOUT_S)
        )
        if not out.verified:
            self.failures[out.reason] += 1
            log.warning("a task of %s not verified: %s", self.node.stats().node_id, out.reason)
        return (time.perf_counter() - t) * 1000


async def start_submitters(
    dirs: list[Path], genesis: Genesis, url: str, stack: contextlib.AsyncExitStack
) -> list[Submitter]:
    subs = []
    for x in dirs:
        node = Node(
            x,
            genesis,
            NodeOptions(relays=(url,), kinds=(), loopback=True, policy=Policy(max_other_cpu=1.0)),
        )
        await node.start()
        stack.push_async_callback(node.stop)
        subs.append(Submitter(node))
    return subs


class CpuMeter:
    """CPU time used during a run by each node process, its workers, and this process."""

    def __init__(self, procs: list[NodeProc]) -> None:
        self.procs = procs
        self.me = os.getpid()

    def __enter__(self) -> CpuMeter:
        self.t0 = time.perf_counter()
        self.before = {p.name: cpu_s(p.pid) for p in self.procs}
        self.me_before = cpu_s(self.me)[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self.t0
        self.here_s = cpu_s(self.me)[0] - self.me_before
        self.used: dict[str, tuple[float, float]] = {}  # name → (node s, workers s)
        for p in self.procs:
            own, kids = cpu_s(p.pid)
            own0, kids0 = self.before[p.name]
            self.used[p.name] = (
                own - own0,
                sum(v - kids0.get(pid, 0.0) for pid, v in kids.items()),
            )


def n_failed(subs: list[Submitter]) -> int:
    return sum(sum(s.failures.values()) for s in subs)


def failures(subs: list[Submitter], rep: Report, where: str) -> None:
    total: collections.Counter[str] = collections.Counter()
    for s in subs:
        total.update(s.failures)
    n = sum(total.values())
    why = "; ".join(f"{k} ×{v}" for k, v in total.most_common(3))
    rep.text(
        f"tasks not verified ({where})",
        f"{n}" + (f" ({why})" if why else ""),
        "0",
        "PASS" if n == 0 else "MISS",
    )


# -- phase 1: a few contributors ---------------------------------------------------------------


async def contributors(args: argparse.Namespace, tmp: Path, rep: Report) -> None:
    n_nodes, n_tasks, n_subs = args.nodes, args.tasks, args.submitters
    print(
        f"\n== phase 1: relay + {n_nodes} contributor processes (--cpu-limit 1.0), "
        f"{n_subs} in-process submitters =="
    )
    print(f"  {load()}")
    d = tmp / "contrib"
    dirs, genesis, net = make_network(d, "bench", n_subs)
    procs: list[Proc] = []
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(stop_all, procs)
        relay = spawn(RelayProc(net, d))
        procs.append(relay)
        url = await asyncio.to_thread(relay.url)
        nodes: list[NodeProc] = []
        ready = []
        for i in range(n_nodes):  # one at a time: each start is timed without contention
            p = spawn(NodeProc(f"c{i}", d / f"c{i}", net, url, cpu_limit=1.0))
            procs.append(p)
            nodes.append(p)
            ready.append(await asyncio.to_thread(p.wait_ready))
        print(
            "  start→ready per node (spawn incl. imports / node.start+control API): "
            + ", ".join(f"{r['spawn_s']:.2f}/{r['ready_s']:.2f} s" for r in ready)
        )
        rep.figure(
            "start→ready, process spawn to 'ready' (max)",
            max(r["spawn_s"] for r in ready),
            "s",
            1.5,
            fmt=".2f",
        )
        rep.figure(
            "start→ready, inside node (node.start, max)",
            max(r["ready_s"] for r in ready),
            "s",
            1.5,
            fmt=".2f",
        )

        workers = {r["node_id"] for r in ready}

        async def linked(subs: list[Submitter]) -> None:
            ok = await wait_until(
                lambda: all(workers <= set(s.node.stats().peers) for s in subs), 30
            )
            if not ok:
                print("  !! not every submitter linked to every contributor after 30 s")

        # Latency: one submitter (paced under the workers' rate limit; waits not counted).
        first = await start_submitters(dirs[:1], genesis, url, stack)
        await linked(first)
        # warm-up: a burst of concurrent tasks makes every contributor start all its workers
        # (each start costs ~150-250 ms; the first task after scale-to-zero is timed below)
        await asyncio.gather(*(first[0].submit(1) for _ in range(WARMUP_BURST * n_nodes)))
        for red in (1, 3):
            if red > n_nodes:
                continue
            # and every contributor has run a task
            for i in range(WARMUP_MAX):
                if i >= WARMUP and all(p.tasks_run for p in nodes):
                    break
                await first[0].submit(red)
                if n_failed(first) >= MAX_FAILURES:
                    raise RuntimeError(
                        "warm-up tasks not verified: " + ", ".join(first[0].failures)
                    )
            f0 = n_failed(first)
            lat = []
            seen = set().union(*(p.worker_pids() for p in nodes))
            spawned = []  # latencies of the tasks during which a worker process started
            for _ in range(n_tasks):
                lat.append(await first[0].submit(red))
                now = set().union(*(p.worker_pids() for p in nodes))
                if now - seen:
                    spawned.append(lat[-1])
                seen |= now
                if n_failed(first) - f0 >= MAX_FAILURES:
                    raise RuntimeError(
                        f"{MAX_FAILURES} tasks at redundancy {red} not verified: "
                        + ", ".join(first[0].failures)
                    )
            if n_failed(first) > f0:
                print(f"  !! {n_failed(first) - f0} tasks not verified (counted in the latency)")
            if spawned:
                print(
                    f"  ({len(spawned)} of these tasks saw a worker process start (scaled to zero "
                    f"after 30 s without a task on that node): "
                    + ", ".join(f"{x:.0f}" for x in spawned)
                    + " ms)"
                )
            t50 = 20.0 if red == 1 else None
            t99 = 100.0 if red == 1 else None
            rep.figure(f"submit→verified p50, redundancy {red}", pct(lat, 0.5), "ms", t50)
            rep.figure(f"submit→verified p90, redundancy {red}", pct(lat, 0.9), "ms")
            rep.figure(f"submit→verified p99, redundancy {red}", pct(lat, 0.99), "ms", t99)
            if spawned:
                warm = list(lat)
                for x in spawned:
                    warm.remove(x)
                rep.figure(
                    f"submit→verified p99, redundancy {red}, without worker starts",
                    pct(warm, 0.99),
                    "ms",
                )
        print(
            f"  (one submitter; {first[0].waited_s:.1f} s spent waiting for the rate limit, "
            f"not counted)"
        )

        # Throughput: more submitters (one alone may not exceed the rate limit), then
        # stopped again so that the idle figures see the contributors and one submitter.
        async with contextlib.AsyncExitStack() as extra:
            subs = first + await start_submitters(dirs[1:], genesis, url, extra)
            await linked(subs)
            rr = itertools.cycle(subs)

            async def batch(label: str) -> tuple[float, CpuMeter]:
                f0 = n_failed(subs)
                with CpuMeter(nodes) as cpu:
                    await asyncio.gather(*(next(rr).submit(1) for _ in range(n_tasks)))
                ok = n_tasks - (n_failed(subs) - f0)
                if ok < n_tasks:
                    print(f"  !! {n_tasks - ok} tasks not verified (not counted)")
                total = cpu.here_s + sum(a + b for a, b in cpu.used.values())
                print(
                    f"  CPU per task, {label}: this process (submitters) "
                    f"{1000 * cpu.here_s / max(1, ok):.1f} ms; contributors (node + workers) "
                    + ", ".join(
                        f"{name} {1000 * a / max(1, ok):.1f} + {1000 * b / max(1, ok):.1f} ms"
                        for name, (a, b) in cpu.used.items()
                    )
                    + f"; {total / cpu.wall_s:.2f} of the machine's {psutil.cpu_count()} cores"
                )
                return ok / cpu.wall_s * 60, cpu

            with RssSampler(nodes) as busy:
                rate, _ = await batch(f"{n_nodes} contributors")
                rep.figure(
                    f"throughput, {n_nodes} contributors together, redundancy 1",
                    rate,
                    "tasks/min",
                    fmt=".0f",
                )
                clients = [await control_client(p.data_dir) for p in nodes]
                if all(c is not None for c in clients[1:]):
                    for c in clients[1:]:
                        await c.pause()
                    try:
                        rate1, cpu = await batch("one contributor")
                    finally:
                        for c in clients[1:]:
                            await c.resume()
                    rep.figure(
                        "throughput, one contributor (others paused), redundancy 1",
                        rate1,
                        "tasks/min",
                        3000,
                        higher_is_better=True,
                        fmt=".0f",
                    )
                    a, b = cpu.used[nodes[0].name]
                    per_task = (a + b) / max(1.0, rate1 * cpu.wall_s / 60)
                    rep.figure(
                        "one contributor's CPU per task (node + workers)", 1000 * per_task, "ms"
                    )
                    rep.figure(
                        "CPU-bound ceiling: that contributor on one full core",
                        60 / per_task if per_task else math.nan,
                        "tasks/min",
                        3000,
                        higher_is_better=True,
                        fmt=".0f",
                    )
                else:
                    rep.text("throughput, one contributor", "not measured (no control API)")
            print(
                f"  ({len(subs)} submitters in this process, each at most "
                f"{Submitter.RATE_PER_S * 60:.0f} announces/min after a burst of "
                f"{Submitter.BURST:.0f}; {sum(s.waited_s for s in subs[1:]):.1f} s waited for "
                "the rate limit)"
            )
            failures(subs, rep, "phase 1")
        limited = sum(p.log_count("rate limited") for p in nodes)
        if limited:
            print(f"  !! the contributors logged {limited} rate-limit rejections")
        print(
            "  busy RSS per contributor, peak while running tasks (node + workers, all): "
            + "; ".join(
                f"{name} {pk[0]:.0f} + {pk[1]:.0f} ({int(pk[3])} workers), {pk[2]:.0f} MB"
                for name, pk in busy.peak.items()
            )
        )
        rep.figure("busy RSS, node process (max)", max(pk[0] for pk in busy.peak.values()), "MB")
        rep.figure("busy RSS, workers (max)", max(pk[1] for pk in busy.peak.values()), "MB")
        rep.figure(
            "busy RSS, node + workers + tracker (max)",
            max(pk[2] for pk in busy.peak.values()),
            "MB",
        )

        print(f"  waiting {SCALE_DOWN_S} s for the workers to scale to zero …")
        await asyncio.sleep(SCALE_DOWN_S)
        idle = [p.rss_mb() for p in nodes]
        print(
            "  idle RSS per contributor (node + workers + resource tracker): "
            + "; ".join(
                f"{p.name} {own:.0f} + {w:.0f} ({n} workers) + {h:.0f} MB"
                for p, (own, w, n, h) in zip(nodes, idle, strict=True)
            )
        )
        rep.figure("idle RSS, node process (max)", max(x[0] for x in idle), "MB", 80)
        rep.figure(
            "idle RSS, node + workers + tracker (max)", max(x[0] + x[1] + x[3] for x in idle), "MB"
        )
        rep.text(
            "idle worker processes left (max per node)",
            str(max(x[2] for x in idle)),
            "0 (scaled to zero)",
            "PASS" if max(x[2] for x in idle) == 0 else "MISS",
        )
        node = first[0].node
        assert node.mesh is not None
        links = [x for x in node.mesh.hub.links.values() if x.open]
        before = sum(x.bytes_in + x.bytes_out for x in links)
        t = time.perf_counter()
        print(f"  measuring idle traffic for {args.idle_window:.0f} s …")
        await asyncio.sleep(args.idle_window)
        per_link = (sum(x.bytes_in + x.bytes_out for x in links) - before) / max(1, len(links))
        rep.figure(
            f"idle bytes per link, both ways (frames only; {len(links)} links)",
            per_link / ((time.perf_counter() - t) / 60),
            "B/min",
            2048,
            fmt=".0f",
        )
        cold = await first[0].submit(1)
        rep.figure("submit→verified, first task after the workers scaled to zero", cold, "ms")


# -- phase 2: settlement propagation ---------------------------------------------------------


async def propagation(tmp: Path, n_nodes: int, k: int, rep: Report) -> None:
    print(f"\n== phase 2: settlement propagation, relay + {n_nodes} node processes ==")
    print(f"  {load()}")
    d = tmp / "prop"
    dirs, genesis, net = make_network(d, "prop", 1)
    procs: list[Proc] = []
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(stop_all, procs)
        relay = spawn(RelayProc(net, d))
        procs.append(relay)
        url = await asyncio.to_thread(relay.url)
        t = time.perf_counter()
        nodes = [
            spawn(NodeProc(f"p{i:02d}", d / f"p{i:02d}", net, url, cpu_limit=0.3))
            for i in range(n_nodes)
        ]
        procs.extend(nodes)
        ready = [await asyncio.to_thread(p.wait_ready, 120) for p in nodes]
        print(
            f"  {n_nodes} processes started together, all ready after "
            f"{time.perf_counter() - t:.1f} s (slowest spawn→ready "
            f"{max(r['spawn_s'] for r in ready):.1f} s on a shared CPU)"
        )

        own: dict[str, float] = {}  # the submitter's own ledger events: id → time.time()
        measured: dict[str, float] = {}  # the measured settlements: id → time.time()
        recording = False

        def on_event(note: Notification) -> None:
            me = node.identity.node_id if node.identity else None
            if not isinstance(note, LedgerNote) or note.author != me:
                return
            now = time.time()
            own[note.id] = now
            if recording and note.kind == "settlement":
                measured[note.id] = now

        node = Node(
            dirs[0],
            genesis,
            NodeOptions(relays=(url,), kinds=(), loopback=True, policy=Policy(max_other_cpu=1.0)),
        )
        node.subscribe(on_event)
        await node.start()
        stack.push_async_callback(node.stop)
        sub = Submitter(node)

        # The mesh: every node has the submitter's own early events (its stake), which only
        # travel over peer links, and the link counts have stopped changing.
        proof = list(own)
        clients = [await control_client(p.data_dir) for p in nodes]
        t = time.perf_counter()
        deadline = time.monotonic() + MESH_TIMEOUT_S
        prev: list[int] = []
        stable = 0
        while True:
            counts = list(await asyncio.gather(*(open_links(c) for c in clients)))
            synced = sum(all(i in p.ledger for i in proof) for p in nodes)
            stable = stable + 1 if counts == prev else 0
            prev = counts
            if synced == n_nodes and stable >= 2 and min(counts) != 0:
                break
            if time.monotonic() > deadline:
                print(f"  !! mesh not settled after {MESH_TIMEOUT_S:.0f} s; measuring anyway")
                break
            await asyncio.sleep(1.0)
        known = [c for c in counts if c >= 0]
        hist = collections.Counter(known)
        sub_links = len(node.stats().peers)
        print(
            f"  mesh after {time.perf_counter() - t:.1f} s: {synced}/{n_nodes} nodes have the "
            f"submitter's early events; open links per node "
            + (
                f"min {min(known)}, median {statistics.median(known):g}, max {max(known)} "
                f"({', '.join(f'{v}×{k}' for k, v in sorted(hist.items()))})"
                if known
                else "unknown (no control API)"
            )
            + f"; submitter {sub_links} links"
        )
        unlinked = [p.name for p, c in zip(nodes, counts, strict=True) if c == 0]
        if unlinked:
            print(f"  !! nodes without any open link: {', '.join(unlinked)}")

        for _ in range(3):  # warm-up: a worker process exists somewhere
            await sub.submit(1)
        if n_failed([sub]):
            raise RuntimeError("warm-up tasks not verified: " + ", ".join(sub.failures))
        recording = True
        returned: dict[str, float] = {}
        for _ in range(k):
            before = set(measured)
            await sub.submit(1)
            now = time.time()
            if n_failed([sub]) >= MAX_FAILURES:
                raise RuntimeError("tasks not verified: " + ", ".join(sub.failures))
            for i in set(measured) - before:
                returned[i] = now
        recording = False
        if len(measured) < k:
            print(f"  !! only {len(measured)} settlements seen for {k} tasks")
        deadline = time.monotonic() + PROPAGATION_WAIT_S
        while time.monotonic() < deadline and not all(
            all(i in p.ledger for i in measured) for p in nodes
        ):
            await asyncio.sleep(0.1)

        lat: list[float] = []
        per_node: dict[str, list[float]] = {p.name: [] for p in nodes}
        missing = 0
        for sid, t0 in measured.items():
            for p in nodes:
                seen = p.ledger.get(sid)
                if seen is None:
                    missing += 1
                    per_node[p.name].append(math.inf)
                else:
                    lat.append(seen - t0)
                    per_node[p.name].append(seen - t0)
        pairs = len(measured) * n_nodes
        everything = lat + [math.inf] * missing
        gap = [returned[i] - measured[i] for i in returned]
        print(
            f"  {len(measured)} settlements × {n_nodes} nodes = {pairs} pairs; origin = the "
            f"submitter's notification of its settlement (appended and handed to its links; "
            f"submit returned {1000 * statistics.mean(gap) if gap else math.nan:.2f} ms later "
            f"on average); {missing} pairs never arrived within {PROPAGATION_WAIT_S:.0f} s"
        )
        if lat:
            print(f"  fastest pair {1000 * min(lat):.1f} ms")
        slow = sorted(per_node.items(), key=lambda kv: -statistics.median(kv[1]))[:3]
        print(
            "  slowest nodes (median / max ms, open links): "
            + "; ".join(
                f"{name} {1000 * statistics.median(xs):.0f} / {1000 * max(xs):.0f}, "
                f"{prev[int(name[1:])] if prev else '?'}"
                for name, xs in slow
            )
        )
        rep.figure(
            f"settlement propagation p50 ({n_nodes} processes)",
            1000 * pct(everything, 0.5),
            "ms",
            fmt=".0f",
        )
        rep.figure(
            f"settlement propagation p95 ({n_nodes} processes)",
            1000 * pct(everything, 0.95),
            "ms",
            1000,
            fmt=".0f",
        )
        rep.figure(
            f"settlement propagation max ({n_nodes} processes)",
            1000 * max(everything, default=math.nan),
            "ms",
            fmt=".0f",
        )
        rep.figure(
            "settlement (settlement, node) pairs within 1 s",
            100 * sum(x <= 1.0 for x in lat) / max(1, pairs),
            "%",
            fmt=".1f",
        )
        failures([sub], rep, "phase 2")
        limited = sum(p.log_count("rate limited") for p in nodes)
        if limited:
            print(f"  !! the nodes logged {limited} rate-limit rejections")
        idle_rss = [p.rss_mb()[0] for p in nodes]
        rep.figure("RSS of a mesh node process, just after the run (max)", max(idle_rss), "MB")


async def main(args: argparse.Namespace) -> Report:
    rep = Report()
    task = asyncio.current_task()
    assert task is not None
    with contextlib.suppress(NotImplementedError):  # SIGTERM: unwind like Ctrl-C
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.ExitStack() as stack:
        if args.keep:
            tmp = Path(tempfile.mkdtemp(prefix="edgenet-bench-"))
            print(f"keeping data dirs and logs in {tmp}")
        else:
            tmp = Path(
                stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="edgenet-bench-", ignore_cleanup_errors=True)
                )
            )
        # the in-process nodes' log (the processes' logs are in their data dirs)
        handler = logging.FileHandler(tmp / "bench.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.getLogger("aioice").setLevel(logging.WARNING)
        stack.callback(handler.close)
        stack.callback(root.removeHandler, handler)
        if args.nodes > 0:
            try:
                await contributors(args, tmp, rep)
            except Exception as exc:
                rep.failed("phase 1 (contributors)", exc)
        if args.propagation_nodes > 0:
            try:
                await propagation(tmp, args.propagation_nodes, args.settlements, rep)
            except Exception as exc:
                rep.failed("phase 2 (propagation)", exc)
        stop_all(ALL_PROCS)
    print(f"\n{load()} at the end")
    return rep


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=3, help="phase 1 contributors (0: skip)")
    ap.add_argument("--tasks", type=int, default=200, help="tasks per latency/throughput run")
    ap.add_argument(
        "--submitters",
        type=int,
        default=6,
        help="in-process submitters for the throughput runs (a worker takes at most "
        f"{econ.MAX_TASKS_PER_MINUTE} tasks/min from one submitter)",
    )
    ap.add_argument("--idle-window", type=float, default=60.0, metavar="S")
    ap.add_argument(
        "--propagation-nodes", type=int, default=20, help="phase 2 node processes (0: skip)"
    )
    ap.add_argument("--settlements", type=int, default=20, help="phase 2 settlements")
    ap.add_argument(
        "--keep", action="store_true", help="keep the data dirs and logs (printed path)"
    )
    a = ap.parse_args()
    try:
        report = asyncio.run(main(a))
    except (KeyboardInterrupt, asyncio.CancelledError):
        stop_all(ALL_PROCS)
        print("\ninterrupted; every process started here has been stopped", file=sys.stderr)
        sys.exit(130)
    finally:
        stop_all(ALL_PROCS)  # whatever a phase could not end (a crash)
    report.table()
    sys.exit(1 if report.failures else 0)
