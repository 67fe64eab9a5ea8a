"""What every task kind declares, and the errors tasks raise.

A task kind is one module exposing a `KIND: TaskKind`. Payloads and results are
JSON-compatible values (dicts, lists, str, int, float, bool, None; binary data as
base64 strings), so the same payload works from a JSON file, the Python API and the
network (where the canonical codec carries it). `parse` validates a payload completely
before any work starts; `execute` runs inside a worker process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import EdgenetError

Json = Any  # a JSON-compatible value


class TaskError(EdgenetError):
    """A task failed. `code` is stable and machine-readable; the message is for people."""

    code = "failed"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class PayloadError(TaskError):
    """The payload breaks its schema; the message names the field and the rule."""

    code = "bad_payload"


class ResourceLimitError(TaskError):
    """Out of time, memory or fuel."""

    code = "limit"


@dataclass(frozen=True)
class Verification:
    """How redundant results are compared: exactly, or numbers within a tolerance."""

    mode: str  # "exact" | "tolerance"
    tolerance: float = 0.0

    def agree(self, a: Json, b: Json) -> bool:
        if self.mode == "exact":
            return bool(a == b)
        return _close(a, b, self.tolerance)

    def describe(self) -> str:
        if self.mode == "exact":
            return "exact"
        return f"numbers within ±{self.tolerance:g} (absolute), everything else exact"


EXACT = Verification("exact")


def _close(a: Json, b: Json, tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        try:
            return bool(math.isfinite(a) and math.isfinite(b) and abs(a - b) <= tol)
        except OverflowError:
            return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    return bool(a == b)


@dataclass(frozen=True)
class Limits:
    """Per-task resource limits enforced by the pool and, where possible, the kind."""

    timeout_s: float = 30.0
    memory_mb: int = 512
    wasm_fuel: int = 2_000_000_000

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout_s, int | float) and 0 < self.timeout_s < 1e7):
            raise ValueError(
                f"timeout_s must be a positive number of seconds, got {self.timeout_s}"
            )
        if not 16 <= self.memory_mb <= 1 << 20:
            raise ValueError(f"memory_mb must be 16–1048576, got {self.memory_mb}")
        if not 1 <= self.wasm_fuel <= 10**15:
            raise ValueError(f"wasm_fuel must be 1–10^15, got {self.wasm_fuel}")


@dataclass
class ExecContext:
    """What an executor may use: its own data directory, model location, and limits."""

    data_dir: Path
    limits: Limits = field(default_factory=Limits)
    model_dir: Path | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # per-worker-process cache


@dataclass(frozen=True)
class TaskKind:
    """A task kind: schemas, price, verification mode and executor."""

    name: str
    summary: str
    payload_schema: Mapping[str, Json]  # field -> {"type", "required", "rule"}
    result_schema: Mapping[str, Json]
    verification: Verification
    parse: Callable[[Json], Any]  # validated, typed payload (raises PayloadError)
    size: Callable[[Any], int]  # units the price is per (see core.economics.PRICES)
    execute: Callable[[Any, ExecContext], Json]
    small_example: Callable[[], Json]  # a tiny valid payload (tests, benchmarks)

    def describe(self) -> dict[str, Json]:
        from ..core.economics import PRICES, format_credits

        price = PRICES[self.name]
        return {
            "kind": self.name,
            "summary": self.summary,
            "price": f"{format_credits(price.credits_micro)} credits per {price.per:,} "
            f"{price.unit}",
            "verification": self.verification.describe(),
            "payload": dict(self.payload_schema),
            "result": dict(self.result_schema),
        }
