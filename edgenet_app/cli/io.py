"""Input and output helpers shared by the commands."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from ..core.errors import EdgenetError

MAX_PAYLOAD_FILE = 64 * 1024 * 1024


class InputError(EdgenetError):
    """A file or stream given on the command line cannot be used."""


def read_payload(source: str) -> Any:
    """A JSON payload from a file, or from standard input when `source` is '-'."""
    try:
        if source == "-":
            text = sys.stdin.read(MAX_PAYLOAD_FILE + 1)
            if len(text) > MAX_PAYLOAD_FILE:
                raise InputError(f"the payload is larger than {MAX_PAYLOAD_FILE >> 20} MiB")
        else:
            path = Path(source)
            if path.stat().st_size > MAX_PAYLOAD_FILE:
                raise InputError(f"{path} is larger than {MAX_PAYLOAD_FILE >> 20} MiB")
            text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no payload file at {source}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {source}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        raise InputError(f"{source} cannot be read as a payload: {exc}") from None


async def until_stopped() -> None:
    """Return when the process gets SIGINT or SIGTERM (Ctrl-C elsewhere)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    await stop.wait()
