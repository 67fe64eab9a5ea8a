"""The node's key file on disk.

Everything that touches `identity.key` goes through here. The rules:

- a key file is never overwritten by accident: creating refuses if *anything* is at the
  key path, and new files are linked into place so that two racing creators cannot both
  win; the only replacement is `import_keyfile(force=True)`, which keeps a `.bak-` copy;
- files are written atomically (temp file 0600 in the same directory, fsync, rename,
  fsync of the directory) and the data directory is created 0700;
- loading refuses a key file that group or others can access (POSIX), and never creates
  a new identity: a missing, corrupt or locked file is an `IdentityError` naming the path.
"""

from __future__ import annotations

import datetime as dt
import errno
import getpass
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nacl.pwhash

from ..._fs import atomic_write, fsync_dir, temp_file
from ...core import keyfile
from ...core.errors import IdentityError
from ...core.identity import Identity, encryption_public_key, node_id_of
from ...core.keyfile import KeyFile
from .paths import key_path

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "EDGENET_PASSPHRASE"
KDF_COSTS: dict[str, tuple[int, int]] = {
    "interactive": (
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ),
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "sensitive": (
        nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE,
        nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE,
    ),
}
DEFAULT_KDF_COST = "moderate"
_POSIX = os.name == "posix"


# ----------------------------------------------------------------------------- reading


def key_exists(data_dir: Path) -> bool:
    """True if anything at all (even a broken link or a directory) is at the key path."""
    return os.path.lexists(key_path(data_dir))


def _read(path: Path, *, private: bool, missing: str) -> bytes:
    """Read a small regular file; with `private`, refuse group/other access bits."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise IdentityError(missing) from None
    except OSError as exc:
        raise IdentityError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IdentityError(f"{path} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if private and _POSIX and mode & 0o077:
            raise IdentityError(
                f"permissions {mode:04o} on {path} are too open; run: chmod 600 {path}"
            )
        chunks: list[bytes] = []
        size = 0
        while size <= keyfile.MAX_KEYFILE_BYTES:  # read one byte past the limit at most
            chunk = os.read(fd, keyfile.MAX_KEYFILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise IdentityError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_key(data_dir: Path) -> tuple[Path, bytes]:
    path = key_path(data_dir)
    missing = f"no identity at {path}; run `edgenet identity create`"
    if os.path.lexists(path) and not path.exists():
        missing = f"{path} is a broken symbolic link"
    return path, _read(path, private=True, missing=missing)


def _parse(path: Path, data: bytes) -> KeyFile:
    try:
        return keyfile.parse(data)
    except IdentityError as exc:
        raise IdentityError(f"{path}: {exc}") from None


def _load(path: Path, data: bytes, passphrase: str | None) -> tuple[Identity, KeyFile]:
    if passphrase is None and _parse(path, data).encrypted:
        raise IdentityError(
            f"{path} is passphrase-protected; give the passphrase with --ask-passphrase, "
            f"--passphrase-file FILE or ${PASSPHRASE_ENV}"
        )
    try:
        return keyfile.load(data, passphrase)
    except IdentityError as exc:
        raise IdentityError(f"{path}: {exc}") from None


def _check(path: Path, data: bytes) -> KeyFile:
    """Parse; for an unencrypted file also check that the secret matches the public key."""
    record = _parse(path, data)
    if not record.encrypted:
        _load(path, data, None)
    return record


def read_keyfile(data_dir: Path) -> KeyFile:
    """The key file's public part (public key, creation time, whether it is encrypted).

    Needs no passphrase; an unencrypted file is fully checked, an encrypted one only parsed.
    """
    return _check(*_read_key(data_dir))


def load_identity(data_dir: Path, passphrase: str | None = None) -> Identity:
    """Load and check the identity; never creates one."""
    return _load(*_read_key(data_dir), passphrase)[0]


# ----------------------------------------------------------------------------- writing


def _ensure_data_dir(path: Path) -> None:
    if path.is_dir():
        return
    try:
        path.mkdir(parents=True, mode=0o700)
        if _POSIX:
            path.chmod(0o700)
    except FileExistsError:
        if not path.is_dir():
            raise IdentityError(f"{path} exists and is not a directory") from None
    except OSError as exc:
        raise IdentityError(f"cannot create {path}: {exc.strerror or exc}") from None


def _write_new(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomically create `path`; FileExistsError if anything is already there."""
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "file exists", str(path))
    tmp = temp_file(path, data, mode)
    try:
        try:
            os.link(tmp, path)  # unlike rename, link never replaces an existing file
        except FileExistsError:
            raise
        except OSError:  # no hard links on this file system: check, then rename
            if os.path.lexists(path):
                raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def exists_error(path: Path) -> IdentityError:
    """The error for creating an identity where one already exists."""
    return IdentityError(
        f"an identity already exists at {path}; refusing to replace it "
        "(use --exist-ok to keep and use it)"
    )


def ensure_identity(
    data_dir: Path,
    passphrase: str | None = None,
    *,
    ops: int = keyfile.DEFAULT_OPS,
    mem: int = keyfile.DEFAULT_MEM,
) -> tuple[Identity, bool]:
    """Load the identity, or create one if nothing at all is at the key path.

    Returns (identity, created). A corrupt or locked key file raises; it is never replaced.
    """
    path = key_path(data_dir)
    if not key_exists(data_dir):
        identity = Identity.generate()
        data = keyfile.dump(identity, _now_ms(), passphrase, ops=ops, mem=mem)
        _ensure_data_dir(data_dir)
        try:
            _write_new(path, data)
        except FileExistsError:
            pass  # someone else created it meanwhile: load theirs below
        except OSError as exc:
            raise IdentityError(f"cannot write {path}: {exc.strerror or exc}") from None
        else:
            log.info("created a new identity %s at %s", identity.node_id, path)
            return identity, True
    return load_identity(data_dir, passphrase), False


def create_identity(
    data_dir: Path,
    passphrase: str | None = None,
    *,
    ops: int = keyfile.DEFAULT_OPS,
    mem: int = keyfile.DEFAULT_MEM,
    exist_ok: bool = False,
) -> Identity:
    """Create a new identity; refuses if anything is at the key path unless `exist_ok`
    (then the existing one is loaded, and must be valid)."""
    if key_exists(data_dir) and not exist_ok:
        raise exists_error(key_path(data_dir))
    identity, created = ensure_identity(data_dir, passphrase, ops=ops, mem=mem)
    if not created and not exist_ok:
        raise exists_error(key_path(data_dir))
    return identity


# ----------------------------------------------------------------------------- import/export


@dataclass(frozen=True)
class Imported:
    identity: Identity
    key_file: KeyFile
    path: Path
    backup: Path | None


def _backup_name(path: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        n += 1
    return candidate


def import_keyfile(
    data_dir: Path, source: Path, passphrase: str | None = None, force: bool = False
) -> Imported:
    """Install the key file `source` as this data dir's identity, byte for byte.

    The file is fully checked first (an encrypted one needs its passphrase). An existing
    identity is replaced only with `force`, and is first copied to `identity.key.bak-<UTC>`.
    """
    data = _read(source, private=False, missing=f"no such file: {source}")
    identity, record = _load(source, data, passphrase)
    path = key_path(data_dir)
    _ensure_data_dir(data_dir)
    try:
        if not os.path.lexists(path):
            try:
                _write_new(path, data)
                return Imported(identity, record, path, None)
            except FileExistsError:
                pass
        if not force:
            raise IdentityError(
                f"an identity already exists at {path}; use --force to replace it "
                "(the old key is kept as a .bak file)"
            )
        if not path.is_file():
            raise IdentityError(f"{path} is not a regular file; move it away first")
        old = path.read_bytes()
        while True:
            backup = _backup_name(path)
            try:
                _write_new(backup, old)
                break
            except FileExistsError:
                continue
        atomic_write(path, data)
    except OSError as exc:
        raise IdentityError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from None
    log.info("imported identity %s into %s (old key kept as %s)", identity.node_id, path, backup)
    return Imported(identity, record, path, backup)


def created_iso(record: KeyFile) -> str:
    """The key's creation time as ISO-8601 UTC (`2024-05-01T12:00:00Z`)."""
    try:
        when = dt.datetime.fromtimestamp(record.created_ms / 1000, dt.UTC)
    except (OverflowError, ValueError, OSError):
        return f"{record.created_ms} ms since the epoch"
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def public_info(record: KeyFile) -> dict[str, str]:
    """What may be shown or shared about an identity."""
    return {
        "node_id": node_id_of(record.public),
        "public_key": record.public.hex(),
        "encryption_public_key": encryption_public_key(record.public).hex(),
        "created": created_iso(record),
    }


def export_keyfile(data_dir: Path, dest: Path, public_only: bool = False) -> KeyFile:
    """Copy the key file to `dest` (0600), or with `public_only` write the public part as
    JSON. Never overwrites `dest`. Returns the exported key file's record."""
    src, data = _read_key(data_dir)
    record = _check(src, data)
    if public_only:
        out = (json.dumps(public_info(record), indent=2) + "\n").encode("utf-8")
        mode = 0o644
    else:
        out, mode = data, 0o600
    if not dest.parent.is_dir():
        raise IdentityError(f"cannot write {dest}: {dest.parent} is not a directory")
    try:
        _write_new(dest, out, mode)
    except FileExistsError:
        raise IdentityError(f"{dest} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise IdentityError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return record


# ----------------------------------------------------------------------------- passphrases


def kdf_limits(cost: str) -> tuple[int, int]:
    """(opslimit, memlimit) for a named Argon2id cost."""
    try:
        return KDF_COSTS[cost]
    except KeyError:
        names = ", ".join(KDF_COSTS)
        raise IdentityError(f"unknown KDF cost {cost!r}; choose one of {names}") from None


def _checked(passphrase: str, where: str) -> str:
    if not passphrase:
        raise IdentityError(f"the passphrase from {where} is empty")
    try:
        passphrase.encode("utf-8")
    except UnicodeEncodeError:
        raise IdentityError(f"the passphrase from {where} is not valid UTF-8") from None
    return passphrase


def read_passphrase(
    *,
    file: Path | None = None,
    ask: bool = False,
    confirm: bool = False,
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] = getpass.getpass,
) -> str | None:
    """The passphrase from `file` (its first line), else from asking (twice with
    `confirm`), else from $EDGENET_PASSPHRASE; None if none was given."""
    if file is not None:
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise IdentityError(f"cannot read passphrase file {file}: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise IdentityError(f"the passphrase file {file} is not UTF-8") from None
        return _checked(text.split("\n", 1)[0].removesuffix("\r"), f"file {file}")
    if ask:
        try:
            first = prompt("Passphrase: ")
            if confirm and prompt("Repeat passphrase: ") != first:
                raise IdentityError("the passphrases do not match")
        except EOFError:
            raise IdentityError("no passphrase entered") from None
        return _checked(first, "the prompt")
    value = (os.environ if environ is None else environ).get(PASSPHRASE_ENV)
    return _checked(value, f"${PASSPHRASE_ENV}") if value else None
