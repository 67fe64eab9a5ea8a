"""Keep PyAV (FFmpeg) out of edgenet's own processes.

aiortc imports PyAV when it is imported, for its audio and video codecs. edgenet uses only
WebRTC data channels, and PyAV costs about 17 MB of resident memory in every node and in
the tray app (measured: `import aiortc` adds 51 MB with PyAV, 34 MB without). `install()`,
called by the `edgenet` command before anything imports aiortc, puts a stand-in `av`
package first on the import path: every name aiortc takes from it at import time is a
placeholder class, and any use of one (a media track, a codec) fails at once with
`MediaUnavailable` naming what was used, never silently.

Only the `edgenet` command installs it: a program that uses `edgenet_app.init()` as a
library keeps the real PyAV, which it may use itself. If PyAV or aiortc is already
imported, `install()` does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any, NoReturn

from ...core.errors import EdgenetError

MESSAGE = "edgenet does not load PyAV (audio/video): {} is unavailable in this process"


class MediaUnavailable(EdgenetError, AttributeError):
    """A media feature of aiortc was used in a process that runs without PyAV."""


def _refuse(what: str) -> NoReturn:
    raise MediaUnavailable(MESSAGE.format(what))


class _PlaceholderType(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):  # typing and introspection probe dunders: plain "no"
            raise AttributeError(name)
        _refuse(f"{cls.__module__}.{cls.__qualname__}.{name}")

    def __call__(cls, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"{cls.__module__}.{cls.__qualname__}()")


class _StandInModule(types.ModuleType):
    """`av` or one of its submodules: any public name is a placeholder class."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        placeholder = _PlaceholderType(name, (), {"__module__": self.__name__})
        setattr(self, name, placeholder)
        return placeholder


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "av" or fullname.startswith("av."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def installed() -> bool:
    return any(isinstance(f, _Finder) for f in sys.meta_path)


def install() -> bool:
    """Serve a stand-in `av` from now on; False if the real one is (or may be) in use."""
    if installed():
        return True
    if "av" in sys.modules or "aiortc" in sys.modules:
        return False
    sys.meta_path.insert(0, _Finder())
    return True
