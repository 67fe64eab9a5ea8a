"""custom_wasm: real kernels against Python references, the sandbox's limits, the host ABI."""

from __future__ import annotations

import base64
import json
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wasmtime

from edgenet_app.tasks import wasm
from edgenet_app.tasks.base import ExecContext, Limits, PayloadError, TaskError
from edgenet_app.tasks.registry import get_kind
from edgenet_app.tasks.wasm import compiled as wasm_compiled

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "wasm"


def wat(name: str) -> str:
    return (EXAMPLES / f"{name}.wat").read_text()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def ctx(tmp_path: Path) -> ExecContext:
    return ExecContext(tmp_path)


def run(ctx: ExecContext, source: str, data: bytes = b"", **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = wasm.execute(
        wasm.parse({"wat": source, "input": b64(data), **fields}), ctx
    )
    return result


def output(result: dict[str, Any]) -> bytes:
    return base64.b64decode(result["output"])


def fail(ctx: ExecContext, source: str, data: bytes = b"", **fields: Any) -> TaskError:
    with pytest.raises(TaskError) as info:
        run(ctx, source, data, **fields)
    return info.value


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def module(body: str, imports: str = "", memory: str = '(memory (export "memory") 1)') -> str:
    return f'(module {imports} {memory} (func (export "run") (result i32) {body}))'


# --- real kernels -------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 1000])
def test_echo_copies_input(ctx: ExecContext, data: bytes) -> None:
    r = run(ctx, wat("echo"), data)
    assert output(r) == data and r["exit_code"] == 0 and r["fuel_used"] > 0


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, 200_003])
def test_fnv1a_matches_python(ctx: ExecContext, size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    r = run(ctx, wat("fnv1a"), data)
    assert struct.unpack("<Q", output(r))[0] == fnv1a64(data)


def test_fnv1a_known_vector(ctx: ExecContext) -> None:
    r = run(ctx, wat("fnv1a"), b"The quick brown fox jumps over the lazy dog")
    assert struct.unpack("<Q", output(r))[0] == 0xF3F9B7F5E7E47110


def test_sum_bytes(ctx: ExecContext) -> None:
    data = bytes(range(256)) * 300
    assert struct.unpack("<Q", output(run(ctx, wat("sum_bytes"), data)))[0] == sum(data)


@pytest.mark.parametrize("n", [0, 1, 7, 40])
def test_matmul_matches_numpy_with_wraparound(ctx: ExecContext, n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.integers(-(2**31), 2**31, (n, n), dtype=np.int64).astype(np.int32)
    b = rng.integers(-(2**31), 2**31, (n, n), dtype=np.int64).astype(np.int32)
    r = run(ctx, wat("matmul"), struct.pack("<I", n) + a.tobytes() + b.tobytes())
    want = (a.astype(np.int64) @ b.astype(np.int64)) & 0xFFFFFFFF  # exact mod 2^32 per term sum
    got = np.frombuffer(output(r), dtype="<u4").reshape(n, n)
    assert r["exit_code"] == 0 and np.array_equal(got, want.astype(np.uint32))


def test_matmul_guest_error_codes_are_results(ctx: ExecContext) -> None:
    assert run(ctx, wat("matmul"), b"\x02\0\0\0" + bytes(7))["exit_code"] == 1
    # 300x300 needs ~1.03 MiB: memory.grow returns -1 under a 1 MiB cap, the module says 2
    n = 300
    r = run(ctx, wat("matmul"), struct.pack("<I", n) + bytes(8 * n * n), memory_mb=1)
    assert r["exit_code"] == 2 and output(r) == b""


def test_results_are_deterministic_including_fuel(ctx: ExecContext, tmp_path: Path) -> None:
    data = bytes(range(256)) * 50
    first = run(ctx, wat("fnv1a"), data)
    other = ExecContext(tmp_path / "other")
    assert run(other, wat("fnv1a"), data) == first == run(ctx, wat("fnv1a"), data)


def test_nans_are_canonical(ctx: ExecContext) -> None:
    body = (
        "(i64.store (i32.const 0) (i64.reinterpret_f64 (f64.div (f64.const 0) (f64.const 0))))"
        "(drop (call $w (i32.const 0) (i32.const 8))) (i32.const 0)"
    )
    imp = '(import "edgenet" "write_output" (func $w (param i32 i32) (result i32)))'
    assert struct.unpack("<Q", output(run(ctx, module(body, imp))))[0] == 0x7FF8000000000000


# --- limits -------------------------------------------------------------------------------


def test_infinite_loop_runs_out_of_fuel_quickly(ctx: ExecContext) -> None:
    t0 = time.perf_counter()
    err = fail(ctx, wat("infinite_loop"))  # the default fuel, 2·10⁹
    assert err.code == "out_of_fuel" and "2,000,000,000" in str(err)
    assert time.perf_counter() - t0 < 5.0  # ~0.5 s here; generous for slow CI machines


def test_wall_clock_timeout_with_huge_fuel(tmp_path: Path) -> None:
    ctx = ExecContext(tmp_path, limits=Limits(wasm_fuel=10**13))
    t0 = time.perf_counter()
    err = fail(ctx, wat("infinite_loop"), fuel=10**13, timeout_s=0.2)
    assert err.code == "timeout"
    assert 0.15 < time.perf_counter() - t0 < 3.0


def test_timeout_is_capped_by_the_worker_limit(tmp_path: Path) -> None:
    ctx = ExecContext(tmp_path, limits=Limits(wasm_fuel=10**13, timeout_s=0.1))
    assert fail(ctx, wat("infinite_loop"), fuel=10**13, timeout_s=60).code == "timeout"


def test_growing_past_the_cap_is_out_of_memory(ctx: ExecContext) -> None:
    err = fail(ctx, wat("grow_memory"), memory_mb=4)
    assert err.code == "out_of_memory" and "4 MiB" in str(err) and "unreachable" in str(err)


def test_initial_memory_over_the_cap_is_out_of_memory(ctx: ExecContext) -> None:
    err = fail(ctx, module("(i32.const 0)", memory="(memory 100)"), memory_mb=2)
    assert err.code == "out_of_memory" and "2 MiB" in str(err)


def test_worker_limits_refuse_bigger_requests(tmp_path: Path) -> None:
    ctx = ExecContext(tmp_path, limits=Limits(wasm_fuel=1000, memory_mb=16))
    assert "custom_wasm.fuel" in str(fail(ctx, wat("echo"), fuel=1001))
    assert "custom_wasm.memory_mb" in str(fail(ctx, wat("echo"), fuel=1000, memory_mb=17))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("unreachable", "unreachable"),
        ("(i32.div_s (i32.const 1) (i32.const 0))", "divide by zero"),
        ("(i32.load (i32.const 70000))", "out of bounds"),
    ],
)
def test_traps_report_the_reason(ctx: ExecContext, body: str, words: str) -> None:
    err = fail(ctx, module(body))
    assert err.code == "trap" and words in str(err) and "of the 64 MiB cap" in str(err)


def test_nonzero_exit_returns_the_output_so_far(ctx: ExecContext) -> None:
    imp = '(import "edgenet" "write_output" (func $w (param i32 i32) (result i32)))'
    r = run(ctx, module("(drop (call $w (i32.const 0) (i32.const 3))) (i32.const 42)", imp))
    assert r["exit_code"] == 42 and output(r) == b"\0\0\0"


# --- module validation and imports --------------------------------------------------------


def test_invalid_bytes_are_invalid_module() -> None:
    with pytest.raises(PayloadError) as info:
        wasm.parse({"module": b64(b"\0asm\x01\0\0\0garbage")})
    assert info.value.code == "invalid_module" and "custom_wasm.module" in str(info.value)
    with pytest.raises(PayloadError) as info:
        wasm.parse({"wat": '(module (func (export "run")'})
    assert info.value.code == "invalid_module" and "custom_wasm.wat" in str(info.value)


def test_binary_module_and_text_are_the_same_module(ctx: ExecContext) -> None:
    binary = bytes(wasmtime.wat2wasm(wat("echo")))
    r = wasm.execute(wasm.parse({"module": b64(binary), "input": b64(b"abc")}), ctx)
    assert output(r) == b"abc"
    run(ctx, wat("echo"), b"abc")
    assert ctx.cache["custom_wasm"].compiled == 1


@pytest.mark.parametrize(
    ("imports", "name"),
    [
        (
            '(import "wasi_snapshot_preview1" "fd_write" '
            "(func (param i32 i32 i32 i32) (result i32)))",
            "wasi_snapshot_preview1.fd_write",
        ),
        ('(import "edgenet" "open_socket" (func (result i32)))', "edgenet.open_socket"),
        ('(import "env" "table" (table 1 funcref))', "env.table"),
    ],
)
def test_foreign_imports_are_rejected_by_name(ctx: ExecContext, imports: str, name: str) -> None:
    err = fail(ctx, module("(i32.const 0)", imports, memory=""))
    assert err.code == "invalid_module" and name in str(err) and "no WASI" in str(err)


def test_host_import_with_wrong_type_is_rejected(ctx: ExecContext) -> None:
    err = fail(ctx, module("(i32.const 0)", '(import "edgenet" "read_input" (func (param i32)))'))
    assert err.code == "invalid_module" and "edgenet.read_input" in str(err)


def test_missing_or_mistyped_entry_is_invalid_module(ctx: ExecContext) -> None:
    err = fail(ctx, wat("echo"), entry="main")
    assert err.code == "invalid_module" and "'main'" in str(err) and "run" in str(err)
    src = '(module (func (export "run") (param i32) (result i32) (local.get 0)))'
    assert fail(ctx, src).code == "invalid_module"


# --- host ABI -----------------------------------------------------------------------------

READ = '(import "edgenet" "read_input" (func $r (param i32 i32 i32) (result i32)))'
WRITE = '(import "edgenet" "write_output" (func $w (param i32 i32) (result i32)))'
LEN = '(import "edgenet" "input_len" (func $len (result i32)))'


def test_read_input_past_the_end_and_offsets(ctx: ExecContext) -> None:
    body = (
        "(drop (call $w (i32.const 0) (call $r (i32.const 0) (i32.const 2) (i32.const 100))))"
        "(call $r (i32.const 0) (i32.const 99) (i32.const 5))"  # past the end: 0 bytes
    )
    r = run(ctx, module(body, READ + WRITE), b"abcdef")
    assert output(r) == b"cdef" and r["exit_code"] == 0


def test_host_range_outside_memory_traps(ctx: ExecContext) -> None:
    err = fail(
        ctx, module("(call $r (i32.const 65530) (i32.const 0) (i32.const 10))", READ), b"x" * 10
    )
    assert err.code == "trap" and "edgenet.read_input" in str(err)
    err = fail(ctx, module("(call $w (i32.const -1) (i32.const 2))", WRITE))
    assert err.code == "trap" and "edgenet.write_output" in str(err)


def test_output_is_capped(ctx: ExecContext) -> None:
    err = fail(ctx, module("(call $w (i32.const 0) (i32.const 0x1000001))", WRITE))
    assert err.code == "output_too_large"


def test_host_calls_cost_fuel(ctx: ExecContext) -> None:
    body = "(drop (call $len)) (drop (call $len)) (call $len)"
    r = run(ctx, module(body, LEN), b"12345")
    assert r["exit_code"] == 5 and r["fuel_used"] >= 3 * wasm.HOST_CALL_FUEL
    assert fail(ctx, module(body, LEN), fuel=2 * wasm.HOST_CALL_FUEL).code == "out_of_fuel"


# --- compiled-module cache ----------------------------------------------------------------


def test_cache_reuses_compiled_modules(ctx: ExecContext) -> None:
    for data in (b"a", b"bb", b"ccc"):
        run(ctx, wat("echo"), data)
    cache = ctx.cache["custom_wasm"]
    assert (cache.compiled, cache.memory_hits) == (1, 2)
    run(ctx, wat("fnv1a"), b"a")
    assert cache.compiled == 2


def test_disk_cache_survives_a_new_process_and_rejects_tampering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wasm_compiled, "DISK_CACHE_MIN_COMPILE_S", 0.0)
    first = ExecContext(tmp_path)
    want = run(first, wat("fnv1a"), b"abc")
    files = list((tmp_path / "wasm-cache").glob("*.cwasm"))
    assert len(files) == 1 and first.cache["custom_wasm"].compiled == 1

    second = ExecContext(tmp_path)  # a fresh worker: empty in-memory cache
    assert run(second, wat("fnv1a"), b"abc") == want
    assert (second.cache["custom_wasm"].disk_hits, second.cache["custom_wasm"].compiled) == (1, 0)

    blob = bytearray(files[0].read_bytes())
    blob[-100] ^= 0xFF
    files[0].write_bytes(bytes(blob))
    third = ExecContext(tmp_path)
    assert run(third, wat("fnv1a"), b"abc") == want
    assert (third.cache["custom_wasm"].disk_hits, third.cache["custom_wasm"].compiled) == (0, 1)


# --- payloads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "exactly one of"),
        ({"wat": "(module)", "module": b64(b"\0asm\x01\0\0\0")}, "exactly one of"),
        ({"module": "not base64!"}, "custom_wasm.module"),
        ({"wat": 5}, "custom_wasm.wat"),
        ({"wat": "(module)", "input": "%%%"}, "custom_wasm.input"),
        ({"wat": "(module)", "fuel": 0}, "custom_wasm.fuel"),
        ({"wat": "(module)", "fuel": True}, "custom_wasm.fuel"),
        ({"wat": "(module)", "memory_mb": 0}, "custom_wasm.memory_mb"),
        ({"wat": "(module)", "memory_mb": 5000}, "custom_wasm.memory_mb"),
        ({"wat": "(module)", "timeout_s": -1}, "custom_wasm.timeout_s"),
        ({"wat": "(module)", "entry": ""}, "custom_wasm.entry"),
        ({"wat": "(module)", "imports": []}, "'imports'"),
        ({"module": b64(b"\0" * (wasm.MAX_MODULE + 1))}, "custom_wasm.module"),
    ],
)
def test_bad_payloads_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as info:
        wasm.parse(payload)
    assert field in str(info.value)


def test_size_is_the_fuel_limit() -> None:
    assert wasm.size(wasm.parse({"wat": "(module)", "fuel": 12345})) == 12345
    assert wasm.size(wasm.parse({"wat": "(module)"})) == Limits().wasm_fuel


def test_kind_example_and_task_file(ctx: ExecContext) -> None:
    kind = get_kind("custom_wasm")
    r = kind.execute(kind.parse(kind.small_example()), ctx)
    assert output(r) == b"hello edgenet"
    assert kind.describe()["kind"] == "custom_wasm"
    payload = json.loads((ROOT / "examples" / "tasks" / "custom_wasm.json").read_text())
    r = kind.execute(kind.parse(payload), ctx)
    data = base64.b64decode(payload["input"])
    assert struct.unpack("<Q", output(r))[0] == fnv1a64(data)
    assert kind.verification.agree(r, kind.execute(kind.parse(payload), ctx))


def test_stack_overflow_and_start_function_traps(ctx: ExecContext) -> None:
    deep = '(module (func $f (result i32) (call $f)) (func (export "run") (result i32) (call $f)))'
    err = fail(ctx, deep)
    assert err.code == "trap" and "call stack exhausted" in str(err)
    err = fail(ctx, module("(i32.const 0)", "(func $s unreachable) (start $s)"))
    assert err.code == "trap" and "unreachable" in str(err)


def test_epoch_ticker_stops_when_idle(ctx: ExecContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wasm, "TICKER_LINGER_S", 0.05)
    run(ctx, wat("echo"), b"x")
    sandbox = wasm._sandbox()
    deadline = time.monotonic() + 2.0
    while sandbox._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox._thread is None  # no idle wake-ups once nothing runs
    assert output(run(ctx, wat("echo"), b"again")) == b"again"  # and it restarts on demand
