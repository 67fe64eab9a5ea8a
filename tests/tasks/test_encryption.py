"""The encryption kind against the cryptography library."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edgenet_app.tasks.base import ExecContext, PayloadError, TaskError
from edgenet_app.tasks.registry import get_kind

KIND = get_kind("encryption")
KEY, NONCE = os.urandom(32), os.urandom(12)


def run(payload: dict[str, object]) -> dict[str, object]:
    return KIND.execute(KIND.parse(payload), ExecContext(Path(".")))  # type: ignore[no-any-return]


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


@pytest.mark.parametrize("size", [0, 1, 1000, 1 << 20])
def test_encrypt_matches_the_library_and_decrypts_back(size: int) -> None:
    data, aad = os.urandom(size), b"header"
    out = run(
        {"op": "encrypt", "key": b64(KEY), "nonce": b64(NONCE), "data": b64(data), "aad": b64(aad)}
    )
    assert out["data"] == AESGCM(KEY).encrypt(NONCE, data, aad)
    back = run({"op": "decrypt", "key": KEY, "nonce": NONCE, "data": out["data"], "aad": aad})
    assert back["data"] == data


@pytest.mark.parametrize(
    "change", [{"key": os.urandom(32)}, {"nonce": os.urandom(12)}, {"aad": b"other"}]
)
def test_wrong_key_nonce_or_aad_is_an_authentication_error(change: dict[str, bytes]) -> None:
    ct = AESGCM(KEY).encrypt(NONCE, b"secret", b"header")
    payload = {"op": "decrypt", "key": KEY, "nonce": NONCE, "data": ct, "aad": b"header"}
    with pytest.raises(TaskError) as info:
        run({**payload, **change})
    assert info.value.code == "auth_failed"
    tampered = bytearray(ct)
    tampered[-1] ^= 1
    with pytest.raises(TaskError, match="does not match"):
        run({**payload, "data": bytes(tampered)})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"op": "encrypt", "key": "AAAA", "nonce": b64(NONCE), "data": ""}, "exactly 32 bytes"),
        ({"op": "encrypt", "key": b64(KEY), "nonce": b64(b"x" * 8), "data": ""}, "nonce"),
        ({"op": "encrypt", "key": b64(KEY), "nonce": b64(NONCE), "data": "***"}, "base64"),
        ({"op": "zip", "key": b64(KEY), "nonce": b64(NONCE), "data": ""}, "op"),
        ({"op": "decrypt", "key": b64(KEY), "nonce": b64(NONCE), "data": ""}, "16"),
        ({"op": "encrypt", "key": b64(KEY), "nonce": b64(NONCE)}, "data: missing"),
        ({"op": "encrypt", "key": b64(KEY), "nonce": b64(NONCE), "data": "", "x": 1}, "unknown"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_payloads_name_the_field(payload: object, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        KIND.parse(payload)
