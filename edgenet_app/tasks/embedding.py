"""`embedding`: all-MiniLM-L6-v2 sentence embeddings (384-d), computed without torch.

Payload: {"texts": [str] (1–256 texts, each 1–2,000 characters and not only whitespace,
at most 50,000 characters in all: a token costs the same whatever the text count, and this
keeps the worst case (≤ ~50k tokens) inside the default time limit on two cores),
"normalize": bool (default true: L2-normalised, as sentence-transformers' model card uses it;
false: the raw mean-pooled vectors)}. Texts longer than 256 tokens are truncated, as
sentence-transformers does.
Result: {"model": "all-MiniLM-L6-v2", "dim": 384, "embeddings": [[384 numbers] per text]}, in
input order. Numbers are the float32 results rounded to 7 decimal places (≤ 5e-8 absolute:
below float32 resolution near 1, and keeps JSON short). Redundant results agree within 1e-4
absolute: CPUs and BLAS builds differ in the last float32 bits (measured ≤ 2e-7 against a
float64 reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import minilm
from .base import ExecContext, Json, PayloadError, TaskKind, Verification
from .payload import Fields

MAX_TEXTS = 256
MAX_CHARS = 2000
MAX_TOTAL_CHARS = 50_000  # ≤ ~50k tokens: worst case well inside the default 30 s on 2 cores
DECIMALS = 7
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Payload:
    texts: tuple[str, ...]
    normalize: bool


def parse(obj: Json) -> Payload:
    f = Fields(obj, "embedding")
    texts = f.str_list("texts", max_items=MAX_TEXTS, max_len=MAX_CHARS)
    check_not_blank(texts, f.path("texts"))
    total = sum(map(len, texts))
    if total > MAX_TOTAL_CHARS:
        raise PayloadError(
            f"{f.path('texts')}: {total:,} characters in all; the limit is {MAX_TOTAL_CHARS:,} "
            "(split the texts over several tasks)"
        )
    normalize = f.bool("normalize", default=True)
    f.done()
    return Payload(tuple(texts), normalize)


def check_not_blank(texts: list[str], path: str) -> None:
    """Empty or whitespace-only texts carry no meaning; reject them by index."""
    for i, text in enumerate(texts):
        if not text.strip():
            raise PayloadError(f"{path}[{i}]: must not be empty or only whitespace")


def execute(p: Payload, ctx: ExecContext) -> Json:
    vectors = minilm.embed(p.texts, ctx.model_dir, normalize=p.normalize)
    return {
        "model": minilm.MODEL_NAME,
        "dim": minilm.DIM,
        "embeddings": np.round(vectors.astype(np.float64), DECIMALS).tolist(),
    }


def size(p: Payload) -> int:
    return len(p.texts)


def small_example() -> Json:
    return {"texts": ["Hello world", "Lend idle CPU to a peer-to-peer compute network."]}


KIND = TaskKind(
    name="embedding",
    summary="all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised), no torch",
    payload_schema={
        "texts": {
            "type": "list of strings",
            "required": True,
            "rule": f"1–{MAX_TEXTS} texts, each 1–{MAX_CHARS:,} characters and not only "
            f"whitespace, ≤ {MAX_TOTAL_CHARS:,} characters in all; longer than 256 tokens is "
            "truncated",
        },
        "normalize": {
            "type": "boolean",
            "required": False,
            "rule": "default true (unit length); false returns the mean-pooled vectors",
        },
    },
    result_schema={
        "model": {"type": "string", "rule": minilm.MODEL_NAME},
        "dim": {"type": "integer", "rule": str(minilm.DIM)},
        "embeddings": {
            "type": "list of number lists",
            "rule": f"one {minilm.DIM}-number vector per text, in input order, "
            f"rounded to {DECIMALS} decimal places",
        },
    },
    verification=Verification("tolerance", TOLERANCE),
    parse=parse,
    size=size,
    execute=execute,
    small_example=small_example,
)

__all__ = ["KIND", "Payload", "execute", "parse", "size"]
