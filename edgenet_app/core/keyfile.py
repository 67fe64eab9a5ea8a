"""The key file format (pure: bytes in, bytes out; the runtime does the file I/O).

A key file is the canonical encoding of a map::

    {"format": "edgenet-key", "version": 1, "public": <32 bytes>, "created_ms": int,
     "kdf": null | {"alg": "argon2id13", "salt": <16 bytes>, "ops": int, "mem": int},
     "secret": <32-byte seed, or SecretBox(seed) under the Argon2id-derived key>}

Loading checks the format tag, the version, every field, and that the secret matches
the public key, so a truncated, corrupt or foreign file is an `IdentityError` naming
what is wrong, never a silently different identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from . import codec
from .errors import CodecError, IdentityError, SchemaError
from .identity import Identity
from .schema import Record, spec

FORMAT = "edgenet-key"
VERSION = 1
MAX_KEYFILE_BYTES = 4096
KDF_ALG = "argon2id13"
# Argon2id cost: MODERATE (3 passes, 256 MiB) by default; tests may pass cheaper costs.
DEFAULT_OPS = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
DEFAULT_MEM = nacl.pwhash.argon2id.MEMLIMIT_MODERATE


@dataclass(frozen=True)
class Kdf(Record):
    alg: str = spec(choices=(KDF_ALG,))
    salt: bytes = spec(length=nacl.pwhash.argon2id.SALTBYTES)
    ops: int = spec(min=nacl.pwhash.argon2id.OPSLIMIT_MIN, max=64)
    mem: int = spec(min=nacl.pwhash.argon2id.MEMLIMIT_MIN, max=4 * 1024**3)


@dataclass(frozen=True)
class KeyFile(Record):
    format: str
    version: int
    kdf: Kdf | None  # before the spec() fields: mypy reads spec(...) as a default
    public: bytes = spec(length=32)
    created_ms: int = spec(min=0)
    secret: bytes = spec(max_len=128)

    @property
    def encrypted(self) -> bool:
        return self.kdf is not None


def _derive(passphrase: str, kdf: Kdf) -> bytes:
    return bytes(
        nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode("utf-8"),
            kdf.salt,
            opslimit=kdf.ops,
            memlimit=kdf.mem,
        )
    )


def dump(
    identity: Identity,
    created_ms: int,
    passphrase: str | None = None,
    *,
    ops: int = DEFAULT_OPS,
    mem: int = DEFAULT_MEM,
) -> bytes:
    """Serialise an identity, encrypting the secret if a passphrase is given."""
    kdf = None
    secret = identity.seed
    if passphrase is not None:
        if not passphrase:
            raise IdentityError("the passphrase is empty")
        kdf = Kdf(KDF_ALG, nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES), ops, mem)
        secret = bytes(nacl.secret.SecretBox(_derive(passphrase, kdf)).encrypt(secret))
    record = KeyFile(
        format=FORMAT,
        version=VERSION,
        kdf=kdf,
        public=identity.public_key,
        created_ms=created_ms,
        secret=secret,
    )
    return record.encode()


def parse(data: bytes) -> KeyFile:
    """Parse and check a key file without decrypting it."""
    if len(data) == 0:
        raise IdentityError("the key file is empty")
    if len(data) > MAX_KEYFILE_BYTES:
        raise IdentityError(f"the key file is {len(data)} bytes; an edgenet key file is < 1 KiB")
    try:
        raw = codec.decode(data, max_bytes=MAX_KEYFILE_BYTES)
    except CodecError as exc:
        if not (data[0] & 0xF0 == 0x80 and FORMAT.encode() in data[:64]):
            raise IdentityError("this is not an edgenet key file") from None
        raise IdentityError(f"the key file is corrupt or truncated ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise IdentityError("this is not an edgenet key file (no 'edgenet-key' format tag)")
    if raw.get("version") != VERSION:
        raise IdentityError(
            f"unsupported key file version {raw.get('version')!r}; expected {VERSION}"
        )
    try:
        record = KeyFile.from_wire(raw)
    except SchemaError as exc:
        raise IdentityError(f"the key file is corrupt: {exc}") from None
    if record.kdf is None and len(record.secret) != 32:
        raise IdentityError("the key file is corrupt: the secret is not 32 bytes")
    return record


def load(data: bytes, passphrase: str | None = None) -> tuple[Identity, KeyFile]:
    """Parse, decrypt and check a key file."""
    record = parse(data)
    seed = record.secret
    if record.kdf is not None:
        if passphrase is None:
            raise IdentityError("the key file is passphrase-protected; a passphrase is needed")
        try:
            seed = bytes(nacl.secret.SecretBox(_derive(passphrase, record.kdf)).decrypt(seed))
        except nacl.exceptions.CryptoError:
            raise IdentityError("wrong passphrase (or the key file is corrupt)") from None
    identity = Identity(seed)
    if identity.public_key != record.public:
        raise IdentityError("the key file is corrupt: its secret does not match its public key")
    return identity, record
