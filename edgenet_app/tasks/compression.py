"""`compression`: adaptive scalar quantization of float32 vectors, and its inverse.

Compress payload: {"op": "compress", "vectors": [[float]…] or "data": b64 little-endian float32
with "dim", and one of "max_error" (absolute reconstruction error budget) or "target_ratio"
(1–32), or "method" ("float32"|"int8"|"int4"|"binary") to force one (with an optional
"max_error" it must meet)}. At most 100,000 rows, dimension ≤ 4096, 16 Mi numbers (64 MiB).

Every method is a uniform quantizer with a (base, step) pair per vector or per dimension,
whichever is more accurate: x̂ = base + code·step in float32. int8/int4 put their 256/16 levels
from the minimum to the maximum; binary puts its 2 levels at ¼ and ¾ of the range (error ≤ ¼
range). With "max_error", the smallest blob whose measured max |x − x̂| fits the budget wins
(lossless float32 if none does, and the result says so). With "target_ratio", the bit width is
the most accurate whose nominal ratio 32/bits reaches it (4 → int8, 8 → int4, 32 → binary);
"ratio" reports the real one, header and parameters included.
Result: {"method", "params", "dim", "count", "ratio", "max_error", "mean_error", "blob"
[, "note"]}. Errors are measured in float64 exactly as decompress reconstructs; the mean is
summed in fixed point, so every replica reports the same bits.

Decompress payload: {"op": "decompress", "blob": b64, "output": "json"|"b64"} →
{"vectors": [[float]…]} or {"data": b64 float32}, plus "dim" and "count".
Blob: header "<4sBBHIII" (b"EQZ1", method, axis, 0, count, dim, crc32 of the rest), then the
float32 bases and steps, then the codes packed little-endian (int4 low nibble first, binary
LSB first).
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .base import EXACT, ExecContext, Json, PayloadError, TaskError, TaskKind
from .payload import Fields, b64

MAX_ROWS = 100_000
MAX_DIM = 4096
MAX_FLOATS = 16 * 2**20
MAGIC = b"EQZ1"
HEADER = struct.Struct("<4sBBHIII")
METHODS = ("float32", "int8", "int4", "binary")  # most to least accurate
CODES = {"float32": 0, "binary": 1, "int4": 2, "int8": 3}
BITS = {"float32": 32, "int8": 8, "int4": 4, "binary": 1}
AXES = ("per_vector", "per_dimension")
_CHUNK = 1 << 20  # numbers per block while quantizing
_F32, _F64 = np.float32, np.float64


@dataclass(frozen=True)
class Compress:
    x: np.ndarray  # float32 (count, dim), C-contiguous
    max_error: float | None
    target_ratio: float | None
    method: str | None


@dataclass(frozen=True)
class Blob:
    method: str
    axis: str
    count: int
    dim: int
    base: np.ndarray  # float32 (P,)
    step: np.ndarray
    body: bytes


@dataclass(frozen=True)
class Decompress:
    blob: Blob
    output: str


Payload = Compress | Decompress


# -- parsing -------------------------------------------------------------------------------


def parse(obj: Json) -> Payload:
    f = Fields(obj, "compression")
    op = f.str("op", choices=("compress", "decompress"))
    if op == "decompress":
        raw = f.b64("blob", max_bytes=HEADER.size + 4 * MAX_FLOATS, min_bytes=0)
        blob = read_blob(raw, f.path("blob"))
        output = f.str("output", default="json", choices=("json", "b64"))
        f.done()
        return Decompress(blob, output)
    x = _input(f)
    max_error = ratio = None
    if f.raw("max_error", required=False) is not None:
        max_error = f.float("max_error", 0.0, 3.5e38)
    if f.raw("target_ratio", required=False) is not None:
        ratio = f.float("target_ratio", 1.0, 32.0)
    method = f.str("method", required=False, choices=METHODS)
    f.done()
    if max_error is None and ratio is None and method is None:
        raise PayloadError(
            "compression: give max_error (an error budget) or target_ratio, or force a method"
        )
    if ratio is not None and (max_error is not None or method is not None):
        raise PayloadError("compression.target_ratio: cannot be combined with max_error or method")
    return Compress(x, max_error, ratio, method)


def _input(f: Fields) -> np.ndarray:
    if f.has("vectors") == f.has("data"):
        raise PayloadError(
            "compression: give exactly one of 'vectors' (lists of numbers) or "
            "'data' (base64 float32 with 'dim')"
        )
    if f.has("vectors"):
        f.raw("data", required=False)
        dim = f.int("dim", 1, MAX_DIM) if f.has("dim") else None
        f.raw("dim", required=False)
        x: np.ndarray = f.matrix("vectors", max_rows=MAX_ROWS, dim=dim, max_dim=MAX_DIM)
        where = f.path("vectors")
    else:
        f.raw("vectors", required=False)
        data = f.b64("data", max_bytes=4 * MAX_FLOATS, min_bytes=4)
        dim = f.int("dim", 1, MAX_DIM)
        where = f.path("data")
        if len(data) % (4 * dim):
            raise PayloadError(
                f"{where}: {len(data)} bytes is not a whole number of "
                f"{dim}-dimensional float32 vectors"
            )
        x = np.frombuffer(data, dtype="<f4").reshape(-1, dim).astype(_F32)
        if len(x) > MAX_ROWS:
            raise PayloadError(f"{where}: at most {MAX_ROWS:,} vectors, got {len(x):,}")
        bad = ~np.isfinite(x)
        if bad.any():
            i, j = map(int, np.argwhere(bad)[0])
            raise PayloadError(f"{where}: vector {i}, number {j} is not finite")
    if x.size > MAX_FLOATS:
        raise PayloadError(f"{where}: at most {MAX_FLOATS:,} numbers in all, got {x.size:,}")
    return np.ascontiguousarray(x, dtype=_F32)


def read_blob(data: bytes, path: str) -> Blob:
    """Check a blob completely (header, length, checksum, parameters) before any work."""
    if len(data) < HEADER.size:
        raise PayloadError(
            f"{path}: truncated ({len(data)} bytes, the header alone is {HEADER.size})"
        )
    magic, code, axis, reserved, count, dim, crc = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise PayloadError(f"{path}: not a compression blob (bad magic)")
    method = {v: k for k, v in CODES.items()}.get(code)
    if method is None or axis > 1 or reserved or (method == "float32" and axis):
        raise PayloadError(f"{path}: unknown method or layout in the header")
    if not (1 <= dim <= MAX_DIM and 1 <= count <= MAX_ROWS and count * dim <= MAX_FLOATS):
        raise PayloadError(f"{path}: header shape {count}×{dim} is out of range")
    nparams = 0 if method == "float32" else (count if axis == 0 else dim)
    want = HEADER.size + 8 * nparams + _body_size(method, count * dim)
    if len(data) != want:
        raise PayloadError(
            f"{path}: {len(data)} bytes, the header implies {want} "
            f"({'truncated' if len(data) < want else 'trailing bytes'})"
        )
    if zlib.crc32(data[HEADER.size :]) != crc:
        raise PayloadError(f"{path}: checksum mismatch (the blob is corrupt)")
    params = np.frombuffer(data, dtype="<f4", count=2 * nparams, offset=HEADER.size).astype(_F32)
    if not np.isfinite(params).all():
        raise PayloadError(f"{path}: non-finite quantization parameters")
    body = data[HEADER.size + 8 * nparams :]
    return Blob(method, AXES[axis], count, dim, params[:nparams], params[nparams:], body)


# -- quantization --------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    method: str
    axis: str
    base: np.ndarray
    step: np.ndarray
    codes: np.ndarray | None  # uint8 (count, dim); None for float32
    max_error: float
    mean_error: float
    nbytes: int


def _body_size(method: str, n: int) -> int:
    return n * 4 if method == "float32" else (n * BITS[method] + 7) // 8


def _size(method: str, axis: str, count: int, dim: int) -> int:
    nparams = 0 if method == "float32" else (count if axis == "per_vector" else dim)
    return HEADER.size + 8 * nparams + _body_size(method, count * dim)


def _params(x: np.ndarray, bits: int, axis: str) -> tuple[np.ndarray, np.ndarray]:
    along = 1 if axis == "per_vector" else 0
    lo, hi = x.min(axis=along).astype(_F64), x.max(axis=along).astype(_F64)
    span = hi - lo
    if bits == 1:
        return (lo + span / 4).astype(_F32), (span / 2).astype(_F32)
    return lo.astype(_F32), (span / (2**bits - 1)).astype(_F32)


def _slice(p: np.ndarray, axis: str, start: int, stop: int) -> np.ndarray:
    return p[start:stop, None] if axis == "per_vector" else p[None, :]


def reconstruct(codes: np.ndarray, base: np.ndarray, step: np.ndarray) -> np.ndarray:
    """x̂ = base + code·step, each operation rounded to float32 (deterministic)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out: np.ndarray = codes.astype(_F32) * step + base
    return out


def _evaluate(x: np.ndarray, method: str, axis: str) -> Candidate | None:
    """Quantize x with one method; None if reconstruction overflows float32."""
    count, dim = x.shape
    if method == "float32":
        empty = np.zeros(0, _F32)
        return Candidate(
            method, "per_vector", empty, empty, None, 0.0, 0.0, _size(method, axis, count, dim)
        )
    bits = BITS[method]
    base, step = _params(x, bits, axis)
    codes = np.empty(x.shape, dtype=np.uint8)
    amax = float(np.abs(x).max())
    scale = 2.0 ** (math.frexp(amax)[1] + 2) if amax > 0 else 1.0  # a power of two > 4·amax
    fixed = 2.0**36 / scale  # errors in units of scale·2^-36: int64 sums are exact
    worst, total = 0.0, 0
    rows = max(1, _CHUNK // dim)
    for start in range(0, count, rows):
        stop = min(count, start + rows)
        xc = x[start:stop].astype(_F64)
        b, s = _slice(base, axis, start, stop), _slice(step, axis, start, stop)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(s > 0, (xc - b.astype(_F64)) / s.astype(_F64), 0.0)
        c = np.clip(np.rint(q), 0, 2**bits - 1).astype(np.uint8)
        err = np.abs(xc - reconstruct(c, b, s).astype(_F64))
        m = float(err.max())
        if not math.isfinite(m):
            return None
        worst = max(worst, m)
        total += int(np.rint(err * fixed).astype(np.int64).sum())
        codes[start:stop] = c
    # fixed point rounds each error to scale·2^-36; never report a mean above the maximum
    mean = min(worst, math.ldexp(float(total), -36) * scale / x.size)
    return Candidate(method, axis, base, step, codes, worst, mean, _size(method, axis, count, dim))


def _best_axis(x: np.ndarray, method: str) -> Candidate | None:
    """Of the two parameter layouts, the more accurate one whose parameters take no more
    room than the codes (else the smaller one)."""
    if method == "float32":
        return _evaluate(x, method, "per_vector")
    count, dim = x.shape
    code_bytes = _body_size(method, count * dim)
    found = [c for a in AXES if (c := _evaluate(x, method, a)) is not None]
    modest = [c for c in found if c.nbytes - HEADER.size - code_bytes <= code_bytes]
    if modest:
        return min(modest, key=lambda c: (c.max_error, c.nbytes))
    return min(found, key=lambda c: c.nbytes, default=None)


def choose(p: Compress) -> tuple[Candidate, str | None]:
    x = p.x
    count, dim = x.shape
    if p.method is not None:
        cand = _best_axis(x, p.method)
        if cand is None:
            raise TaskError(
                f"compression.method: {p.method} overflows float32 on this input",
                code="unrepresentable",
            )
        if p.max_error is not None and cand.max_error > p.max_error:
            raise TaskError(
                f"compression.max_error: {p.method} reaches {cand.max_error:.6g}, "
                f"over the budget {p.max_error:g}",
                code="over_budget",
            )
        return cand, None
    if p.target_ratio is not None:
        method = next(m for m in METHODS if 32 / BITS[m] >= p.target_ratio)
        cand = _best_axis(x, method)
        if cand is not None:
            return cand, None
        lossless = _evaluate(x, "float32", "per_vector")
        assert lossless is not None
        return lossless, f"{method} overflows float32 on this input; stored lossless float32"
    assert p.max_error is not None
    options = sorted(
        (_size(m, a, count, dim), -BITS[m], m, a)
        for m in METHODS
        for a in AXES
        if m != "float32" or a == "per_vector"
    )
    for _, _, method, axis in options:
        cand = _evaluate(x, method, axis)
        if cand is not None and cand.max_error <= p.max_error:
            note = None
            if method == "float32":
                note = (
                    f"no quantization met max_error {p.max_error:g} in fewer bytes; "
                    "stored lossless float32"
                )
            return cand, note
    raise AssertionError("float32 always fits")  # pragma: no cover


# -- blobs ---------------------------------------------------------------------------------


def pack(c: Candidate, x: np.ndarray) -> bytes:
    count, dim = x.shape
    if c.codes is None:
        body = np.ascontiguousarray(x, dtype="<f4").tobytes()
    else:
        flat = c.codes.reshape(-1)
        if c.method == "int8":
            body = flat.tobytes()
        elif c.method == "int4":
            if len(flat) % 2:
                flat = np.append(flat, np.uint8(0))
            body = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()
        else:
            body = np.packbits(flat, bitorder="little").tobytes()
        body = c.base.astype("<f4").tobytes() + c.step.astype("<f4").tobytes() + body
    head = HEADER.pack(MAGIC, CODES[c.method], AXES.index(c.axis), 0, count, dim, zlib.crc32(body))
    return head + body


def unpack(blob: Blob) -> np.ndarray:
    n = blob.count * blob.dim
    raw = np.frombuffer(blob.body, dtype=np.uint8)
    if blob.method == "float32":
        return np.frombuffer(blob.body, dtype="<f4").astype(_F32).reshape(blob.count, blob.dim)
    if blob.method == "int8":
        codes = raw
    elif blob.method == "int4":
        codes = np.empty(2 * len(raw), dtype=np.uint8)
        codes[0::2], codes[1::2] = raw & 15, raw >> 4
    else:
        codes = np.unpackbits(raw, count=n, bitorder="little")
    codes = codes[:n].reshape(blob.count, blob.dim)
    out = np.empty((blob.count, blob.dim), dtype=_F32)
    rows = max(1, _CHUNK // blob.dim)
    for start in range(0, blob.count, rows):
        stop = min(blob.count, start + rows)
        out[start:stop] = reconstruct(
            codes[start:stop],
            _slice(blob.base, blob.axis, start, stop),
            _slice(blob.step, blob.axis, start, stop),
        )
    if not np.isfinite(out).all():
        raise PayloadError("compression.blob: its parameters overflow float32 (corrupt blob)")
    return out


# -- the kind ------------------------------------------------------------------------------


def execute(p: Payload, ctx: ExecContext) -> Json:
    if isinstance(p, Decompress):
        x = unpack(p.blob)
        shape = {"dim": p.blob.dim, "count": p.blob.count}
        if p.output == "b64":
            return {"data": b64(x.astype("<f4").tobytes()), **shape}
        return {"vectors": x.tolist(), **shape}
    cand, note = choose(p)
    blob = pack(cand, p.x)
    result: dict[str, Json] = {
        "method": cand.method,
        "params": "none" if cand.method == "float32" else cand.axis,
        "dim": int(p.x.shape[1]),
        "count": int(p.x.shape[0]),
        "ratio": p.x.size * 4 / len(blob),
        "max_error": cand.max_error,
        "mean_error": cand.mean_error,
        "blob": b64(blob),
    }
    if note:
        result["note"] = note
    return result


def size(p: Payload) -> int:
    if isinstance(p, Decompress):
        return 4 * p.blob.count * p.blob.dim
    return max(1, 4 * p.x.size)


def small_example() -> Json:
    return {
        "op": "compress",
        "vectors": [[0.1, -0.2, 0.3, 0.0], [1.0, 0.5, -0.5, 0.25]],
        "max_error": 0.05,
    }


KIND = TaskKind(
    name="compression",
    summary="adaptive quantization of float32 vectors (int8 / int4 / binary by error budget "
    "or ratio), and its inverse",
    payload_schema={
        "op": {"type": "string", "required": True, "rule": "compress | decompress"},
        "vectors": {
            "type": "list of number lists",
            "required": False,
            "rule": f"compress: ≤ {MAX_ROWS:,} vectors, dimension ≤ {MAX_DIM}, "
            f"≤ {MAX_FLOATS:,} numbers; or 'data'",
        },
        "data": {
            "type": "base64",
            "required": False,
            "rule": "compress: little-endian float32, row-major, with 'dim'",
        },
        "dim": {"type": "integer", "required": False, "rule": f"1–{MAX_DIM}, with 'data'"},
        "max_error": {
            "type": "number",
            "required": False,
            "rule": "max absolute reconstruction error; smallest blob that fits",
        },
        "target_ratio": {
            "type": "number",
            "required": False,
            "rule": "1–32: the most accurate bit width with 32/bits ≥ it",
        },
        "method": {
            "type": "string",
            "required": False,
            "rule": "force float32 | int8 | int4 | binary",
        },
        "blob": {"type": "base64", "required": False, "rule": "decompress: a compress result"},
        "output": {
            "type": "string",
            "required": False,
            "rule": "decompress: json (default) | b64 (float32)",
        },
    },
    result_schema={
        "method": {"type": "string", "rule": "float32 | int8 | int4 | binary"},
        "params": {"type": "string", "rule": "per_vector | per_dimension | none"},
        "ratio": {"type": "number", "rule": "input bytes / blob bytes"},
        "max_error": {"type": "number", "rule": "measured max |x − x̂|"},
        "mean_error": {"type": "number", "rule": "measured mean |x − x̂|"},
        "blob": {"type": "base64", "rule": "self-describing; decompress restores x̂"},
        "note": {"type": "string", "rule": "present when falling back to float32"},
        "vectors": {"type": "list of number lists", "rule": "decompress (output json)"},
        "data": {"type": "base64", "rule": "decompress (output b64)"},
    },
    verification=EXACT,
    parse=parse,
    size=size,
    execute=execute,
    small_example=small_example,
)

__all__ = [
    "KIND",
    "Blob",
    "Compress",
    "Decompress",
    "Payload",
    "choose",
    "execute",
    "pack",
    "parse",
    "read_blob",
    "reconstruct",
    "size",
    "unpack",
]
