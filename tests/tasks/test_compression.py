"""compression: round trips within the reported error, method choice, determinism, and
corrupt blobs that only ever raise PayloadError / TaskError."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgenet_app.tasks import compression as cz
from edgenet_app.tasks.base import ExecContext, PayloadError, TaskError
from edgenet_app.tasks.registry import get_kind

KIND = get_kind("compression")
CTX = ExecContext(Path("/nonexistent"))  # compression never touches the disk


def run(payload: Any) -> Any:
    return KIND.execute(KIND.parse(payload), CTX)


def compress(x: np.ndarray, **how: Any) -> Any:
    x = np.asarray(x, dtype=np.float32)
    data = base64.b64encode(x.astype("<f4").tobytes()).decode()
    return run({"op": "compress", "data": data, "dim": x.shape[1], **how})


def decompress(blob: str) -> np.ndarray:
    out = run({"op": "decompress", "blob": blob, "output": "b64"})
    y = np.frombuffer(base64.b64decode(out["data"]), dtype="<f4")
    return y.reshape(out["count"], out["dim"])


def max_err(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(x.astype(np.float64) - y.astype(np.float64)).max())


def data(rows: int = 300, dim: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)


@pytest.mark.parametrize(
    ("method", "nominal"), [("int8", 4), ("int4", 8), ("binary", 32), ("float32", 1)]
)
def test_each_method_round_trips_within_its_reported_error(method: str, nominal: int) -> None:
    x = data(300, 128)
    r = compress(x, method=method)
    assert (r["method"], r["count"], r["dim"]) == (method, 300, 128)
    y = decompress(r["blob"])
    assert max_err(x, y) == r["max_error"]  # reported is exactly what decompress gives
    mean = float(np.abs(x.astype(np.float64) - y).mean())
    assert r["mean_error"] == pytest.approx(mean, rel=1e-6, abs=1e-12)
    blob = base64.b64decode(r["blob"])
    assert r["ratio"] == x.nbytes / len(blob) and nominal / 2 < r["ratio"] <= nominal
    if method == "float32":
        assert np.array_equal(x, y) and r["max_error"] == 0.0


def test_method_choice_follows_the_error_budget() -> None:
    x = np.random.default_rng(1).uniform(0, 1, size=(200, 32)).astype(np.float32)
    errors = {m: compress(x, method=m)["max_error"] for m in ("binary", "int4", "int8")}
    assert errors["binary"] > errors["int4"] > errors["int8"] > 0
    assert compress(x, max_error=errors["binary"] * 1.01)["method"] == "binary"
    assert compress(x, max_error=errors["int4"] * 1.01)["method"] == "int4"
    assert compress(x, max_error=errors["int8"] * 1.01)["method"] == "int8"
    lossless = compress(x, max_error=errors["int8"] / 10)
    assert lossless["method"] == "float32" and lossless["max_error"] == 0.0
    assert "lossless" in lossless["note"]


def test_method_choice_follows_the_target_ratio() -> None:
    x = data(200, 32)
    got = {t: compress(x, target_ratio=t)["method"] for t in (1, 2, 4, 4.5, 8, 9, 32)}
    assert got == {
        1: "float32",
        2: "int8",
        4: "int8",
        4.5: "int4",
        8: "int4",
        9: "binary",
        32: "binary",
    }


def test_exactly_representable_data_is_exact() -> None:
    grid = np.random.default_rng(2).integers(0, 16, size=(50, 20)).astype(np.float32) * 0.5
    grid[:, 0], grid[:, 1] = 0.0, 7.5  # every row spans the full int4 range
    r = compress(grid, max_error=0.0)
    assert r["method"] == "int4" and r["max_error"] == 0.0
    assert np.array_equal(decompress(r["blob"]), grid)
    const = np.full((4, 9), -3.25, np.float32)
    assert compress(const, max_error=0.0)["method"] == "binary"


def test_json_and_base64_inputs_and_outputs_agree() -> None:
    x = data(20, 6)
    a = compress(x, max_error=0.05)
    b = run({"op": "compress", "vectors": x.tolist(), "max_error": 0.05})
    assert a == b
    as_json = run({"op": "decompress", "blob": a["blob"]})
    assert np.array_equal(np.array(as_json["vectors"], np.float32), decompress(a["blob"]))


def test_results_are_deterministic_and_verify_exactly() -> None:
    x = data(2000, 48, seed=4)
    a, b = compress(x, max_error=0.1), compress(x.copy(), max_error=0.1)
    assert a == b and KIND.verification.agree(a, b)
    assert KIND.size(KIND.parse({"op": "decompress", "blob": a["blob"]})) == x.nbytes


def test_forced_method_over_budget_is_refused() -> None:
    with pytest.raises(TaskError) as e:
        compress(data(), method="binary", max_error=0.01)
    assert e.value.code == "over_budget"


def test_float32_overflow_falls_back_to_lossless() -> None:
    x = np.array([[-3.3e38, 3.3e38], [3.3e38, -3.3e38]], np.float32)
    r = compress(x, target_ratio=4)
    assert r["method"] == "float32" and "overflows" in r["note"]
    assert np.array_equal(decompress(r["blob"]), x)


# -- properties ------------------------------------------------------------------------------

floats32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
matrices = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=2, max_dims=2, max_side=24),
    elements=st.one_of(floats32, st.floats(-10, 10, width=32)),
)


@settings(max_examples=200, deadline=None)
@given(x=matrices, budget=st.one_of(st.just(0.0), st.floats(0, 1e6), st.floats(0, 1)))
@example(  # a huge range once made the fixed-point mean exceed the maximum
    x=np.array([[-9.007199e15, 524289.0, 524289.0]], dtype=np.float32), budget=524289.0
)
def test_round_trip_error_never_exceeds_the_reported_error_nor_the_budget(
    x: np.ndarray, budget: float
) -> None:
    r = compress(x, max_error=budget)
    y = decompress(r["blob"])
    assert y.shape == x.shape
    assert max_err(x, y) <= r["max_error"] <= budget
    assert 0 <= r["mean_error"] <= r["max_error"]


@settings(max_examples=200, deadline=None)
@given(
    x=matrices,
    how=st.one_of(
        st.builds(dict, target_ratio=st.floats(1, 32)),
        st.builds(dict, method=st.sampled_from(cz.METHODS)),
    ),
)
def test_round_trip_by_ratio_or_method_stays_within_the_reported_error(
    x: np.ndarray, how: dict[str, Any]
) -> None:
    try:
        r = compress(x, **how)
    except TaskError as e:  # a forced method may overflow float32 on extreme inputs
        assert e.code == "unrepresentable"
        return
    assert max_err(x, decompress(r["blob"])) <= r["max_error"]


# -- corrupt blobs ---------------------------------------------------------------------------


def _decode_only_task_errors(blob: bytes) -> None:
    try:
        run({"op": "decompress", "blob": base64.b64encode(blob).decode()})
    except TaskError:  # PayloadError included
        pass


@pytest.mark.parametrize("method", ["int8", "int4", "binary", "float32"])
def test_truncated_and_flipped_blobs_raise_payload_errors(method: str) -> None:
    blob = base64.b64decode(compress(data(5, 7), method=method)["blob"])
    for n in range(len(blob)):
        with pytest.raises(PayloadError):
            run({"op": "decompress", "blob": base64.b64encode(blob[:n]).decode()})
    with pytest.raises(PayloadError, match="trailing"):
        run({"op": "decompress", "blob": base64.b64encode(blob + b"\0").decode()})
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x41
        with pytest.raises(PayloadError):
            run({"op": "decompress", "blob": base64.b64encode(bytes(bad)).decode()})


def _forge(method: int, axis: int, count: int, dim: int, rest: bytes) -> bytes:
    return struct.pack("<4sBBHIII", b"EQZ1", method, axis, 0, count, dim, zlib.crc32(rest)) + rest


def test_forged_blobs_with_valid_checksums_are_refused() -> None:
    nan_params = struct.pack("<2f", float("nan"), 1.0) + b"\x01"
    with pytest.raises(PayloadError, match="non-finite"):
        run({"op": "decompress", "blob": base64.b64encode(_forge(3, 0, 1, 1, nan_params)).decode()})
    overflow = struct.pack("<2f", 3e38, 3e38) + b"\xff"
    with pytest.raises(PayloadError, match="overflow"):
        run({"op": "decompress", "blob": base64.b64encode(_forge(3, 0, 1, 1, overflow)).decode()})
    for header in [(9, 0, 1, 1), (3, 2, 1, 1), (0, 1, 1, 1), (3, 0, 0, 1), (3, 0, 1, 5000)]:
        with pytest.raises(PayloadError):
            run({"op": "decompress", "blob": base64.b64encode(_forge(*header, b"")).decode()})
    with pytest.raises(PayloadError, match="magic"):
        run({"op": "decompress", "blob": base64.b64encode(b"x" * 40).decode()})


@settings(max_examples=200, deadline=None)
@given(junk=st.binary(max_size=200), keep=st.integers(0, 60))
def test_arbitrary_bytes_never_raise_anything_but_task_errors(junk: bytes, keep: int) -> None:
    valid = base64.b64decode(compress(data(3, 5), method="int4")["blob"])
    _decode_only_task_errors(junk)
    _decode_only_task_errors(valid[:keep] + junk)
    rest = junk[:40]
    _decode_only_task_errors(_forge(keep % 5, keep % 2, 1 + keep % 3, 1 + keep % 4, rest))


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"vectors": [[1.0]], "max_error": 0.1}, "compression.op"),
        ({"op": "compress", "max_error": 0.1}, "exactly one of 'vectors'"),
        (
            {"op": "compress", "vectors": [[1.0]], "data": "AAAAAA==", "dim": 1, "max_error": 1},
            "exactly one of 'vectors'",
        ),
        ({"op": "compress", "data": "AAAAAAAA", "dim": 4, "max_error": 1}, "compression.data"),
        (
            {
                "op": "compress",
                "data": base64.b64encode(struct.pack("<f", float("inf"))).decode(),
                "dim": 1,
                "max_error": 1,
            },
            "not finite",
        ),
        ({"op": "compress", "vectors": [[1.0]]}, "max_error"),
        ({"op": "compress", "vectors": [[1.0]], "max_error": -1}, "compression.max_error"),
        ({"op": "compress", "vectors": [[1.0]], "target_ratio": 64}, "compression.target_ratio"),
        (
            {"op": "compress", "vectors": [[1.0]], "target_ratio": 4, "max_error": 1},
            "compression.target_ratio",
        ),
        ({"op": "compress", "vectors": [[1.0]], "method": "int2"}, "compression.method"),
        (
            {"op": "compress", "vectors": [[1.0, 2.0]], "dim": 3, "max_error": 1},
            "compression.vectors[0]",
        ),
        ({"op": "decompress", "blob": "!!"}, "compression.blob"),
        ({"op": "decompress", "blob": "", "output": "xml"}, "compression.blob"),
    ],
)
def test_bad_payloads_name_the_field(payload: Any, fragment: str) -> None:
    with pytest.raises(PayloadError) as e:
        KIND.parse(payload)
    assert fragment in str(e.value)


def test_small_example() -> None:
    r = run(KIND.small_example())
    assert r["max_error"] <= 0.05
    assert KIND.size(KIND.parse(KIND.small_example())) == 32
