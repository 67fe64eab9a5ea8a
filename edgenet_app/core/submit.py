"""A task submission, checked once: the one contract between the Python API, the control
API, the CLI and the node (`Node.submit`). The payload itself is checked by its kind
(`tasks/`), where numpy and friends live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import economics as econ
from .errors import RequestError
from .taskmsg import MAX_REDUNDANCY, PRIORITIES

MIN_TIMEOUT_S = 1.0  # the submitter's assignment deadline is half of it, at least 5 s
MAX_TIMEOUT_S = 86_400.0  # one day
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class SubmitRequest:
    """One task to run: `kind` and its raw `payload`; `redundancy` workers; `priority`;
    `timeout_s` seconds; at most `max_credits` micro-credits in all (None: no cap).

    Construction validates every field and raises `RequestError(field, reason)` naming
    the allowed range and its unit."""

    kind: str
    payload: Any
    redundancy: int = econ.DEFAULT_REDUNDANCY
    priority: str = "normal"
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_credits: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in econ.TASK_KINDS:
            raise RequestError(
                "type", f"unknown task kind {self.kind!r}; known: {', '.join(econ.TASK_KINDS)}"
            )
        r = self.redundancy
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= MAX_REDUNDANCY:
            raise RequestError(
                "redundancy", f"{r!r} workers is out of range; allowed 1–{MAX_REDUNDANCY} workers"
            )
        if self.priority not in PRIORITIES:
            raise RequestError(
                "priority",
                f"expected one of {', '.join(map(repr, PRIORITIES))}, got {self.priority!r}",
            )
        t = self.timeout_s
        if (
            isinstance(t, bool)
            or not isinstance(t, int | float)
            or not MIN_TIMEOUT_S <= t <= MAX_TIMEOUT_S  # False for NaN; no float() of a huge int
        ):
            shown = f"{str(t)[:20]}…" if isinstance(t, int) and len(str(t)) > 20 else repr(t)
            raise RequestError(
                "timeout",
                f"{shown} s is out of range; allowed {MIN_TIMEOUT_S:g}–{MAX_TIMEOUT_S:g} s",
            )
        m = self.max_credits
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 0):
            raise RequestError("max_credits", f"expected micro-credits ≥ 0, got {m!r}")
