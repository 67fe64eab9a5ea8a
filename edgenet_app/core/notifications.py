"""A node's notifications: what happened, as typed events. The node emits them to its
listeners; the control API streams them as JSON objects tagged by "event"; the control
client and the desktop app read them back with `from_json`. Credits are micro-credits."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import WireError
from .status import MAX_INT


@dataclass(frozen=True)
class LedgerNote:
    """A new ledger event, ours or a peer's."""

    EVENT: ClassVar[str] = "ledger"
    kind: str
    id: str
    author: str  # node id


@dataclass(frozen=True)
class CreditNote:
    """A settlement paying this node."""

    EVENT: ClassVar[str] = "credit"
    amount: int  # micro-credits
    task: str
    payer: str  # node id


@dataclass(frozen=True)
class TaskNote:
    """This node ran a task for a peer."""

    EVENT: ClassVar[str] = "task"
    kind: str
    task: str
    ok: bool
    cpu_ms: int
    error: str | None = None  # an error code when not ok


@dataclass(frozen=True)
class StateNote:
    """The node started or stopped contributing, or for another reason."""

    EVENT: ClassVar[str] = "state"
    state: str
    reason: str


@dataclass(frozen=True)
class RelayNote:
    """The node reconnected to a relay."""

    EVENT: ClassVar[str] = "relay"
    url: str
    online: int  # peers the relay lists


@dataclass(frozen=True)
class SpotCheckFailedNote:
    """A worker got a spot-check wrong and is barred by this node for 24 h."""

    EVENT: ClassVar[str] = "spot_check_failed"
    worker: str  # node id


@dataclass(frozen=True)
class ErrorNote:
    """Something went wrong that the user should know of."""

    EVENT: ClassVar[str] = "error"
    message: str


Notification = (
    LedgerNote | CreditNote | TaskNote | StateNote | RelayNote | SpotCheckFailedNote | ErrorNote
)
KINDS: dict[str, type[Notification]] = {
    c.EVENT: c
    for c in (
        LedgerNote,
        CreditNote,
        TaskNote,
        StateNote,
        RelayNote,
        SpotCheckFailedNote,
        ErrorNote,
    )
}
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "str | None": (str, type(None)),
}


# every field of every notification has one of these types (checked at import)
for _cls in KINDS.values():
    for _f in dataclasses.fields(_cls):
        if str(_f.type) not in _TYPES:
            raise TypeError(f"{_cls.__name__}.{_f.name}: no reader for {_f.type}")


def to_json(note: Notification) -> dict[str, Any]:
    """{"event": "credit", "amount": 1500000, ...}"""
    return {"event": note.EVENT, **dataclasses.asdict(note)}


def from_json(value: object) -> Notification:
    """The notification in a JSON object; WireError if it is not one (unknown events too:
    a client should skip those, they may be newer than it)."""
    if not isinstance(value, Mapping):
        raise WireError(f"notification: expected an object, got {type(value).__name__}")
    event = value.get("event")
    cls = KINDS.get(event) if isinstance(event, str) else None
    if cls is None:
        raise WireError(f"notification: unknown event {event!r}")
    args: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in value:
            if f.default is dataclasses.MISSING:
                raise WireError(f"notification {event}.{f.name}: missing")
            continue
        v, allowed = value[f.name], _TYPES[str(f.type)]
        if not isinstance(v, allowed) or (isinstance(v, bool) and bool not in allowed):
            raise WireError(f"notification {event}.{f.name}: unexpected {type(v).__name__}")
        if isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= MAX_INT:
            raise WireError(f"notification {event}.{f.name}: {str(v)[:20]} is out of range")
        args[f.name] = v
    return cls(**args)
