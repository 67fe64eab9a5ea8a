"""A network of real processes for tests: a relay and `edgenet node`s on loopback WebRTC.

Each process's stdout (JSON lines) is drained by a thread into `Proc.lines`, so a chatty
node never blocks on a full pipe; stderr goes to a log file next to its data dir.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from edgenet_app.cli.demo_cmd import same_machine_node_options
from edgenet_app.core import economics as econ
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.runtime.store import keystore
from edgenet_app.runtime.store.ledger_store import LedgerStore
from edgenet_app.runtime.store.networks import write_network

EDGENET = [sys.executable, "-m", "edgenet_app"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Proc:
    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log = log
        self.lines: list[dict[str, Any]] = []
        self.arrived: list[float] = []  # this process's clock when each of `lines` was read
        self.raw: list[str] = []
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._cond:
                self.raw.append(line)
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = None
                if isinstance(obj, dict):
                    self.lines.append(obj)
                    self.arrived.append(time.time())
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_line(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        end = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for obj in self.lines[seen:]:
                    if pred(obj):
                        return obj
                seen = len(self.lines)
                left = end - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"{self.name}: no matching line in {timeout} s; "
                        f"exit {self.popen.poll()}; log:\n{self.tail()}"
                    )
                self._cond.wait(min(left, 0.5))

    def wait_raw(self, pred: Callable[[str], bool], timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.raw:
                    if pred(line):
                        return line
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: no matching output; log:\n{self.tail()}")
                self._cond.wait(min(left, 0.5))

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text()[-n:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            return None

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait()


class Node(Proc):
    data_dir: Path
    node_id: str
    public_key: bytes
    ready: dict[str, Any]


class Net:
    """A private network: genesis grants, a relay, nodes. Use as a context manager."""

    def __init__(self, tmp: Path, *, funded: Iterable[str] = (), grant: int = 1000) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []
        self.identities: dict[str, Identity] = {}
        grants = []
        for name in funded:
            ident = keystore.create_identity(tmp / name, ops=1, mem=8192)
            self.identities[name] = ident
            grants.append((ident.node_id, grant * econ.MICRO))
        self.genesis = Genesis.create(
            Identity(b"\x44" * 32),
            "net-test",
            int(time.time() * 1000) - 3_600_000,
            grants=tuple(grants),
        )
        self.network = tmp / "test.net"
        write_network(self.genesis, self.network)
        self.relay: Proc | None = None
        self.relay_port = 0
        self.url = ""

    def __enter__(self) -> Net:
        return self

    def __exit__(self, *exc: object) -> None:
        for p in reversed(self.procs):
            p.stop()

    def start_relay(self, port: int = 0) -> Proc:
        relay = Proc(
            "relay",
            [*EDGENET, "relay", "--port", str(port), "--network", str(self.network)],
            self.tmp / f"relay-{len(self.procs)}.log",
        )
        self.procs.append(relay)
        line = relay.wait_raw(lambda s: "ws://" in s, 20)
        self.url = line.strip().rsplit(" ", 1)[-1]
        self.relay_port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        self.relay = relay
        return relay

    def node_args(self, name: str, *extra: str) -> list[str]:
        return [
            *(*EDGENET, "--data-dir", str(self.tmp / name), "node"),
            *same_machine_node_options(self.network, self.url),
            *extra,
        ]

    def start_node(
        self,
        name: str,
        *extra: str,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> Node:
        log, k = self.tmp / f"{name}.log", 1
        while log.exists():  # a restart keeps the earlier runs' logs: name-2.log, ...
            k += 1
            log = self.tmp / f"{name}-{k}.log"
        node = Proc(name, args or self.node_args(name, *extra), log, env)
        node.__class__ = Node
        assert isinstance(node, Node)
        self.procs.append(node)
        node.ready = node.wait_line(lambda o: o.get("event") == "ready", 30)
        node.data_dir = self.tmp / name
        node.node_id = node.ready["node_id"]
        node.public_key = keystore.load_identity(node.data_dir).public_key
        return node

    def ledger_view(self, data_dir: Path) -> dict[str, Any]:
        """Balances and supply as one node's persisted ledger has them (read-only)."""
        with LedgerStore.open(data_dir, self.genesis) as ls:
            state = ls.ledger.state
            now = int(time.time() * 1000)
            return {
                "root": ls.ledger.state_root().hex(),
                "events": len(ls.ledger),
                "totals": {k.hex(): ls.ledger.balance(k, now).total for k in state.accounts},
                "supply": state.total_supply,
                "minted": state.total_minted,
                "burned": state.burned,
                "offences": {k.hex(): a.offences for k, a in state.accounts.items()},
            }

    def ledger_events(self, data_dir: Path) -> dict[str, Any]:
        """What one node's persisted ledger holds, event by event (read-only): every id,
        the ids at each (author, seq) (two at one seq is a fork), the equivocations the
        ledger found, the events the rules rejected (with why) and the state root."""
        with LedgerStore.open(data_dir, self.genesis) as ls:
            at: dict[tuple[bytes, int], set[bytes]] = {}
            for e in ls.ledger.events():
                at.setdefault((e.author, e.seq), set()).add(e.id)
            return {
                "ids": {e.id for e in ls.ledger.events()},
                "at": at,
                "events": list(ls.ledger.events()),
                "forks": [(f.author, f.seq) for f in ls.ledger.equivocations()],
                "rejected": dict(ls.ledger.rejected()),
                "root": ls.ledger.state_root().hex(),
                "skipped": ls.skipped,
            }
