"""Genesis documents, the default network, and `edgenet network`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.ledger_helpers import CREATOR, NODES, T0

from edgenet_app.cli import main
from edgenet_app.core.default_network import DEFAULT_NETWORK_ID_HEX, default_network
from edgenet_app.core.errors import SchemaError, WireError
from edgenet_app.core.genesis import Genesis
from edgenet_app.runtime.store.networks import NetworkFileError, load_network


def test_network_id_covers_the_whole_document() -> None:
    a = Genesis.create(CREATOR, "n", T0, grants=((NODES[0].node_id, 5),))
    b = Genesis.create(CREATOR, "n", T0, grants=((NODES[0].node_id, 6),))
    c = Genesis.create(
        CREATOR, "n", T0, relays=("wss://r.example",), grants=((NODES[0].node_id, 5),)
    )
    assert len({a.network_id, b.network_id, c.network_id}) == 3
    assert Genesis.load(a.encode()).network_id == a.network_id
    assert a.grant_for(NODES[0].public_key) == 5 and a.grant_for(NODES[1].public_key) == 0


def test_a_document_with_a_bad_signature_or_fields_is_refused() -> None:
    g = Genesis.create(CREATOR, "n", T0)
    raw = bytearray(g.encode())
    raw[raw.index(g.sig) + 3] ^= 1
    with pytest.raises(WireError, match="signature"):
        Genesis.load(bytes(raw))
    with pytest.raises(SchemaError, match="granted twice"):
        Genesis.create(CREATOR, "n", T0, grants=((NODES[0].node_id, 1), (NODES[0].node_id, 2)))
    with pytest.raises(SchemaError, match="not a ws/wss URL"):
        Genesis.create(CREATOR, "n", T0, relays=("https://x",))
    with pytest.raises(SchemaError, match="stun"):
        Genesis.create(CREATOR, "n", T0, ice_servers=("wss://x",))


def test_default_network_is_built_in() -> None:
    net = load_network(None)
    assert net is default_network()
    assert net.network_id.hex() == DEFAULT_NETWORK_ID_HEX
    assert net.name == "edgenet" and net.total_granted == 0


def test_load_network_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileError, match="no network file"):
        load_network(tmp_path / "missing")
    junk = tmp_path / "junk.net"
    junk.write_bytes(b"\x00\x01junk")
    with pytest.raises(NetworkFileError, match=r"junk\.net is not a valid edgenet network file"):
        load_network(junk)


@pytest.mark.slow
def test_network_create_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "data")
    assert main(["--data-dir", d, "identity", "create", "--json"]) == 0
    me = json.loads(capsys.readouterr().out)["node_id"]
    out = tmp_path / "lab.net"
    args = [
        "--data-dir",
        d,
        "network",
        "create",
        "--out",
        str(out),
        "--name",
        "lab",
        "--grant",
        f"{me}=1000.5",
        "--grant",
        f"{NODES[1].node_id}=7",
        "--relay",
        "wss://relay.lab.example:8765",
        "--ice",
        "stun:stun.lab.example",
    ]
    assert main(args) == 0
    capsys.readouterr()
    g = load_network(out)
    assert g.grant_for(NODES[1].public_key) == 7_000_000
    assert g.body.relays == ("wss://relay.lab.example:8765",)
    assert main(args) == 1  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    proc = subprocess.run(
        [sys.executable, "-m", "edgenet_app", "network", "show", "--network", str(out), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(proc.stdout)
    assert shown["network_id"] == g.network_id.hex()
    assert shown["grants"][me] == "1,000.5"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grant", "nope=1"], "24-char node id"),
        (["--grant", "aaaaaaaaaaaaaaaaaaaaaaaa=-1"], "non-negative"),
        (["--grant", "aaaaaaaaaaaaaaaaaaaaaaaa=0.0000001"], "6 decimal places"),
        (["--relay", "http://x"], "ws/wss"),
    ],
)
def test_network_create_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    d = str(tmp_path / "data")
    main(["--data-dir", d, "identity", "create"])
    capsys.readouterr()
    code = main(["--data-dir", d, "network", "create", "--out", str(tmp_path / "x"), *extra])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
