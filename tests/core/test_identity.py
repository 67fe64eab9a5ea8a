"""Core identity and key file format: signatures, node ids, sealing, parsing hostile bytes."""

from __future__ import annotations

import json
import random

import nacl.pwhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgenet_app.core import codec, keyfile
from edgenet_app.core.errors import IdentityError, SignatureError
from edgenet_app.core.identity import (
    NODE_ID_RE,
    Identity,
    encryption_public_key,
    is_node_id,
    node_id_of,
    verify,
)

# The cheapest Argon2id cost libsodium allows: keeps the tests fast.
OPS = nacl.pwhash.argon2id.OPSLIMIT_MIN
MEM = nacl.pwhash.argon2id.MEMLIMIT_MIN
PASS = "correct horse battery staple"

ALICE = Identity(bytes(range(32)))
PLAIN = keyfile.dump(ALICE, 1_700_000_000_000)
LOCKED = keyfile.dump(ALICE, 1_700_000_000_000, PASS, ops=OPS, mem=MEM)


def test_sign_and_verify() -> None:
    sig = ALICE.sign(b"hello")
    assert len(sig) == 64
    verify(ALICE.public_key, b"hello", sig)
    with pytest.raises(SignatureError):
        verify(ALICE.public_key, b"hellO", sig)
    with pytest.raises(SignatureError):
        verify(Identity.generate().public_key, b"hello", sig)
    with pytest.raises(SignatureError):
        verify(ALICE.public_key, b"hello", sig[:-1])
    bad = bytearray(sig)
    bad[0] ^= 1
    with pytest.raises(SignatureError):
        verify(ALICE.public_key, b"hello", bytes(bad))


def test_identity_is_deterministic_from_seed() -> None:
    again = Identity(ALICE.seed)
    assert again.public_key == ALICE.public_key
    assert again.node_id == ALICE.node_id
    assert again.encryption_public_key == ALICE.encryption_public_key
    assert encryption_public_key(ALICE.public_key) == ALICE.encryption_public_key
    assert Identity.generate().node_id != Identity.generate().node_id
    with pytest.raises(IdentityError):
        Identity(b"short")


def test_node_id_format() -> None:
    for ident in [ALICE, *(Identity.generate() for _ in range(20))]:
        assert NODE_ID_RE.fullmatch(ident.node_id)
        assert is_node_id(ident.node_id)
        assert ident.node_id == node_id_of(ident.public_key)
    assert not is_node_id("A" * 24)
    assert not is_node_id("a" * 23)
    with pytest.raises(IdentityError):
        node_id_of(b"\x00" * 31)


def test_sealing_round_trip() -> None:
    bob = Identity.generate()
    box = ALICE.seal_to(bob.public_key, b"secret payload")
    assert b"secret payload" not in box
    assert bob.open_from(ALICE.public_key, box) == b"secret payload"
    assert ALICE.open_from(bob.public_key, box) == b"secret payload"  # shared key
    with pytest.raises(SignatureError):
        Identity.generate().open_from(ALICE.public_key, box)
    tampered = bytearray(box)
    tampered[-1] ^= 1
    with pytest.raises(SignatureError):
        bob.open_from(ALICE.public_key, bytes(tampered))


def test_keyfile_round_trip_plain() -> None:
    ident, record = keyfile.load(PLAIN)
    assert ident.seed == ALICE.seed
    assert not record.encrypted
    assert record.created_ms == 1_700_000_000_000
    assert keyfile.parse(PLAIN).public == ALICE.public_key
    # a passphrase given for a plain file is not needed and does no harm
    assert keyfile.load(PLAIN, "unused")[0].seed == ALICE.seed


def test_keyfile_round_trip_passphrase() -> None:
    assert ALICE.seed not in LOCKED
    record = keyfile.parse(LOCKED)  # public part readable without the passphrase
    assert record.encrypted and record.public == ALICE.public_key
    ident, _ = keyfile.load(LOCKED, PASS)
    assert ident.seed == ALICE.seed
    # a new salt every time
    assert keyfile.dump(ALICE, 1, PASS, ops=OPS, mem=MEM) != keyfile.dump(
        ALICE, 1, PASS, ops=OPS, mem=MEM
    )


def test_keyfile_passphrase_errors() -> None:
    with pytest.raises(IdentityError, match="wrong passphrase"):
        keyfile.load(LOCKED, PASS + "!")
    with pytest.raises(IdentityError, match="passphrase is needed"):
        keyfile.load(LOCKED)
    with pytest.raises(IdentityError, match="empty"):
        keyfile.dump(ALICE, 1, "", ops=OPS, mem=MEM)


@pytest.mark.parametrize("data", [PLAIN, LOCKED], ids=["plain", "locked"])
def test_every_truncation_is_an_identity_error(data: bytes) -> None:
    for n in range(len(data)):
        with pytest.raises(IdentityError):
            keyfile.load(data[:n], PASS)
    with pytest.raises(IdentityError, match="empty"):
        keyfile.load(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
        json.dumps({"format": "edgenet-key", "version": 1}).encode(),
        b"-----BEGIN OPENSSH PRIVATE KEY-----\n",
        b"\x00" * 64,
        random.Random(1).randbytes(128),
        random.Random(2).randbytes(300),
        codec.encode({"format": "something-else", "version": 1}),
        codec.encode([1, 2, 3]),
        codec.encode(7),
    ],
    ids=["png", "json", "ssh", "zeros", "random128", "random300", "foreign", "list", "int"],
)
def test_foreign_bytes_are_not_a_key_file(data: bytes) -> None:
    with pytest.raises(IdentityError, match="not an edgenet key file"):
        keyfile.load(data)


def test_other_rejections() -> None:
    with pytest.raises(IdentityError, match="bytes"):
        keyfile.parse(b"\x80" * (keyfile.MAX_KEYFILE_BYTES + 1))
    wire = codec.decode(PLAIN)
    with pytest.raises(IdentityError, match="unsupported key file version 2"):
        keyfile.parse(codec.encode({**wire, "version": 2}))
    with pytest.raises(IdentityError, match="corrupt"):
        keyfile.parse(codec.encode({**wire, "extra": 1}))
    with pytest.raises(IdentityError, match="corrupt"):
        keyfile.parse(codec.encode({**wire, "secret": b"\x01" * 31}))
    other = Identity.generate()
    with pytest.raises(IdentityError, match="does not match its public key"):
        keyfile.load(codec.encode({**wire, "public": other.public_key}))


@settings(max_examples=200, deadline=None)
@given(
    locked=st.booleans(),
    where=st.integers(min_value=0, max_value=10_000),
    value=st.integers(min_value=0, max_value=255),
)
def test_single_byte_mutation_never_yields_another_identity(
    locked: bool, where: int, value: int
) -> None:
    data = LOCKED if locked else PLAIN
    mutated = bytearray(data)
    mutated[where % len(data)] = value
    try:
        ident, _ = keyfile.load(bytes(mutated), PASS)
    except IdentityError:
        return
    assert ident.seed == ALICE.seed
    assert ident.public_key == ALICE.public_key
