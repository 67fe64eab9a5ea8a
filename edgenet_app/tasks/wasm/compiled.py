"""Compiled `custom_wasm` modules: checked against the host ABI once, then kept in an LRU
in memory and, when they were slow to compile, on disk in `data_dir/wasm-cache/`
(authenticated with an HMAC key kept beside them, so only files this installation wrote are
ever deserialised)."""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from ..base import TaskError
from .abi import ABI, ABI_NAMES

MAX_CACHED = 16
DISK_CACHE_MIN_COMPILE_S = 0.05  # persist only modules slower than this to compile
DISK_CACHE_MAX_FILES = 64
_MAGIC = b"EDGECWASM1"


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
            if imp.module != "edgenet" or imp.name not in ABI:
                raise TaskError(
                    f"custom_wasm.module: imports {full}, which the sandbox does not provide "
                    f"(no WASI; the host ABI is {ABI_NAMES})",
                    code="invalid_module",
                )
            want = _sig(*ABI[imp.name])
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


def oneline(e: Exception) -> str:
    """A wasmtime error's message on one line."""
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
                    f"custom_wasm.module: invalid WebAssembly module: {oneline(e)}",
                    code="invalid_module",
                ) from None
            self.compiled += 1
            if disk and time.perf_counter() - t0 >= DISK_CACHE_MIN_COMPILE_S:
                disk.save(module)
        compiled = self.modules[key] = Compiled.check(module)
        while len(self.modules) > MAX_CACHED:
            self.modules.popitem(last=False)
        return compiled


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
