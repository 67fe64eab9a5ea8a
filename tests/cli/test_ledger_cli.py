"""`edgenet ledger`: balances, events and verify on a real store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support.ledger_helpers import GENESIS, NODES, T0, M

from edgenet_app.cli import main
from edgenet_app.core.events import GenesisGrant, Transfer
from edgenet_app.runtime.store.ledger_store import LedgerStore
from edgenet_app.runtime.store.networks import write_network

A, B = NODES[:2]


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    net = tmp_path / "test.net"
    write_network(GENESIS, net)
    d = tmp_path / "data"
    with LedgerStore.open(d, GENESIS) as ls:
        ls.append(A, GenesisGrant(), T0 + 1)
        ls.append(A, Transfer(B.public_key, 25 * M, "hi"), T0 + 2)
    return d, net


def test_balances_and_events_survive_reopening(
    data: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    d, net = data
    assert main(["--data-dir", str(d), "ledger", "balances", "--network", str(net), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by_node = {r["node_id"]: r for r in out["balances"]}
    assert by_node[B.node_id]["available"] + by_node[B.node_id]["locked"] == 25 * M
    assert by_node[A.node_id]["available"] == 975 * M
    assert out["supply"] == 1000 * M and out["events"] == 2
    assert main(["--data-dir", str(d), "ledger", "events", "--network", str(net), "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["kind"] for e in events] == ["genesis_grant", "transfer"]
    assert all(e["status"] == "applied" for e in events)


def test_verify_passes_then_reports_a_corrupted_row(
    data: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    d, net = data
    assert main(["--data-dir", str(d), "ledger", "verify", "--network", str(net)]) == 0
    assert "ok:" in capsys.readouterr().out
    with sqlite3.connect(d / "edgenet.sqlite3") as conn:
        conn.execute("UPDATE events SET raw = substr(raw, 1, 40) WHERE seq = 2")
    assert main(["--data-dir", str(d), "ledger", "verify", "--network", str(net), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["problems"]


def test_the_default_network_has_an_empty_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path), "ledger", "balances"]) == 0
    assert "0 events" in capsys.readouterr().out
