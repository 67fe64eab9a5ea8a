"""The host ABI of `custom_wasm`: the functions a module may import from "edgenet", what a
call costs, and `Host`, which serves them for one run (see the package docstring)."""

from __future__ import annotations

import ctypes
from typing import cast

import wasmtime

from ..base import ResourceLimitError, TaskError

MiB = 1024 * 1024
MAX_OUTPUT = 16 * MiB
HOST_CALL_FUEL = 100_000  # ≈ the ~11 µs a Python host call takes, at ~9·10⁹ fuel/s

_I32 = wasmtime.ValType.i32()
ABI: dict[str, tuple[list[wasmtime.ValType], list[wasmtime.ValType]]] = {
    "input_len": ([], [_I32]),
    "read_input": ([_I32, _I32, _I32], [_I32]),
    "write_output": ([_I32, _I32], [_I32]),
}
ABI_NAMES = ", ".join(f"edgenet.{n}" for n in ABI)


class Host:
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
