"""`encryption`: AES-256-GCM encrypt or decrypt with a key, nonce and associated data.

Payload: {"op": "encrypt"|"decrypt", "key": 32 bytes, "nonce": 12 bytes, "data": ≤ 16 MiB
(for decrypt, ciphertext with its 16-byte tag), "aad": optional}. Binary fields are bytes
(Python API, network) or base64 text (JSON files). Result: {"data": bytes} (JSON output shows
base64). A wrong key, nonce, AAD or tag is an `auth_failed` error.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .base import EXACT, ExecContext, Json, TaskError, TaskKind
from .payload import Fields, b64

MAX_DATA = 16 * 1024 * 1024


@dataclass(frozen=True)
class Payload:
    op: str
    key: bytes
    nonce: bytes
    data: bytes
    aad: bytes | None


def parse(obj: Json) -> Payload:
    f = Fields(obj, "encryption")
    op = f.str("op", choices=("encrypt", "decrypt"))
    p = Payload(
        op,
        f.b64("key", max_bytes=32, length=32),
        f.b64("nonce", max_bytes=12, length=12),
        f.b64("data", max_bytes=MAX_DATA + 16, min_bytes=16 if op == "decrypt" else 0),
        f.b64("aad", max_bytes=64 * 1024, required=False),
    )
    f.done()
    return p


def execute(p: Payload, ctx: ExecContext) -> Json:
    aes = AESGCM(p.key)
    if p.op == "encrypt":
        return {"data": aes.encrypt(p.nonce, p.data, p.aad)}
    try:
        return {"data": aes.decrypt(p.nonce, p.data, p.aad)}
    except InvalidTag:
        raise TaskError(
            "decryption failed: the key, nonce, associated data or tag does not match",
            code="auth_failed",
        ) from None


def size(p: Payload) -> int:
    return max(1, len(p.data))


def small_example() -> Json:
    return {
        "op": "encrypt",
        "key": b64(bytes(range(32))),
        "nonce": b64(bytes(12)),
        "data": b64(b"hello edgenet"),
        "aad": b64(b"header"),
    }


KIND = TaskKind(
    name="encryption",
    summary="AES-256-GCM encrypt or decrypt (key, nonce, optional associated data)",
    payload_schema={
        "op": {"type": "string", "required": True, "rule": "encrypt | decrypt"},
        "key": {"type": "base64", "required": True, "rule": "exactly 32 bytes"},
        "nonce": {"type": "base64", "required": True, "rule": "exactly 12 bytes, never reused"},
        "data": {
            "type": "base64",
            "required": True,
            "rule": "≤ 16 MiB; for decrypt the ciphertext followed by its 16-byte tag",
        },
        "aad": {"type": "base64", "required": False, "rule": "≤ 64 KiB associated data"},
    },
    result_schema={"data": {"type": "bytes", "rule": "ciphertext+tag, or plaintext"}},
    verification=EXACT,
    parse=parse,
    size=size,
    execute=execute,
    small_example=small_example,
)

__all__ = ["KIND", "Payload", "execute", "parse", "size"]
