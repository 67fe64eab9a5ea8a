"""`edgenet submit`: its flags are checked against `SubmitRequest` before the payload is read
or any node is involved, and the checked task is what reaches a running node."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from edgenet_app.cli import main
from edgenet_app.core.default_network import default_network
from edgenet_app.core.status import NodeStatus
from edgenet_app.runtime.control.client import ControlClient

T = TypeVar("T")


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"op": "encrypt", "key": "A" * 43 + "=", "nonce": "A" * 16}))
    return path


def submit(
    capsys: pytest.CaptureFixture[str], data: Path, payload: str, *flags: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    command = ["submit", "--type", "encryption", "--payload-file", payload, *flags]
    code = main(["--data-dir", str(data), *command])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--timeout", "0.5"], "--timeout 0.5: out of range; allowed 1–86400 s"),
        (["--timeout", "86401"], "--timeout 86401: out of range; allowed 1–86400 s"),
        (["--timeout", "nan"], "--timeout nan: out of range; allowed 1–86400 s"),
        (["--redundancy", "9"], "--redundancy 9: allowed 1–7"),
        (["--redundancy", "0"], "--redundancy 0: allowed 1–7"),
        (["--max-credits", "-1"], "--max-credits: '-1' is not a non-negative number"),
    ],
)
def test_bad_flags_are_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    message: str,
) -> None:
    class Untouchable(io.StringIO):
        def read(self, size: int | None = -1) -> str:
            raise AssertionError("the payload was read before the flags were checked")

    monkeypatch.setattr("sys.stdin", Untouchable())
    data = tmp_path / "data"
    code, out, err = submit(capsys, data, "-", *flags)
    assert (code, out) == (1, "")
    assert err.startswith("edgenet: error: " + message), err
    assert not data.exists()  # no store, no key, no node


class FakeClient:
    """A running node's control client: records the submit it is asked for."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, Any, dict[str, Any]]] = []

    def sync(self, call: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(call)  # type: ignore[arg-type]

    async def status(self) -> NodeStatus:
        network = default_network()
        return NodeStatus("n", network.name, network.network_id.hex(), "contributing", "")

    async def submit(self, kind: str, payload: Any, **kw: Any) -> dict[str, Any]:
        self.submitted.append((kind, payload, kw))
        return {"result": {"ok": 1}, "verified": True, "workers": ["w"], "cost": "0.1"}


def test_a_running_node_gets_the_checked_task(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    payload: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = FakeClient()
    monkeypatch.setattr(ControlClient, "discover", classmethod(lambda cls, data_dir: client))
    code, out, err = submit(
        capsys,
        tmp_path / "data",
        str(payload),
        *("--redundancy", "2", "--priority", "high", "--max-credits", "2.5", "--timeout", "1"),
    )
    assert (code, err) == (0, "verified by 1 worker(s); cost 0.1 credits\n")
    assert json.loads(out) == {"ok": 1}
    kind, sent, kw = client.submitted[0]
    assert (kind, sent) == ("encryption", json.loads(payload.read_text()))
    assert kw == {"redundancy": 2, "priority": "high", "max_credits": "2.5", "timeout_s": 1.0}
