"""Pure, deterministic logic: no sockets, files, clocks, Qt or asyncio.

Identity and signatures, the canonical codec, ledger events and their CRDT merge,
balances, the contribution curve and prices, genesis documents, settings schema.
"""

from .economics import contribution_multiplier
from .errors import (
    CodecError,
    EdgenetError,
    IdentityError,
    LedgerError,
    SchemaError,
    SettingsError,
    SignatureError,
    WireError,
)
from .events import Event
from .genesis import Genesis
from .identity import Identity, node_id_of
from .ledger import Ledger
from .ledger_state import Balance

__all__ = [
    "Balance",
    "CodecError",
    "EdgenetError",
    "Event",
    "Genesis",
    "Identity",
    "IdentityError",
    "Ledger",
    "LedgerError",
    "SchemaError",
    "SettingsError",
    "SignatureError",
    "WireError",
    "contribution_multiplier",
    "node_id_of",
]
