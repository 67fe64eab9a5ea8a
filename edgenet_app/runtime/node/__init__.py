"""The node: a few services that own their state, wired together by `Node`."""

from ...core.errors import NodeError, NoRelayError
from .node import Node, SubmitResult
from .options import NodeOptions

__all__ = ["NoRelayError", "Node", "NodeError", "NodeOptions", "SubmitResult"]
