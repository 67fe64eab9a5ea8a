"""The network as real processes: `edgenet relay`, three `edgenet node`s, `edgenet submit`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgenet_app.cli.demo_cmd import same_machine_node_options
from edgenet_app.core import economics as econ
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.runtime.store import keystore
from edgenet_app.runtime.store.networks import write_network

EDGENET = [sys.executable, "-m", "edgenet_app"]


def start(args: list[str], log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*EDGENET, *args],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_submit_through_a_network_of_processes(tmp_path: Path) -> None:
    sub_dir = tmp_path / "submitter"
    keystore.create_identity(sub_dir, ops=1, mem=8192)
    me = keystore.load_identity(sub_dir)
    genesis = Genesis.create(
        Identity(b"\x43" * 32),
        "process-test",
        int(time.time() * 1000) - 3_600_000,
        grants=((me.node_id, 1000 * econ.MICRO),),
    )
    net = tmp_path / "test.net"
    write_network(genesis, net)
    procs: list[subprocess.Popen[str]] = []
    try:
        relay = start(["relay", "--port", "0", "--network", str(net)], tmp_path / "relay.log")
        procs.append(relay)
        assert relay.stdout is not None
        url = relay.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("ws://127.0.0.1:"), url
        for i in range(3):
            node = start(
                [
                    *("--data-dir", str(tmp_path / f"n{i}"), "node"),
                    *same_machine_node_options(net, url),
                ],
                tmp_path / f"n{i}.log",
            )
            procs.append(node)
            assert node.stdout is not None
            ready = json.loads(node.stdout.readline())
            assert ready["event"] == "ready" and ready["ready_s"] < 10
        payload = tmp_path / "p.json"
        payload.write_text(json.dumps({"texts": ["Hello world"]}))
        out = subprocess.run(
            [
                *EDGENET,
                "--data-dir",
                str(sub_dir),
                "submit",
                "--network",
                str(net),
                "--relay",
                url,
                "--loopback",
                "--type",
                "embedding",
                "--payload-file",
                str(payload),
                "--redundancy",
                "3",
                "--timeout",
                "60",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout)
        assert result["verified"] is True and len(result["workers"]) == 3
        vec = result["result"]["embeddings"][0]
        assert abs(vec[0] - -0.03448) < 1e-4
        assert result["cost_micro"] == 3 * econ.task_price_micro("embedding", 1)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                assert p.wait(timeout=15) == 0
            except subprocess.TimeoutExpired:
                p.kill()
                pytest.fail("a process did not stop on SIGTERM")


def test_the_headless_node_never_imports_qt() -> None:
    code = (
        "import sys, edgenet_app.cli, edgenet_app.cli.node_cmd, edgenet_app.runtime.node.node;"
        "print('PySide6' in sys.modules or 'qasync' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
