"""`edgenet identity ...` and the key store behind it, driven through the CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edgenet_app.cli import main
from edgenet_app.core import keyfile
from edgenet_app.core.errors import IdentityError
from edgenet_app.core.identity import NODE_ID_RE, Identity
from edgenet_app.runtime.store import keystore, paths
from edgenet_app.runtime.store.store import Store

POSIX = os.name == "posix"
FAST = ["--kdf-cost", "interactive"]
ROOT = Path(__file__).resolve().parents[2]
SHOW_JSON = ["identity", "show", "--json"]
META_KEYS = ("identity.node_id", "identity.public_key", "identity.created_ms")


@pytest.fixture(autouse=True)
def _no_env_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(keystore.PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv("EDGENET_DATA_DIR", raising=False)


def run(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--data-dir", str(data), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def key(data: Path) -> Path:
    return data / "identity.key"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def show_json(capsys: pytest.CaptureFixture[str], data: Path) -> dict[str, object]:
    code, out, err = run(capsys, data, "identity", "show", "--json")
    assert code == 0, err
    info: dict[str, object] = json.loads(out)
    return info


def test_create_then_show(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "node"
    code, out, _ = run(capsys, data, "identity", "create")
    assert code == 0
    assert "Created identity" in out and str(key(data)) in out
    info = show_json(capsys, data)
    assert NODE_ID_RE.fullmatch(str(info["node_id"]))
    assert str(info["node_id"]) in out
    assert info["encrypted"] is False
    assert info["key_file"] == str(key(data))
    assert str(info["created"]).endswith("Z")
    ident = keystore.load_identity(data)
    assert info["public_key"] == ident.public_key.hex()
    assert info["encryption_public_key"] == ident.encryption_public_key.hex()
    code, out, _ = run(capsys, data, "identity", "show")
    assert code == 0 and ident.node_id in out and "encrypted" in out


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_create_makes_private_file_and_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "a" / "b"
    assert run(capsys, data, "identity", "create", "--json")[0] == 0
    assert mode(key(data)) == 0o600
    assert mode(data) == 0o700
    assert mode(paths.store_path(data)) == 0o600
    # no temp files left: only the key and the store that records it
    assert sorted(p.name for p in data.iterdir()) == ["edgenet.sqlite3", "identity.key"]


def test_create_twice_refuses_and_keeps_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, tmp_path, "identity", "create")[0] == 0
    before = key(tmp_path).read_bytes()
    code, out, err = run(capsys, tmp_path, "identity", "create")
    assert code == 1 and out == ""
    assert "already exists" in err and str(key(tmp_path)) in err
    assert key(tmp_path).read_bytes() == before
    code, out, _ = run(capsys, tmp_path, "identity", "create", "--exist-ok", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["new"] is False
    assert result["node_id"] == Identity(keyfile.load(before)[0].seed).node_id
    assert key(tmp_path).read_bytes() == before


def test_identity_without_subcommand_prints_help(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, tmp_path, "identity")
    assert code == 0
    assert "create" in out and "show" in out and "import" in out
    assert not tmp_path.joinpath("identity.key").exists()


def test_show_without_identity(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, tmp_path, "identity", "show")
    assert code == 1
    assert "no identity at" in err and "edgenet identity create" in err
    assert not key(tmp_path).exists()


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_too_open_permissions_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, tmp_path, "identity", "create")[0] == 0
    key(tmp_path).chmod(0o644)
    code, _, err = run(capsys, tmp_path, "identity", "show")
    assert code == 1
    assert f"permissions 0644 on {key(tmp_path)} are too open" in err
    assert f"chmod 600 {key(tmp_path)}" in err
    with pytest.raises(IdentityError, match="too open"):
        keystore.ensure_identity(tmp_path)
    key(tmp_path).chmod(0o600)
    assert run(capsys, tmp_path, "identity", "show")[0] == 0


BAD_FILES: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda good: good[: len(good) // 2],
    "one-byte": lambda good: good[:1],
    "empty": lambda good: b"",
    "flipped": lambda good: good[:-20] + bytes([good[-20] ^ 0xFF]) + good[-19:],
    "png": lambda good: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "json": lambda good: b'{"node_id": "x"}\n',
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_corrupt_key_file_is_never_replaced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    data = tmp_path / "node"
    assert run(capsys, data, "identity", "create")[0] == 0
    bad = BAD_FILES[kind](key(data).read_bytes())
    key(data).write_bytes(bad)
    key(data).chmod(0o600)
    out_file = str(tmp_path / "out.key")
    for argv in (["show"], ["create"], ["create", "--exist-ok"], ["export", "--out", out_file]):
        code, _, err = run(capsys, data, "identity", *argv)
        assert code == 1, argv
        assert err.startswith("edgenet: error: ") and err.count("\n") == 1
        if argv != ["create"]:
            assert str(key(data)) in err
            assert any(w in err for w in ("corrupt", "truncated", "not an edgenet", "empty"))
        assert key(data).read_bytes() == bad
    with pytest.raises(IdentityError):
        keystore.ensure_identity(data)
    with pytest.raises(IdentityError):
        keystore.load_identity(data)
    assert key(data).read_bytes() == bad
    assert sorted(p.name for p in data.iterdir()) == ["edgenet.sqlite3", "identity.key"]
    assert not (tmp_path / "out.key").exists()


def test_ensure_identity_creates_only_when_absent(tmp_path: Path) -> None:
    first, created = keystore.ensure_identity(tmp_path / "n")
    assert created
    again, created = keystore.ensure_identity(tmp_path / "n")
    assert not created and again.seed == first.seed
    (tmp_path / "d").mkdir()
    key(tmp_path / "d").mkdir()  # something (not a file) is at the key path
    with pytest.raises(IdentityError, match="not a regular file"):
        keystore.ensure_identity(tmp_path / "d")
    with pytest.raises(IdentityError, match="already exists"):
        keystore.create_identity(tmp_path / "d")


def test_passphrase_via_env(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "hunter2 is long enough")
    assert run(capsys, tmp_path, "identity", "create", *FAST)[0] == 0
    monkeypatch.delenv(keystore.PASSPHRASE_ENV)
    info = show_json(capsys, tmp_path)  # the public part needs no passphrase
    assert info["encrypted"] is True
    assert b"hunter2" not in key(tmp_path).read_bytes()
    code, _, err = run(capsys, tmp_path, "identity", "create", "--exist-ok")
    assert code == 1 and "passphrase-protected" in err
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "wrong")
    code, _, err = run(capsys, tmp_path, "identity", "create", "--exist-ok")
    assert code == 1 and "wrong passphrase" in err and str(key(tmp_path)) in err
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "hunter2 is long enough")
    code, out, _ = run(capsys, tmp_path, "identity", "create", "--exist-ok", "--json")
    assert code == 0 and json.loads(out)["node_id"] == info["node_id"]
    ident = keystore.load_identity(tmp_path, "hunter2 is long enough")
    assert ident.node_id == info["node_id"]


def test_passphrase_via_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "node"
    pw = tmp_path / "pw.txt"
    pw.write_text("open sesame\nsecond line ignored\n")
    args = ["--passphrase-file", str(pw)]
    assert run(capsys, data, "identity", "create", *FAST, *args)[0] == 0
    assert keystore.read_keyfile(data).encrypted
    assert keystore.load_identity(data, "open sesame").node_id == show_json(capsys, data)["node_id"]
    pw.write_text("open sesame")  # no trailing newline: same passphrase
    assert run(capsys, data, "identity", "create", "--exist-ok", *args)[0] == 0
    pw.write_text("")
    code, _, err = run(capsys, data, "identity", "create", "--exist-ok", *args)
    assert code == 1 and "empty" in err
    code, _, err = run(capsys, data, "identity", "create", *args[:1], str(tmp_path / "nope"))
    assert code == 1 and "already exists" in err


def test_ask_passphrase(tmp_path: Path) -> None:
    answers = iter(["one", "two"])
    with pytest.raises(IdentityError, match="do not match"):
        keystore.read_passphrase(ask=True, confirm=True, prompt=lambda _: next(answers))
    assert keystore.read_passphrase(ask=True, confirm=True, prompt=lambda _: "same") == "same"
    assert keystore.read_passphrase(environ={}) is None
    assert keystore.read_passphrase(environ={keystore.PASSPHRASE_ENV: "e"}) == "e"


def test_export_import_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(capsys, a, "identity", "create")[0] == 0
    node = show_json(capsys, a)["node_id"]
    exported = tmp_path / "backup.key"
    code, out, _ = run(capsys, a, "identity", "export", "--out", str(exported))
    assert code == 0 and str(exported) in out
    assert exported.read_bytes() == key(a).read_bytes()
    if POSIX:
        assert mode(exported) == 0o600
    code, _, err = run(capsys, a, "identity", "export", "--out", str(exported))
    assert code == 1 and "already exists" in err

    public = tmp_path / "public.json"
    assert run(capsys, a, "identity", "export", "--public", "--out", str(public))[0] == 0
    pub = json.loads(public.read_text())
    assert pub["node_id"] == node
    assert set(pub) == {"node_id", "public_key", "encryption_public_key", "created"}

    code, out, _ = run(capsys, b, "identity", "import", str(exported), "--json")
    assert code == 0 and json.loads(out)["node_id"] == node
    assert show_json(capsys, b)["node_id"] == node
    if POSIX:
        assert mode(key(b)) == 0o600


def test_import_refuses_without_force(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(capsys, a, "identity", "create")[0] == 0
    assert run(capsys, b, "identity", "create")[0] == 0
    old_b = key(b).read_bytes()
    code, _, err = run(capsys, b, "identity", "import", str(key(a)))
    assert code == 1 and "--force" in err
    assert key(b).read_bytes() == old_b

    code, out, _ = run(capsys, b, "identity", "import", str(key(a)), "--force")
    assert code == 0 and "previous key kept as" in out
    assert key(b).read_bytes() == key(a).read_bytes()
    backups = list(b.glob("identity.key.bak-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == old_b
    if POSIX:
        assert mode(backups[0]) == 0o600
    assert show_json(capsys, b)["node_id"] == show_json(capsys, a)["node_id"]


def test_import_validates_before_touching(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "pass phrase")
    assert run(capsys, a, "identity", "create", *FAST)[0] == 0
    monkeypatch.delenv(keystore.PASSPHRASE_ENV)
    assert run(capsys, b, "identity", "create")[0] == 0
    old_b = key(b).read_bytes()
    junk = tmp_path / "junk.key"
    junk.write_bytes(key(a).read_bytes()[:-3])
    for argv, message in [
        ([str(key(a)), "--force"], "passphrase-protected"),
        ([str(junk), "--force"], "corrupt or truncated"),
        ([str(tmp_path / "missing"), "--force"], "no such file"),
    ]:
        code, _, err = run(capsys, b, "identity", "import", *argv)
        assert code == 1 and message in err
        assert key(b).read_bytes() == old_b
        assert not list(b.glob("*.bak-*"))
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "not it")
    code, _, err = run(capsys, b, "identity", "import", str(key(a)), "--force")
    assert code == 1 and "wrong passphrase" in err and key(b).read_bytes() == old_b
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "pass phrase")
    assert run(capsys, b, "identity", "import", str(key(a)), "--force")[0] == 0
    assert keystore.read_keyfile(b).encrypted  # installed as-is, still encrypted


@pytest.mark.slow
def test_subprocess_show_json(tmp_path: Path) -> None:
    ident = keystore.create_identity(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGENET_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "edgenet_app", "--data-dir", str(tmp_path), *SHOW_JSON],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["node_id"] == ident.node_id


# --- identity metadata in the store -----------------------------------------------------------


def store_meta(data: Path) -> dict[str, str | None]:
    with Store.open(paths.store_path(data)) as store:
        return {k: store.get_meta(k) for k in META_KEYS}


def expected_meta(data: Path) -> dict[str, str | None]:
    record = keystore.read_keyfile(data)
    return {
        "identity.node_id": keystore.public_info(record)["node_id"],
        "identity.public_key": record.public.hex(),
        "identity.created_ms": str(record.created_ms),
    }


def test_create_records_identity_in_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "node"
    code, _, err = run(capsys, data, "identity", "create")
    assert (code, err) == (0, "")
    info = show_json(capsys, data)
    meta = store_meta(data)
    assert meta == expected_meta(data)
    assert meta["identity.node_id"] == info["node_id"]
    assert meta["identity.public_key"] == info["public_key"]
    assert int(str(meta["identity.created_ms"])) == keystore.read_keyfile(data).created_ms


def test_create_encrypted_and_exist_ok_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, "correct horse battery")
    assert run(capsys, tmp_path / "enc", "identity", "create", *FAST)[0] == 0
    assert store_meta(tmp_path / "enc") == expected_meta(tmp_path / "enc")
    monkeypatch.delenv(keystore.PASSPHRASE_ENV)
    # an identity made before there was a store: `create --exist-ok` records it
    keystore.create_identity(tmp_path / "old")
    assert not paths.store_path(tmp_path / "old").exists()
    code, _, err = run(capsys, tmp_path / "old", "identity", "create", "--exist-ok")
    assert (code, err) == (0, "")
    assert store_meta(tmp_path / "old") == expected_meta(tmp_path / "old")


def test_import_records_identity_in_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(capsys, a, "identity", "create")[0] == 0
    code, _, err = run(capsys, b, "identity", "import", str(key(a)))
    assert (code, err) == (0, "")
    assert store_meta(b) == expected_meta(a)
    c = tmp_path / "c"
    assert run(capsys, c, "identity", "create")[0] == 0
    code, _, err = run(capsys, b, "identity", "import", str(key(c)), "--force")
    assert (code, err) == (0, "")  # replacing on purpose: no warning
    assert store_meta(b) == expected_meta(c)
    # a failed import leaves the record alone
    assert run(capsys, b, "identity", "import", str(tmp_path / "missing"), "--force")[0] == 1
    assert store_meta(b) == expected_meta(c)


def test_show_works_without_store_and_does_not_create_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ident = keystore.create_identity(tmp_path)
    code, out, err = run(capsys, tmp_path, *SHOW_JSON)
    assert (code, err) == (0, "")
    assert json.loads(out)["node_id"] == ident.node_id
    assert not paths.store_path(tmp_path).exists()
    # once a store exists (e.g. from `config set`), show fills in the missing record quietly
    assert run(capsys, tmp_path, "config", "set", "cpu_limit", "0.5")[0] == 0
    assert store_meta(tmp_path)["identity.node_id"] is None
    code, _, err = run(capsys, tmp_path, *SHOW_JSON)
    assert (code, err) == (0, "")
    assert store_meta(tmp_path) == expected_meta(tmp_path)


@pytest.mark.parametrize("argv", [SHOW_JSON, ["identity", "show"]])
def test_show_warns_when_key_file_was_swapped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    node, other = tmp_path / "node", tmp_path / "other"
    assert run(capsys, node, "identity", "create")[0] == 0
    assert run(capsys, other, "identity", "create")[0] == 0
    old_id = show_json(capsys, node)["node_id"]
    new_id = show_json(capsys, other)["node_id"]
    key(node).write_bytes(key(other).read_bytes())  # someone swapped the key file
    key(node).chmod(0o600)

    code, out, err = run(capsys, node, *argv)
    assert code == 0
    assert str(new_id) in out and str(old_id) not in out  # the key file is the truth
    assert err.startswith("edgenet: warning: ") and err.count("\n") == 1
    assert f"recorded node {old_id}" in err and f"is node {new_id}" in err
    assert str(paths.store_path(node)) in err and str(key(node)) in err
    assert store_meta(node) == expected_meta(other)  # the record follows the key file
    code, _, err = run(capsys, node, *argv)
    assert (code, err) == (0, "")  # warned once


def test_create_exist_ok_warns_when_key_file_was_swapped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    node, other = tmp_path / "node", tmp_path / "other"
    assert run(capsys, node, "identity", "create")[0] == 0
    assert run(capsys, other, "identity", "create")[0] == 0
    key(node).write_bytes(key(other).read_bytes())
    code, out, err = run(capsys, node, "identity", "create", "--exist-ok", "--json")
    assert code == 0 and json.loads(out)["new"] is False
    assert "recorded node" in err and str(json.loads(out)["node_id"]) in err
    assert store_meta(node) == expected_meta(other)


def test_unusable_store_is_a_warning_not_a_failure(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tmp_path.joinpath(paths.STORE_FILE).write_bytes(b"not a database at all, just text\n")
    code, out, err = run(capsys, tmp_path, "identity", "create", "--json")
    assert code == 0 and json.loads(out)["new"] is True
    assert err.startswith("edgenet: warning: could not record the identity in the store: ")
    assert "not an edgenet store" in err
    code, out, err = run(capsys, tmp_path, *SHOW_JSON)
    assert code == 0 and json.loads(out)["node_id"] == keystore.load_identity(tmp_path).node_id
    assert "could not record the identity" in err
    assert tmp_path.joinpath(paths.STORE_FILE).read_bytes().startswith(b"not a database")
