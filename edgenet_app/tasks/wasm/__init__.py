"""`custom_wasm`: the submitter's WebAssembly module, run in a wasmtime sandbox.

Payload: {"module": b64 .wasm (≤ 8 MiB) | "wat": text format (≤ 1 MiB) — exactly one;
"input": b64 (≤ 16 MiB, default empty); "fuel": int (default 2·10⁹, at most this worker's
`limits.wasm_fuel`); "memory_mb": int (default 64, at most `limits.memory_mb`);
"timeout_s": wall clock (default 30, capped at `limits.timeout_s`); "entry": default "run"}.
Result: {"output": b64, "fuel_used": int, "exit_code": int}. `size` is the fuel limit.

Sandbox: fuel metering (`consume_fuel`) makes the work deterministic and priced; epoch
interruption (a ticker thread bumps the engine epoch every 10 ms while modules run) enforces
the wall clock; the store allows one instance, one memory of ≤ memory_mb (`memory.grow` past it
returns -1) and one table of ≤ 10,000 elements. No WASI: the only imports a module may have are
the host ABI below; anything else is rejected before running, naming the import. NaNs are
canonicalised, threads and relaxed SIMD are off, so results agree bit-for-bit across machines
running the same wasmtime version (fuel counts may change between wasmtime versions).

Host ABI — import module "edgenet"; pointers, offsets and lengths are unsigned 32-bit; the
module must export its memory as "memory" to move bytes:
    input_len() -> i32                    the input's length in bytes
    read_input(ptr, offset, len) -> i32   copy up to `len` input bytes starting at `offset` to
                                          memory[ptr:]; returns the count (0 past the end)
    write_output(ptr, len) -> i32         append memory[ptr:ptr+len] to the output; returns 0
Every host call costs 100,000 fuel (about its cost in time) plus 1 per byte copied; a range
outside the memory traps; output past 16 MiB fails with `output_too_large`.
Entry: `run: () -> i32`. Its value is the result's `exit_code`: 0 is success, anything else is
the module's own error code, returned (with the output so far) and verified like the output.

Errors (`TaskError.code`): invalid_module (bad bytes/text, forbidden import, missing or mistyped
entry), trap (with wasmtime's reason: unreachable, integer divide by zero, out of bounds, …),
out_of_fuel, timeout, output_too_large, and out_of_memory: the initial memory exceeds the cap,
or the module traps with less than 1 MiB of headroom under the cap (so a `memory.grow` was
refused). Every trap message states the memory in use.

Compiled modules are cached per worker process by SHA-256 of the .wasm bytes, and modules that
were slow to compile are also kept in `data_dir/wasm-cache/` (authenticated with an HMAC key
kept beside them, so only files this installation wrote are ever deserialised).

This module holds the kind: the payload, the sandbox's engine and ticker, and a run. The host
functions are in `abi.py`, the checked and cached compiled modules in `compiled.py`.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import cast

import wasmtime

from ..base import (
    EXACT,
    ExecContext,
    Json,
    Limits,
    PayloadError,
    ResourceLimitError,
    TaskError,
    TaskKind,
)
from ..payload import Fields, b64
from .abi import ABI, HOST_CALL_FUEL, Host, MiB
from .compiled import Compiled, ModuleCache, oneline

PAGE = 65536
MAX_MODULE = 8 * MiB
MAX_WAT = 1 * MiB
MAX_INPUT = 16 * MiB
DEFAULT_MEMORY_MB = 64
TABLE_ELEMENTS = 10_000
TICK_S = 0.01
TICKER_LINGER_S = 1.0
_DEFAULTS = Limits()


@dataclass(frozen=True)
class Payload:
    wasm: bytes
    input: bytes
    fuel: int
    memory_mb: int
    timeout_s: float
    entry: str


class _Sandbox:
    """One engine per process (re-created after fork) and its epoch ticker."""

    def __init__(self) -> None:
        cfg = wasmtime.Config()
        cfg.consume_fuel = True
        cfg.epoch_interruption = True
        cfg.cranelift_nan_canonicalization = True
        cfg.wasm_threads = False
        cfg.shared_memory = False
        cfg.wasm_relaxed_simd = False
        cfg.parallel_compilation = False  # workers are the parallelism; no threads to lose on fork
        cfg.max_wasm_stack = 512 * 1024
        self.engine = wasmtime.Engine(cfg)
        self.pid = os.getpid()
        fingerprint = f"{version('wasmtime')}|nan-canon|fuel|epoch|{os.uname().machine}"
        self.engine_id = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        self._lock = threading.Lock()
        self._active = 0
        self._idle_since = 0.0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> None:
        with self._lock:
            self._active += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._tick, name="wasm-epoch", daemon=True)
                self._thread.start()

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1
            self._idle_since = time.monotonic()

    def _tick(self) -> None:
        while True:
            time.sleep(TICK_S)
            with self._lock:
                if not self._active and time.monotonic() - self._idle_since > TICKER_LINGER_S:
                    self._thread = None
                    return
            self.engine.increment_epoch()


_SANDBOX: _Sandbox | None = None


def _sandbox() -> _Sandbox:
    global _SANDBOX
    if _SANDBOX is None or _SANDBOX.pid != os.getpid():
        _SANDBOX = _Sandbox()
    return _SANDBOX


def parse(obj: Json) -> Payload:
    f = Fields(obj, "custom_wasm")
    module, wat = f.raw("module", required=False), f.raw("wat", required=False)
    if (module is None) == (wat is None):
        raise PayloadError("custom_wasm: give exactly one of 'module' (base64 .wasm) or 'wat'")
    if module is not None:
        where = f.path("module")
        wasm = f.b64("module", max_bytes=MAX_MODULE, min_bytes=8)
    else:
        where = f.path("wat")
        text = f.str("wat", max_len=MAX_WAT, min_len=1)
        try:
            wasm = bytes(wasmtime.wat2wasm(text))
        except wasmtime.WasmtimeError as e:
            raise PayloadError(
                f"{where}: not valid WebAssembly text: {oneline(e)}", code="invalid_module"
            ) from None
    try:
        wasmtime.Module.validate(_sandbox().engine, wasm)
    except wasmtime.WasmtimeError as e:
        raise PayloadError(
            f"{where}: invalid WebAssembly module: {oneline(e)}", code="invalid_module"
        ) from None
    p = Payload(
        wasm,
        f.b64("input", max_bytes=MAX_INPUT, required=False) or b"",
        f.int("fuel", 1, 10**13, default=_DEFAULTS.wasm_fuel),
        f.int("memory_mb", 1, 4096, default=DEFAULT_MEMORY_MB),
        f.float("timeout_s", 0.001, 3600.0, default=_DEFAULTS.timeout_s),
        f.str("entry", default="run", min_len=1, max_len=256),
    )
    f.done()
    return p


def execute(p: Payload, ctx: ExecContext) -> Json:
    for name, value, limit in (
        ("fuel", p.fuel, ctx.limits.wasm_fuel),
        ("memory_mb", p.memory_mb, ctx.limits.memory_mb),
    ):
        if value > limit:
            raise ResourceLimitError(
                f"custom_wasm.{name}: {value:,} is over this worker's limit of {limit:,}"
            )
    sandbox = _sandbox()
    compiled = _module_cache(ctx).get(p.wasm, ctx.data_dir)
    compiled.check_entry(p.entry)
    timeout = min(p.timeout_s, ctx.limits.timeout_s)

    store = wasmtime.Store(sandbox.engine)
    store.set_limits(
        memory_size=p.memory_mb * MiB,
        table_elements=TABLE_ELEMENTS,
        instances=1,
        tables=1,
        memories=1,
    )
    store.set_fuel(p.fuel)
    host = Host(p.input)
    externs = [
        wasmtime.Func(store, wasmtime.FuncType(*ABI[n]), getattr(host, n), access_caller=True)
        for n in compiled.imports
    ]
    instance: wasmtime.Instance | None = None
    with sandbox:
        store.set_epoch_deadline(max(1, math.ceil(timeout / TICK_S)))
        try:
            instance = wasmtime.Instance(store, compiled.module, externs)
            entry = cast(wasmtime.Func, instance.exports(store)[p.entry])
            exit_code = int(entry(store))
        except wasmtime.Trap as e:
            raise _trap_error(e, store, instance, p, timeout) from None
        except wasmtime.WasmtimeError as e:  # instantiation refused by the store limits
            msg = oneline(e)
            if "memory" in msg and "exceeds" in msg:
                raise ResourceLimitError(
                    f"out of memory: {msg} (cap {p.memory_mb} MiB, payload memory_mb)",
                    code="out_of_memory",
                ) from None
            raise TaskError(
                f"custom_wasm.module: cannot instantiate: {msg}", code="invalid_module"
            ) from None
    return {
        "output": b64(bytes(host.output)),
        "fuel_used": p.fuel - store.get_fuel(),
        "exit_code": exit_code,
    }


def _trap_error(
    e: wasmtime.Trap,
    store: wasmtime.Store,
    instance: wasmtime.Instance | None,
    p: Payload,
    timeout: float,
) -> TaskError:
    if e.trap_code == wasmtime.TrapCode.OUT_OF_FUEL:
        return ResourceLimitError(
            f"out of fuel: the module used all {p.fuel:,} fuel units", code="out_of_fuel"
        )
    if e.trap_code == wasmtime.TrapCode.INTERRUPT:
        return ResourceLimitError(
            f"timeout: still running after {timeout:g} s (wall clock)", code="timeout"
        )
    lines = [ln.strip() for ln in e.message.splitlines() if ln.strip()]
    reason = next(
        (ln.split("wasm trap:", 1)[1].strip() for ln in lines if "wasm trap:" in ln),
        lines[-1] if lines else "trap",
    )
    if e.frames:
        fr = e.frames[0]
        at = f" at 0x{fr.module_offset:x}" if fr.module_offset < 1 << 32 else ""
        reason += f" (in {fr.func_name or f'function {fr.func_index}'}{at})"
    mems = (
        [x for x in instance.exports(store).values() if isinstance(x, wasmtime.Memory)]
        if instance is not None
        else []
    )
    if not mems:
        return TaskError(f"trap: {reason}", code="trap")
    used = mems[0].data_len(store)
    note = f"memory size {used / MiB:.2f} of the {p.memory_mb} MiB cap (payload memory_mb)"
    if p.memory_mb * MiB - used < MiB:
        return ResourceLimitError(
            f"out of memory: trapped at the cap ({reason}); {note}", code="out_of_memory"
        )
    return TaskError(f"trap: {reason}; {note}", code="trap")


def _module_cache(ctx: ExecContext) -> ModuleCache:
    sandbox = _sandbox()
    cache = ctx.cache.get("custom_wasm")
    if not isinstance(cache, ModuleCache) or cache.engine is not sandbox.engine:
        cache = ctx.cache["custom_wasm"] = ModuleCache(sandbox.engine, sandbox.engine_id)
    return cache


def size(p: Payload) -> int:
    return p.fuel


ECHO_WAT = """(module
  (import "edgenet" "read_input" (func $read (param i32 i32 i32) (result i32)))
  (import "edgenet" "write_output" (func $write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (drop (call $write (i32.const 0) (call $read (i32.const 0) (i32.const 0) (i32.const 65536))))
    (i32.const 0)))"""


def small_example() -> Json:
    return {"wat": ECHO_WAT, "input": b64(b"hello edgenet"), "fuel": 1_000_000}


KIND = TaskKind(
    name="custom_wasm",
    summary="run a WebAssembly module in wasmtime: fuel-metered, memory-capped, no WASI",
    payload_schema={
        "module": {
            "type": "base64",
            "required": False,
            "rule": "≤ 8 MiB .wasm; exactly one of module / wat",
        },
        "wat": {"type": "string", "required": False, "rule": "≤ 1 MiB WebAssembly text"},
        "input": {"type": "base64", "required": False, "rule": "≤ 16 MiB, default empty"},
        "fuel": {
            "type": "integer",
            "required": False,
            "rule": f"1 – worker limit (default {_DEFAULTS.wasm_fuel:,})",
        },
        "memory_mb": {
            "type": "integer",
            "required": False,
            "rule": f"1 – worker limit (default {DEFAULT_MEMORY_MB})",
        },
        "timeout_s": {
            "type": "number",
            "required": False,
            "rule": f"wall clock, capped at the worker limit ({_DEFAULTS.timeout_s:g})",
        },
        "entry": {
            "type": "string",
            "required": False,
            "rule": "exported () -> i32 function, default run",
        },
    },
    result_schema={
        "output": {"type": "base64", "rule": "bytes passed to edgenet.write_output, ≤ 16 MiB"},
        "fuel_used": {"type": "integer", "rule": "fuel consumed, host calls included"},
        "exit_code": {"type": "integer", "rule": "the entry's return value; 0 = success"},
    },
    verification=EXACT,
    parse=parse,
    size=size,
    execute=execute,
    small_example=small_example,
)

__all__ = [
    "ECHO_WAT",
    "HOST_CALL_FUEL",
    "KIND",
    "Compiled",
    "ModuleCache",
    "Payload",
    "execute",
    "parse",
    "size",
]
