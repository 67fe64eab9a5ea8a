"""Exception types shared by the core. Every rejection carries a precise, human message."""

from __future__ import annotations


class EdgenetError(Exception):
    """Base class of every error edgenet raises on purpose."""


class WireError(EdgenetError, ValueError):
    """Bytes or values from outside could not be accepted."""


class CodecError(WireError):
    """Bytes are not a valid canonical encoding."""


class SchemaError(WireError):
    """A decoded value does not match its declared schema."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)


class SignatureError(WireError):
    """A signature does not verify."""


class IdentityError(EdgenetError):
    """A key file is missing, corrupt, foreign, or locked."""


class LedgerError(EdgenetError):
    """An event was refused by the ledger."""


class SettingsError(EdgenetError, ValueError):
    """A settings value is invalid."""


class RequestError(EdgenetError, ValueError):
    """A request (a task submission, an argument) is not acceptable as given."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}" if field else message)


class NodeError(EdgenetError):
    """A running node could not do what was asked (not started, not enough credits...)."""


class NoRelayError(NodeError):
    """No relay could be reached: nothing is wrong with the request; try again later."""
