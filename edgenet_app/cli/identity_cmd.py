"""`edgenet identity create | show | export | import`: the node's key pair.

The key file is the truth. `create` and `import` also record the identity in the store's
metadata (`identity.node_id`, `identity.public_key` as hex, `identity.created_ms`), so the rest
of the node can tell which identity its ledger and history belong to. `show` needs no store;
when one exists and its record names another node (the key file was swapped), it warns on
stderr and updates the record. A store that cannot be opened is a warning, never a failure of
an identity command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from ..core.errors import EdgenetError
from ..core.identity import node_id_of
from ..core.keyfile import KeyFile
from ..runtime.store import keystore, paths

META_NODE_ID: Final = "identity.node_id"
META_PUBLIC_KEY: Final = "identity.public_key"
META_CREATED_MS: Final = "identity.created_ms"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "identity",
        help="create, show, export or import this node's identity (its key pair)",
        description="This node's identity: an Ed25519 key pair kept in the data directory.",
    )
    p.set_defaults(func=lambda args: _help(p))
    cmds = p.add_subparsers(dest="identity_command", metavar="SUBCOMMAND")

    c = cmds.add_parser("create", help="create a new identity (refuses to replace one)")
    c.add_argument(
        "--exist-ok", action="store_true", help="if an identity exists, keep and show it"
    )
    _passphrase_options(c)
    c.add_argument(
        "--kdf-cost",
        choices=list(keystore.KDF_COSTS),
        default=keystore.DEFAULT_KDF_COST,
        help="Argon2id cost for a passphrase (default: %(default)s)",
    )
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_create)

    s = cmds.add_parser("show", help="show the public identity (no passphrase needed)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_show)

    e = cmds.add_parser("export", help="copy the key file (or only its public part)")
    e.add_argument("--out", metavar="FILE", required=True, type=Path, help="file to write")
    e.add_argument("--public", action="store_true", help="write only the public identity, as JSON")
    e.set_defaults(func=_export)

    i = cmds.add_parser("import", help="install a key file as this node's identity")
    i.add_argument("file", metavar="FILE", type=Path, help="an exported edgenet key file")
    i.add_argument(
        "--force", action="store_true", help="replace an existing identity (kept as .bak)"
    )
    _passphrase_options(i)
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=_import)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _passphrase_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--passphrase-file",
        metavar="FILE",
        type=Path,
        help=f"read the passphrase from the first line of FILE (else ${keystore.PASSPHRASE_ENV})",
    )
    g.add_argument("--ask-passphrase", action="store_true", help="prompt for the passphrase")


def _passphrase(args: argparse.Namespace, *, confirm: bool = False) -> str | None:
    return keystore.read_passphrase(
        file=args.passphrase_file, ask=args.ask_passphrase, confirm=confirm
    )


def _data_dir(args: argparse.Namespace) -> Path:
    return paths.data_dir(args.data_dir)


def _info(data_dir: Path, record: KeyFile) -> dict[str, Any]:
    info: dict[str, Any] = dict(keystore.public_info(record))
    info["encrypted"] = record.encrypted
    info["key_file"] = str(paths.key_path(data_dir))
    return info


def _print_info(info: dict[str, Any]) -> None:
    print(f"node id:         {info['node_id']}")
    print(f"public key:      {info['public_key']}")
    print(f"encryption key:  {info['encryption_public_key']}")
    print(f"created:         {info['created']}")
    print(f"encrypted:       {'yes (passphrase)' if info['encrypted'] else 'no'}")
    print(f"key file:        {info['key_file']}")


def _warn(message: str) -> None:
    print(f"edgenet: warning: {message}", file=sys.stderr)


def identity_meta(record: KeyFile) -> dict[str, str]:
    """The store metadata describing the identity of `record` (node id written last)."""
    return {
        META_PUBLIC_KEY: record.public.hex(),
        META_CREATED_MS: str(record.created_ms),
        META_NODE_ID: node_id_of(record.public),
    }


def _record_identity(base: Path, record: KeyFile, *, create: bool, check: bool) -> None:
    """Write `record`'s identity into the store's metadata where it differs.

    `create`: open (creating) the store even if it does not exist yet; otherwise a missing
    store is left alone. `check`: warn if the store recorded another node id (a swapped key
    file); off when `create` or `import` has just installed a new key on purpose.
    """
    from ..runtime.store.store import Store

    store_path = paths.store_path(base)
    if not create and not store_path.exists():
        return
    wanted = identity_meta(record)
    try:
        if create:
            paths.ensure_private_dir(base)
        with Store.open(store_path) as store:
            recorded = store.get_meta(META_NODE_ID)
            if check and recorded is not None and recorded != wanted[META_NODE_ID]:
                _warn(
                    f"the store {store_path} recorded node {recorded}, but the key file "
                    f"{paths.key_path(base)} is node {wanted[META_NODE_ID]} (was the key file "
                    "replaced?); the key file wins, the store's record was updated"
                )
            for key, value in wanted.items():  # the node id last: it vouches for the rest
                if store.get_meta(key) != value:
                    store.set_meta(key, value)
    except (EdgenetError, OSError) as exc:
        _warn(f"could not record the identity in the store: {exc}")


def _create(args: argparse.Namespace) -> int:
    base = _data_dir(args)
    ops, mem = keystore.kdf_limits(args.kdf_cost)
    exists = keystore.key_exists(base)
    if exists and not args.exist_ok:
        raise keystore.exists_error(paths.key_path(base))
    passphrase = _passphrase(args, confirm=not exists)
    if args.exist_ok:
        _, new = keystore.ensure_identity(base, passphrase, ops=ops, mem=mem)
    else:
        keystore.create_identity(base, passphrase, ops=ops, mem=mem)
        new = True
    record = keystore.read_keyfile(base)
    _record_identity(base, record, create=True, check=not new)
    info = _info(base, record)
    if args.json:
        print(json.dumps({**info, "new": new}))
        return 0
    if new:
        print(f"Created identity {info['node_id']}")
        print(f"  key file: {info['key_file']}")
        if not info["encrypted"]:
            print("  no passphrase: anyone who can read this file can act as this node")
    else:
        print(f"Identity {info['node_id']} already exists; kept it")
        print(f"  key file: {info['key_file']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    base = _data_dir(args)
    record = keystore.read_keyfile(base)
    _record_identity(base, record, create=False, check=True)
    info = _info(base, record)
    if args.json:
        print(json.dumps(info))
    else:
        _print_info(info)
    return 0


def _export(args: argparse.Namespace) -> int:
    out: Path = args.out
    record = keystore.export_keyfile(_data_dir(args), out, public_only=args.public)
    node = keystore.public_info(record)["node_id"]
    if args.public:
        print(f"Wrote the public identity of {node} to {out}")
    else:
        print(f"Exported the key of {node} to {out}")
        print("  keep it secret: it is this node's private key")
    return 0


def _import(args: argparse.Namespace) -> int:
    base = _data_dir(args)
    done = keystore.import_keyfile(base, args.file, _passphrase(args), force=args.force)
    _record_identity(base, done.key_file, create=True, check=False)
    node = done.identity.node_id
    if args.json:
        backup = None if done.backup is None else str(done.backup)
        print(json.dumps({**_info(base, done.key_file), "backup": backup}))
        return 0
    print(f"Imported identity {node}")
    print(f"  key file: {done.path}")
    if done.backup is not None:
        print(f"  previous key kept as: {done.backup}")
    return 0
