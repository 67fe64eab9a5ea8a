"""`semantic_match`: rank agents (or capabilities) for task descriptions by embedding similarity.

Payload: exactly one of {"query": str} or {"queries": [str] (1–100)}, each 1–2,000 characters;
"agents": [{"id": str, "description": str} or {"id": str, "vector": [384 numbers]}] (1–1,000,
unique ids of 1–128 characters; descriptions 1–1,000 characters; vectors are all-MiniLM-L6-v2
embeddings, e.g. from the `embedding` kind, any non-zero length); "top_k": int 1–100 (default 5).
Queries and descriptions together hold at most 50,000 characters, which keeps the worst case
within the default time limit on two cores; give larger agent sets as vectors.

Result: {"matches": [[{"id": str, "score": float}, …] per query, in query order]}, at most
top_k per query. The score is the cosine similarity of the query's and the agent's
all-MiniLM-L6-v2 embeddings, computed in float64 and rounded to 6 decimal places; matches are
sorted by score (descending), ties by id (ascending code points). Rounding first makes equal
inputs (duplicate descriptions or vectors) tie exactly on every machine, so their order is
decided by id. Redundant results agree when ids match exactly and scores within 1e-4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import minilm
from .base import ExecContext, Json, PayloadError, TaskKind, Verification
from .embedding import check_not_blank
from .payload import Fields

MAX_QUERIES = 100
MAX_AGENTS = 1000
MAX_TOP_K = 100
MAX_QUERY_CHARS = 2000
MAX_DESCRIPTION_CHARS = 1000
MAX_ID_CHARS = 128
MAX_TOTAL_CHARS = 50_000
DECIMALS = 6
TOLERANCE = 1e-4
WHERE = "semantic_match"


@dataclass(frozen=True)
class Agent:
    id: str
    description: str | None = None
    vector: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True)
class Payload:
    queries: tuple[str, ...]
    agents: tuple[Agent, ...]
    top_k: int


def parse(obj: Json) -> Payload:
    f = Fields(obj, WHERE)
    query = f.str("query", required=False, max_len=MAX_QUERY_CHARS)
    many = f.str_list("queries", max_items=MAX_QUERIES, max_len=MAX_QUERY_CHARS, required=False)
    if (query is None) == (many is None):
        raise PayloadError(
            f"{WHERE}: give exactly one of 'query' (a string) or 'queries' (a list of "
            f"1–{MAX_QUERIES} strings), got {'both' if query is not None else 'neither'}"
        )
    if query is not None:
        _check_text(query, f.path("query"))
        queries = [query]
    else:
        check_not_blank(many, f.path("queries"))
        queries = many
    raw = f.obj_list("agents", max_items=MAX_AGENTS)
    agents = tuple(_agent(a, f"{f.path('agents')}[{i}]") for i, a in enumerate(raw))
    _check_unique(agents, f.path("agents"))
    total = sum(map(len, queries)) + sum(len(a.description or "") for a in agents)
    if total > MAX_TOTAL_CHARS:
        raise PayloadError(
            f"{WHERE}: queries and agent descriptions hold {total:,} characters; the limit is "
            f"{MAX_TOTAL_CHARS:,} (give agents as vectors from the embedding kind instead)"
        )
    top_k = f.int("top_k", 1, MAX_TOP_K, default=5)
    f.done()
    return Payload(tuple(queries), agents, top_k)


def _agent(obj: Json, path: str) -> Agent:
    if not isinstance(obj, dict):
        raise PayloadError(f"{path}: must be an object {{id, description}} or {{id, vector}}")
    g = Fields(obj, path)
    agent_id = g.str("id", min_len=1, max_len=MAX_ID_CHARS)
    description = g.str("description", required=False, min_len=1, max_len=MAX_DESCRIPTION_CHARS)
    raw = g.raw("vector", required=False)
    g.done()
    vector = None if raw is None else _vector(raw, g.path("vector"))
    if (description is None) == (vector is None):
        raise PayloadError(f"{path}: give exactly one of 'description' or 'vector'")
    if description is not None:
        _check_text(description, g.path("description"))
    return Agent(agent_id, description, vector)


def _vector(v: Json, path: str) -> npt.NDArray[np.float64]:
    if not isinstance(v, list) or len(v) != minilm.DIM:
        got = f"{len(v)} items" if isinstance(v, list) else type(v).__name__
        raise PayloadError(f"{path}: must be a list of {minilm.DIM} numbers, got {got}")
    for j, x in enumerate(v):
        if not _finite_number(x):
            raise PayloadError(f"{path}[{j}]: must be a finite number, got {x!r:.40}")
    arr = np.array(v, dtype=np.float64)
    if not 0.0 < float(np.linalg.norm(arr)) < math.inf:
        raise PayloadError(f"{path}: must have a finite, non-zero length (cosine needs one)")
    return arr


def _finite_number(x: Json) -> bool:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an integer too large for a float
        return False


def _check_text(text: str, path: str) -> None:
    if not text.strip():
        raise PayloadError(f"{path}: must not be empty or only whitespace")


def _check_unique(agents: tuple[Agent, ...], path: str) -> None:
    first: dict[str, int] = {}
    for i, a in enumerate(agents):
        if a.id in first:
            raise PayloadError(
                f"{path}[{i}].id: duplicate id {a.id!r} (already used by {path}[{first[a.id]}])"
            )
        first[a.id] = i


def execute(p: Payload, ctx: ExecContext) -> Json:
    scores = similarities(p, ctx)
    ids = [a.id for a in p.agents]
    rank = {agent_id: r for r, agent_id in enumerate(sorted(ids))}
    id_rank = np.array([rank[agent_id] for agent_id in ids])
    k = min(p.top_k, len(ids))
    matches = []
    for row in scores:
        order = np.lexsort((id_rank, -row))[:k]  # last key is primary: score desc, then id
        matches.append([{"id": ids[j], "score": float(row[j])} for j in order])
    return {"matches": matches}


def similarities(p: Payload, ctx: ExecContext) -> npt.NDArray[np.float64]:
    """Cosine similarities, (queries, agents), float64 rounded to DECIMALS places."""
    described = [i for i, a in enumerate(p.agents) if a.description is not None]
    texts = [p.agents[i].description or "" for i in described]
    embedded = minilm.embed([*p.queries, *texts], ctx.model_dir)  # one pass, equal texts once
    queries = _unit(embedded[: len(p.queries)])
    agents = np.zeros((len(p.agents), minilm.DIM), dtype=np.float64)
    agents[described] = embedded[len(p.queries) :]
    for i, a in enumerate(p.agents):
        if a.vector is not None:
            agents[i] = a.vector
    scores: npt.NDArray[np.float64] = np.round(queries @ _unit(agents).T, DECIMALS)
    return scores


def _unit(m: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    m64 = np.asarray(m, dtype=np.float64)
    out: npt.NDArray[np.float64] = m64 / np.linalg.norm(m64, axis=1, keepdims=True)
    return out


def size(p: Payload) -> int:
    return len(p.queries)


def small_example() -> Json:
    return {
        "query": "Translate a contract from German to English",
        "agents": [
            {"id": "translator", "description": "Translates documents between languages"},
            {"id": "coder", "description": "Writes and reviews Python code"},
            {"id": "painter", "description": "Paints portraits in oil"},
        ],
        "top_k": 2,
    }


KIND = TaskKind(
    name="semantic_match",
    summary="rank agents for task descriptions by all-MiniLM-L6-v2 cosine similarity",
    payload_schema={
        "query": {
            "type": "string",
            "required": False,
            "rule": f"1–{MAX_QUERY_CHARS:,} characters; exactly one of query / queries",
        },
        "queries": {
            "type": "list of strings",
            "required": False,
            "rule": f"1–{MAX_QUERIES} texts of 1–{MAX_QUERY_CHARS:,} characters",
        },
        "agents": {
            "type": "list of objects",
            "required": True,
            "rule": f"1–{MAX_AGENTS:,} of {{id, description}} or {{id, vector}}; unique ids "
            f"(1–{MAX_ID_CHARS} characters); descriptions 1–{MAX_DESCRIPTION_CHARS:,} "
            f"characters; vectors {minilm.DIM} numbers, not all zero; queries and "
            f"descriptions ≤ {MAX_TOTAL_CHARS:,} characters in all",
        },
        "top_k": {"type": "integer", "required": False, "rule": f"1–{MAX_TOP_K}, default 5"},
    },
    result_schema={
        "matches": {
            "type": "list of lists of {id, score}",
            "rule": "per query, the top_k agents by cosine similarity (rounded to 6 "
            "decimal places), descending; ties by id",
        },
    },
    verification=Verification("tolerance", TOLERANCE),
    parse=parse,
    size=size,
    execute=execute,
    small_example=small_example,
)

__all__ = ["KIND", "Agent", "Payload", "execute", "parse", "similarities", "size"]
