"""Node identity: one Ed25519 key pair; the X25519 encryption keys are derived from it.

The node id is a short printable name for the public key: 24 lowercase base32
characters of BLAKE2b-120(public key). It is for people and configuration (grants,
allow-lists); signed messages carry the full 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
import re

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from .errors import IdentityError, SignatureError

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
NODE_ID_RE = re.compile(r"[a-z2-7]{24}")


def node_id_of(public_key: bytes) -> str:
    """The printable node id of an Ed25519 public key."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise IdentityError(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(public_key)}")
    digest = hashlib.blake2b(public_key, digest_size=15, person=b"edgenet-nodeid").digest()
    return base64.b32encode(digest).decode("ascii").lower()


def is_node_id(text: str) -> bool:
    return bool(NODE_ID_RE.fullmatch(text))


def verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise SignatureError unless `signature` is `public_key`'s over `message`."""
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureError(f"signature must be {SIGNATURE_BYTES} bytes, got {len(signature)}")
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        raise SignatureError("signature does not verify") from None


def encryption_public_key(public_key: bytes) -> bytes:
    """The X25519 public key that belongs to an Ed25519 public key."""
    try:
        return bytes(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key))
    except Exception:
        raise IdentityError("not a valid Ed25519 public key") from None


class Identity:
    """A node's private identity. Holds the 32-byte Ed25519 seed in memory."""

    __slots__ = ("_box_key", "_signing", "public_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise IdentityError(f"secret seed must be 32 bytes, got {len(seed)}")
        self._signing = nacl.signing.SigningKey(seed)
        self.public_key: bytes = bytes(self._signing.verify_key)
        self._box_key = self._signing.to_curve25519_private_key()

    @classmethod
    def generate(cls) -> Identity:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        return bytes(self._signing)

    @property
    def node_id(self) -> str:
        return node_id_of(self.public_key)

    @property
    def encryption_public_key(self) -> bytes:
        return bytes(self._box_key.public_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._signing.sign(message).signature)

    def seal_to(self, recipient_public_key: bytes, plaintext: bytes) -> bytes:
        """Encrypt and authenticate `plaintext` for one recipient (X25519 + XSalsa20-Poly1305)."""
        box = nacl.public.Box(
            self._box_key, nacl.public.PublicKey(encryption_public_key(recipient_public_key))
        )
        return bytes(box.encrypt(plaintext))

    def open_from(self, sender_public_key: bytes, ciphertext: bytes) -> bytes:
        box = nacl.public.Box(
            self._box_key, nacl.public.PublicKey(encryption_public_key(sender_public_key))
        )
        try:
            return bytes(box.decrypt(ciphertext))
        except nacl.exceptions.CryptoError:
            raise SignatureError("ciphertext does not authenticate") from None

    def __repr__(self) -> str:
        return f"Identity(node_id={self.node_id!r})"
