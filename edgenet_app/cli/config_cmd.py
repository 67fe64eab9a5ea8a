"""`edgenet config ...`: show, change and export settings.

Values shown are the effective ones (defaults < store < `--config` file < command-line flags);
`set` and `unset` change the store. `list` and `get` take every settings flag a node takes
(`add_settings_flags`), so `edgenet --config lab.toml config list --cpu-limit 0.5` previews what a
node started with those options would use. The store is only created by commands that write to it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.settings import (
    SETTINGS,
    SettingValue,
    describe,
    describe_allowed,
    format_value,
    get_setting,
    parse_value,
)
from ..runtime.store import paths
from ..runtime.store.config import (
    EffectiveSettings,
    effective_settings,
    export_toml,
    load_toml,
    store_setting,
)
from .settings_flags import add_settings_flags, overrides_from_args

if TYPE_CHECKING:
    from ..runtime.store.store import Store


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "config",
        help="show, change and export settings",
        description="Show, change and export settings. Values come from, lowest first: the "
        "defaults, the store (`config set`), the --config file, command-line flags.",
    )
    p.set_defaults(func=lambda args: _help(p))
    actions = p.add_subparsers(dest="config_action", metavar="ACTION")

    preview = (
        " Settings flags (e.g. --cpu-limit 0.5) are applied as a node would apply them, so the "
        "output previews what a node started with those options would use."
    )
    q = actions.add_parser(
        "list",
        help="every setting with its value, default and source",
        description="Every setting with its effective value, default and source." + preview,
    )
    q.add_argument("--json", action="store_true", help="machine-readable output")
    add_settings_flags(q)
    q.set_defaults(func=cmd_list)

    q = actions.add_parser(
        "get",
        help="print one setting's effective value",
        description="Print one setting's effective value." + preview,
    )
    q.add_argument("key", metavar="KEY")
    q.add_argument("--json", action="store_true", help="print the value as JSON")
    add_settings_flags(q)
    q.set_defaults(func=cmd_get)

    q = actions.add_parser("set", help="validate and store a setting")
    q.add_argument("key", metavar="KEY")
    q.add_argument("value", metavar="VALUE", help="e.g. 0.5, 30%%, yes, mon-fri 09:00-17:00, a,b")
    q.set_defaults(func=cmd_set)

    q = actions.add_parser("unset", help="remove a stored setting (back to its default)")
    q.add_argument("key", metavar="KEY")
    q.set_defaults(func=cmd_unset)

    q = actions.add_parser("export", help="effective settings as a TOML file for --config")
    q.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    q.set_defaults(func=cmd_export)

    q = actions.add_parser("schema", help="the declared settings schema")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_schema)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


@contextmanager
def _open_store(args: argparse.Namespace, *, create: bool) -> Iterator[Store | None]:
    from ..runtime.store.store import Store

    base = paths.data_dir(args.data_dir)
    path = paths.store_path(base)
    if not create and not path.exists():
        yield None
        return
    paths.ensure_private_dir(base)
    with Store.open(path) as store:
        yield store


def _effective(args: argparse.Namespace) -> EffectiveSettings:
    """The layers a node started with these arguments would use: settings flags (where the
    command takes them) are parsed and validated before the store is opened."""
    overrides = overrides_from_args(args)
    with _open_store(args, create=False) as store:
        return effective_settings(store, getattr(args, "config", None), overrides)


def _show(value: SettingValue, key: str | None = None) -> str:
    if key is not None and isinstance(value, tuple) and value == get_setting(key).choices:
        return "(all)"
    return format_value(value) or "(none)"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    eff = _effective(args)
    if args.json:
        items = [
            {
                "key": s.key,
                "value": eff.values[s.key],
                "default": s.default,
                "source": eff.sources[s.key],
                "help": s.help,
            }
            for s in SETTINGS
        ]
        print(json.dumps(items, indent=2, ensure_ascii=False))
        return 0
    rows = [["KEY", "VALUE", "DEFAULT", "SOURCE", "HELP"]]
    for s in SETTINGS:
        value = eff.values[s.key]
        rows.append(
            [s.key, _show(value, s.key), _show(s.default, s.key), eff.sources[s.key], s.help]
        )
    print(_table(rows))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    key = get_setting(args.key).key
    value = _effective(args).values[key]
    print(_json(value) if args.json else format_value(value))
    return 0


def _change(args: argparse.Namespace, value: SettingValue | None) -> int:
    key = get_setting(args.key).key
    config = getattr(args, "config", None)
    in_file = load_toml(config) if config else {}  # a broken --config fails before any change
    with _open_store(args, create=True) as store:
        assert store is not None
        stored_before = key in store.get_settings()
        old, new = store_setting(store, key, value)
    if value is None and not stored_before:
        print(f"{key}: not stored; already the default ({_show(new)})")
    else:
        suffix = " (default)" if value is None else ""
        print(f"{key}: {_show(old)} -> {_show(new)}{suffix}")
    if key in in_file:
        print(f"note: {config} sets {key} = {_show(in_file[key])}, which takes precedence")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    return _change(args, parse_value(args.key, args.value))


def cmd_unset(args: argparse.Namespace) -> int:
    return _change(args, None)


def cmd_export(args: argparse.Namespace) -> int:
    text = export_toml(_effective(args).values)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps([describe(s) for s in SETTINGS], indent=2, ensure_ascii=False))
        return 0
    rows = [["KEY", "TYPE", "DEFAULT", "ALLOWED"]]
    for s in SETTINGS:
        rows.append([s.key, describe(s)["type"], _show(s.default, s.key), describe_allowed(s)])
    print(_table(rows))
    return 0
