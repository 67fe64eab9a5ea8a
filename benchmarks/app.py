"""Tray app at idle: RSS and CPU of the app process hosting its node, on a real X server.

    python benchmarks/app.py [--seconds 60] [--settle 10] [--workers 2] [--offscreen]
                             [--profile FILE] [--keep]

Starts Xvfb with a tray host (trayer) — or, with --offscreen, Qt's offscreen platform, where
there is no tray and the app runs as a window — a relay, `--workers` headless `edgenet node`
processes, and the app (`python -m edgenet_app --minimized`) hosting its own node. Once the
app's node is connected (and, on Xvfb, its tray icon is docked), it waits `--settle` seconds
and then samples for `--seconds`: the app's RSS (alone, and with its child processes) and its
CPU time, as % of one core (CPU seconds / wall seconds), per thread too; the headless nodes'
CPU and RSS over the same window, for comparison. No task runs: this is the idle case.
Targets (BRIEF.md): tray app ≤ 150 MB RSS, CPU < 0.5 % of one core; headless node < 0.5 %.
MB here are MiB (2**20 bytes), as in the other benchmarks.

--profile FILE runs the app under cProfile (CPU time of its main thread, where Qt and asyncio
run, during the sampling window) and prints the top functions after the run; the profiler's
own overhead inflates the CPU figures, so take those from a run without it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from _procs import NodeProc, Proc, RelayProc, cpu_s, stop_all

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_tray_xvfb import (  # noqa: E402  (Xvfb, trayer and X11 helpers, shared with the test)
    main_windows,
    prepare_app_dir,
    tray_icons,
    x_with_tray,
)

from edgenet_app.core.genesis import Genesis  # noqa: E402
from edgenet_app.core.identity import Identity  # noqa: E402
from edgenet_app.runtime.control.client import ControlClient  # noqa: E402
from edgenet_app.runtime.store.networks import write_network  # noqa: E402

# `python -c PROFILE_BOOTSTRAP OUT [app options]`: the app, with cProfile on a CPU-time clock
# (the default wall clock would charge the time Qt sleeps in its event loop to the Python
# frame below it) profiling its main thread from SIGUSR1 until SIGUSR2, which writes OUT: the
# sampling window only, not the start-up.
PROFILE_BOOTSTRAP = """
import cProfile, runpy, signal, sys, time
out = sys.argv.pop(1)
sys.argv[0] = "edgenet"
profiler = cProfile.Profile(time.process_time)
def stop(*_):
    profiler.disable()
    profiler.dump_stats(out)
signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
signal.signal(signal.SIGUSR2, stop)
runpy.run_module("edgenet_app", run_name="__main__", alter_sys=True)
"""
RSS_TARGET_MB = 150.0
CPU_TARGET_PCT = 0.5
START_TIMEOUT_S = 60.0


def verdict(value: float, target: float, strict: bool = False) -> str:
    ok = value < target if strict else value <= target
    return f"{'PASS' if ok else 'MISS'} ({value / target:.2f}× target)"


def wait(what: str, pred: Any, timeout: float, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(step)


def thread_names(pid: int) -> dict[int, str]:
    names = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                names[int(tid)] = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
    return names


def thread_cpu(proc: psutil.Process) -> dict[int, float]:
    with contextlib.suppress(psutil.Error):
        return {t.id: t.user_time + t.system_time for t in proc.threads()}
    return {}


def family_rss_mb(proc: psutil.Process) -> tuple[float, float, int]:
    """RSS in MiB of the process alone and with every descendant, and how many those are."""
    own = proc.memory_info().rss
    total, n = own, 0
    for kid in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += kid.memory_info().rss
            n += 1
    return own / 2**20, total / 2**20, n


def top_mappings(proc: psutil.Process, top: int = 12) -> list[tuple[str, float]]:
    """The process's RSS by mapped file (anonymous memory and the heap as one entry each),
    largest first: what the RSS is made of."""
    sizes: dict[str, float] = {}
    with contextlib.suppress(psutil.Error):
        for m in proc.memory_maps(grouped=True):
            path = m.path if m.path.startswith("/") else (m.path or "[anon]")
            short = path
            for lib in ("/site-packages/", "/lib/"):
                if lib in path:
                    short = "…" + lib + path.split(lib, 1)[1]
                    break
            sizes[short] = sizes.get(short, 0.0) + m.rss / 2**20
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]


class App:
    """The tray app as a process (optionally under cProfile)."""

    def __init__(
        self, data: Path, network: Path, relay: str, env: dict[str, str], profile: Path | None
    ) -> None:
        self.data = data
        prefix = [sys.executable, "-m", "edgenet_app"]
        if profile is not None:
            prefix = [sys.executable, "-c", PROFILE_BOOTSTRAP, str(profile)]
        args = [*prefix, "--data-dir", str(data), "--network",
                str(network), "--relay", relay, "--loopback", "--minimized"]  # fmt: skip
        self.log_path = data.parent / "app.log"
        self._log = self.log_path.open("w")
        self.popen = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
        self.proc = psutil.Process(self.popen.pid)

    def tail(self, n: int = 2000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def client(self) -> ControlClient | None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"the app exited ({self.popen.returncode}): {self.tail()}")
        return ControlClient.discover(self.data)

    def stop(self, timeout: float = 30) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            return None
        finally:
            self._log.close()


def run(args: argparse.Namespace, tmp: Path) -> int:
    genesis = Genesis.create(Identity.generate(), "bench-app", int(time.time() * 1000) - 60_000)
    network = tmp / "bench.net"
    write_network(genesis, network)
    procs: list[Proc] = []
    with contextlib.ExitStack() as stack:
        stack.callback(stop_all, procs)
        if args.offscreen:
            env, x = {"QT_QPA_PLATFORM": "offscreen"}, None
            print("display: Qt offscreen (no tray: the app runs as a window)")
        else:
            display, x = stack.enter_context(x_with_tray(tmp))
            env = {"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
            print(f"display: Xvfb {display} with trayer as the system tray")
        relay = RelayProc(network, tmp)
        procs.append(relay)
        url = relay.url()
        nodes = [
            NodeProc(f"node{i}", tmp / f"node{i}", network, url, cpu_limit=0.3)
            for i in range(args.workers)
        ]
        procs.extend(nodes)
        for node in nodes:
            node.wait_ready()
        data = tmp / "app"
        prepare_app_dir(data, {})  # consent given; every setting at its default
        app = App(data, network, url, env, args.profile)
        stack.callback(app.stop)
        client = wait("the app hosts its node", app.client, START_TIMEOUT_S)
        status = wait(
            "the app's node is linked to the headless nodes",
            lambda: (s := client.sync(client.status())).peers and s,
            START_TIMEOUT_S,
        )
        if x is not None:
            wait("the tray icon docks", lambda: tray_icons(x, app.popen.pid), 30)
            assert not main_windows(x, app.popen.pid), "the app shows its no-tray window"
            print("tray icon docked in trayer; no main window shown")
        print(f"app pid {app.popen.pid}, node {status.node_id}, {len(status.peers)} peers")
        print(f"settling {args.settle:.0f} s, then sampling {args.seconds:.0f} s ...")
        time.sleep(args.settle)

        own_rss: list[float] = []
        all_rss: list[float] = []
        kids_max = 0
        if args.profile is not None:
            app.popen.send_signal(signal.SIGUSR1)
        app_cpu0, _ = cpu_s(app.popen.pid)
        threads0 = thread_cpu(app.proc)
        nodes_cpu0 = [cpu_s(n.pid)[0] for n in nodes]
        t0 = time.monotonic()
        while (left := t0 + args.seconds - time.monotonic()) > 0:
            own, total, n = family_rss_mb(app.proc)
            own_rss.append(own)
            all_rss.append(total)
            kids_max = max(kids_max, n)
            time.sleep(min(1.0, left))
        wall = time.monotonic() - t0
        app_cpu1, _ = cpu_s(app.popen.pid)
        threads1 = thread_cpu(app.proc)
        names = thread_names(app.popen.pid)
        nodes_cpu1 = [cpu_s(n.pid)[0] for n in nodes]
        if args.profile is not None:
            app.popen.send_signal(signal.SIGUSR2)
        nodes_rss = [n.rss_mb()[0] for n in nodes]
        status = client.sync(client.status())

        cpu_pct = 100 * (app_cpu1 - app_cpu0) / wall
        print(
            f"\nover {wall:.0f} s (app node state: {status.state}, "
            f"{len(status.peers)} peers, tasks completed {status.tasks_completed}):"
        )
        print(
            f"  app RSS, process alone: mean {sum(own_rss) / len(own_rss):.1f} MB, "
            f"max {max(own_rss):.1f} MB  [target ≤ {RSS_TARGET_MB:.0f} MB: "
            f"{verdict(max(own_rss), RSS_TARGET_MB)}]"
        )
        print(
            f"  app RSS with its child processes ({kids_max} at most): max "
            f"{max(all_rss):.1f} MB  [target ≤ {RSS_TARGET_MB:.0f} MB: "
            f"{verdict(max(all_rss), RSS_TARGET_MB)}]"
        )
        print(
            f"  app CPU: {cpu_pct:.2f} % of one core "
            f"({app_cpu1 - app_cpu0:.2f} CPU-s)  [target < {CPU_TARGET_PCT} %: "
            f"{verdict(cpu_pct, CPU_TARGET_PCT, strict=True)}]"
        )
        busy = sorted(
            ((threads1.get(t, 0.0) - threads0.get(t, 0.0), t) for t in threads1), reverse=True
        )
        for spent, tid in busy:
            if spent > 0:
                label = "main (Qt + asyncio)" if tid == app.popen.pid else names.get(tid, "?")
                print(f"    thread {tid} {label}: {100 * spent / wall:.2f} % of one core")
        for node, c0, c1, rss in zip(nodes, nodes_cpu0, nodes_cpu1, nodes_rss, strict=True):
            pct = 100 * (c1 - c0) / wall
            print(
                f"  headless {node.name} CPU: {pct:.2f} % of one core, RSS {rss:.1f} MB  "
                f"[target < {CPU_TARGET_PCT} %: {verdict(pct, CPU_TARGET_PCT, strict=True)}]"
            )
        print("  the app's largest mappings by RSS (MB):")
        for path, rss in top_mappings(app.proc):
            print(f"    {rss:6.1f}  {path}")
        one, five, _ = os.getloadavg()
        print(f"  load average {one:.2f} (1 min), {five:.2f} (5 min) on {psutil.cpu_count()} cores")

        code = app.stop()
        print(f"app stopped on SIGTERM: exit code {code}")
    if args.profile is not None:
        show_profile(args.profile)
    return 0 if code == 0 else 1


def show_profile(path: Path, top: int = 25) -> None:
    if not path.exists():
        print(f"no profile written to {path}")
        return
    stats = pstats.Stats(str(path))
    print(f"\n== cProfile of the app's main thread while sampling ({path}), by own time")
    stats.sort_stats("tottime").print_stats(top)
    print("== by cumulative time (callers included)")
    stats.sort_stats("cumulative").print_stats(top)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="sampling window")
    ap.add_argument("--settle", type=float, default=10.0, help="wait before sampling")
    ap.add_argument("--workers", type=int, default=2, help="headless nodes (1–2 is typical)")
    ap.add_argument("--offscreen", action="store_true", help="Qt offscreen, no X server")
    ap.add_argument("--profile", type=Path, metavar="FILE", help="run the app under cProfile")
    ap.add_argument("--keep", action="store_true", help="keep data dirs and logs")
    args = ap.parse_args()
    if args.workers < 1:
        ap.error("--workers: at least 1 (the app's node needs a peer to be connected)")
    if args.profile is not None:
        args.profile = args.profile.resolve()
    if args.keep:
        tmp = Path(tempfile.mkdtemp(prefix="edgenet-bench-app-"))
        print(f"keeping data dirs and logs in {tmp}")
        return run(args, tmp)
    with tempfile.TemporaryDirectory(prefix="edgenet-bench-app-") as name:
        return run(args, Path(name))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
