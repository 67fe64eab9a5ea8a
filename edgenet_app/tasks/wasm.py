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
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import math
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import cast

import wasmtime

from .base import (
    EXACT,
    ExecContext,
    Json,
    Limits,
    PayloadError,
    ResourceLimitError,
    TaskError,
    TaskKind,
)
from .payload import Fields, b64

MiB = 1024 * 1024
PAGE = 65536
MAX_MODULE = 8 * MiB
MAX_WAT = 1 * MiB
MAX_INPUT = 16 * MiB
MAX_OUTPUT = 16 * MiB
DEFAULT_MEMORY_MB = 64
TABLE_ELEMENTS = 10_000
HOST_CALL_FUEL = 100_000  # ≈ the ~11 µs a Python host call takes, at ~9·10⁹ fuel/s
TICK_S = 0.01
TICKER_LINGER_S = 1.0
MAX_CACHED = 16
DISK_CACHE_MIN_COMPILE_S = 0.05  # persist only modules slower than this to compile
DISK_CACHE_MAX_FILES = 64
_MAGIC = b"EDGECWASM1"
_DEFAULTS = Limits()

_I32 = wasmtime.ValType.i32()
_ABI: dict[str, tuple[list[wasmtime.ValType], list[wasmtime.ValType]]] = {
    "input_len": ([], [_I32]),
    "read_input": ([_I32, _I32, _I32], [_I32]),
    "write_output": ([_I32, _I32], [_I32]),
}
_ABI_NAMES = ", ".join(f"edgenet.{n}" for n in _ABI)


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
                f"{where}: not valid WebAssembly text: {_oneline(e)}", code="invalid_module"
            ) from None
    try:
        wasmtime.Module.validate(_sandbox().engine, wasm)
    except wasmtime.WasmtimeError as e:
        raise PayloadError(
            f"{where}: invalid WebAssembly module: {_oneline(e)}", code="invalid_module"
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
    host = _Host(p.input)
    externs = [
        wasmtime.Func(store, wasmtime.FuncType(*_ABI[n]), getattr(host, n), access_caller=True)
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
            msg = _oneline(e)
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


class _Host:
    """The `edgenet` host functions for one run (called by wasmtime with a Caller first)."""

    def __init__(self, data: bytes) -> None:
        self.size = len(data)
        self.buf = ctypes.create_string_buffer(data, max(1, self.size))
        self.output = bytearray()

    def input_len(self, caller: wasmtime.Caller) -> int:
        _charge(caller, 0)
        return self.size

    def read_input(self, caller: wasmtime.Caller, ptr: int, offset: int, length: int) -> int:
        ptr, offset, length = ptr & 0xFFFFFFFF, offset & 0xFFFFFFFF, length & 0xFFFFFFFF
        n = max(0, min(length, self.size - offset))
        _charge(caller, n)
        if n:
            ctypes.memmove(
                _address(caller, ptr, n, "read_input"), ctypes.addressof(self.buf) + offset, n
            )
        return n

    def write_output(self, caller: wasmtime.Caller, ptr: int, length: int) -> int:
        ptr, length = ptr & 0xFFFFFFFF, length & 0xFFFFFFFF
        _charge(caller, length)
        if len(self.output) + length > MAX_OUTPUT:
            raise TaskError(
                f"output_too_large: the output would exceed {MAX_OUTPUT // MiB} MiB",
                code="output_too_large",
            )
        if length:
            self.output += ctypes.string_at(_address(caller, ptr, length, "write_output"), length)
        return 0


def _charge(caller: wasmtime.Caller, nbytes: int) -> None:
    """Take a host call's fuel from the store (Store's fuel methods only need `_context()`)."""
    store = cast(wasmtime.Store, caller)
    cost = HOST_CALL_FUEL + nbytes
    left = wasmtime.Store.get_fuel(store)
    wasmtime.Store.set_fuel(store, max(0, left - cost))
    if cost > left:
        raise ResourceLimitError("out of fuel in a host call", code="out_of_fuel")


def _address(caller: wasmtime.Caller, ptr: int, n: int, fn: str) -> int:
    mem = caller.get("memory")
    if not isinstance(mem, wasmtime.Memory):
        raise TaskError(
            f"trap: edgenet.{fn} needs the module to export its memory as 'memory'", code="trap"
        )
    size = mem.data_len(caller)
    if ptr + n > size:
        raise TaskError(
            f"trap: edgenet.{fn}: bytes [{ptr}, {ptr + n}) are outside the memory ({size} bytes)",
            code="trap",
        )
    return ctypes.addressof(mem.data_ptr(caller).contents) + ptr


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


@dataclass(frozen=True)
class Compiled:
    """A compiled module with its imports checked against the host ABI (done once)."""

    module: wasmtime.Module
    imports: tuple[str, ...]  # ABI function names, in the module's import order
    funcs: dict[str, str]  # exported function -> its type, "(params) -> (results)"

    @classmethod
    def check(cls, module: wasmtime.Module) -> Compiled:
        names = []
        for imp in module.imports:
            full, ty = f"{imp.module}.{imp.name}", imp.type
            if imp.module != "edgenet" or imp.name not in _ABI:
                raise TaskError(
                    f"custom_wasm.module: imports {full}, which the sandbox does not provide "
                    f"(no WASI; the host ABI is {_ABI_NAMES})",
                    code="invalid_module",
                )
            want = _sig(*_ABI[imp.name])
            if not isinstance(ty, wasmtime.FuncType) or _sig(ty.params, ty.results) != want:
                raise TaskError(
                    f"custom_wasm.module: imports {full} with the wrong type; expected func {want}",
                    code="invalid_module",
                )
            names.append(imp.name)
        funcs = {
            e.name: _sig(e.type.params, e.type.results)
            for e in module.exports
            if isinstance(e.type, wasmtime.FuncType)
        }
        return cls(module, tuple(names), funcs)

    def check_entry(self, entry: str) -> None:
        if entry not in self.funcs:
            raise TaskError(
                f"custom_wasm.module: no exported function {entry!r} (payload entry); "
                f"exported functions: {', '.join(sorted(self.funcs)) or 'none'}",
                code="invalid_module",
            )
        if self.funcs[entry] != "() -> (i32)":
            raise TaskError(
                f"custom_wasm.module: {entry!r} must have type () -> (i32), has "
                f"{self.funcs[entry]}",
                code="invalid_module",
            )


def _sig(params: list[wasmtime.ValType], results: list[wasmtime.ValType]) -> str:
    return f"({', '.join(map(str, params))}) -> ({', '.join(map(str, results))})"


def _oneline(e: Exception) -> str:
    return " ".join(str(e).split())


class ModuleCache:
    """Compiled modules by SHA-256 of their bytes: an LRU in memory, slow compiles on disk."""

    def __init__(self, engine: wasmtime.Engine, engine_id: str) -> None:
        self.engine, self.engine_id = engine, engine_id
        self.modules: OrderedDict[str, Compiled] = OrderedDict()
        self.compiled = self.memory_hits = self.disk_hits = 0

    def get(self, wasm: bytes, data_dir: Path | None) -> Compiled:
        key = hashlib.sha256(wasm).hexdigest()
        hit = self.modules.get(key)
        if hit is not None:
            self.modules.move_to_end(key)
            self.memory_hits += 1
            return hit
        disk = _DiskCache(data_dir / "wasm-cache", f"{key}-{self.engine_id}") if data_dir else None
        module = disk.load(self.engine) if disk else None
        if module is not None:
            self.disk_hits += 1
        else:
            t0 = time.perf_counter()
            try:
                module = wasmtime.Module(self.engine, wasm)
            except wasmtime.WasmtimeError as e:
                raise TaskError(
                    f"custom_wasm.module: invalid WebAssembly module: {_oneline(e)}",
                    code="invalid_module",
                ) from None
            self.compiled += 1
            if disk and time.perf_counter() - t0 >= DISK_CACHE_MIN_COMPILE_S:
                disk.save(module)
        compiled = self.modules[key] = Compiled.check(module)
        while len(self.modules) > MAX_CACHED:
            self.modules.popitem(last=False)
        return compiled


def _module_cache(ctx: ExecContext) -> ModuleCache:
    sandbox = _sandbox()
    cache = ctx.cache.get("custom_wasm")
    if not isinstance(cache, ModuleCache) or cache.engine is not sandbox.engine:
        cache = ctx.cache["custom_wasm"] = ModuleCache(sandbox.engine, sandbox.engine_id)
    return cache


@dataclass
class _DiskCache:
    """One serialized module: MAGIC + HMAC-SHA256(key, body) + body; best effort throughout."""

    folder: Path
    name: str

    def _key(self) -> bytes | None:
        """This installation's cache key, created once (atomically, owner-only)."""
        path = self.folder / ".key"
        try:
            if not path.exists():
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.folder)  # mode 0o600
                try:
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(os.urandom(32))
                    os.link(tmp, path)  # fails if another worker won the race: use theirs
                except FileExistsError:
                    pass
                finally:
                    os.unlink(tmp)
            key = path.read_bytes()
        except OSError:
            return None
        return key if len(key) == 32 else None

    def load(self, engine: wasmtime.Engine) -> wasmtime.Module | None:
        path = self.folder / f"{self.name}.cwasm"
        try:
            key, blob = self._key(), path.read_bytes() if path.exists() else b""
        except OSError:
            return None
        head, mac, body = (
            blob[: len(_MAGIC)],
            blob[len(_MAGIC) : len(_MAGIC) + 32],
            blob[len(_MAGIC) + 32 :],
        )
        if key is None or head != _MAGIC or not hmac.compare_digest(mac, _mac(key, body)):
            return None
        try:
            return wasmtime.Module.deserialize(engine, body)
        except wasmtime.WasmtimeError:
            path.unlink(missing_ok=True)
            return None

    def save(self, module: wasmtime.Module) -> None:
        key = self._key()
        if key is None:
            return
        body = bytes(module.serialize())
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + _mac(key, body) + body)
            os.replace(tmp, self.folder / f"{self.name}.cwasm")
            files = sorted(self.folder.glob("*.cwasm"), key=lambda q: q.stat().st_mtime)
            for old in files[:-DISK_CACHE_MAX_FILES]:
                old.unlink(missing_ok=True)
        except OSError:
            return


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


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

__all__ = ["ECHO_WAT", "KIND", "Compiled", "ModuleCache", "Payload", "execute", "parse", "size"]
