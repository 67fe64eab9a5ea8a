"""Windows: the `edgenet` value under HKCU's Run key, and Task Manager's "Disable" mark."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from .base import AutostartBackend, AutostartError
from .command import check_command

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
STARTUP_APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
RUN_VALUE = "edgenet"
MAX_RUN_COMMAND = 260  # "a command line no longer than 260 characters" (Run key docs)


class WinregModule(Protocol):
    """The part of the `winreg` module used here (tests pass a fake)."""

    HKEY_CURRENT_USER: Any
    KEY_READ: int
    KEY_SET_VALUE: int
    REG_SZ: int
    REG_EXPAND_SZ: int

    def OpenKey(self, key: Any, sub_key: str, reserved: int = 0, access: int = ..., /) -> Any: ...

    def CreateKey(self, key: Any, sub_key: str | None, /) -> Any: ...

    def QueryValueEx(self, key: Any, name: str, /) -> tuple[Any, int]: ...

    def SetValueEx(
        self, key: Any, value_name: str | None, reserved: Any, type: int, value: Any, /
    ) -> None: ...

    def DeleteValue(self, key: Any, value: str, /) -> None: ...

    def CloseKey(self, hkey: Any, /) -> None: ...


def system_winreg() -> WinregModule:
    """The real `winreg` module (Windows only)."""
    if sys.platform == "win32":
        import winreg

        return winreg
    raise AutostartError("the Windows registry is only available on Windows")


class WindowsRunBackend(AutostartBackend):
    """The `edgenet` value under HKCU's Run key."""

    mechanism = "registry-run"

    def __init__(self, winreg: WinregModule) -> None:
        self.winreg = winreg

    @property
    def location(self) -> str:
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{RUN_VALUE}"

    def _query(self, sub_key: str) -> tuple[Any, int] | None:
        reg = self.winreg
        try:
            handle = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_READ)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AutostartError(f"cannot read HKEY_CURRENT_USER\\{sub_key}: {exc}") from exc
        try:
            return reg.QueryValueEx(handle, RUN_VALUE)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AutostartError(
                f"cannot read HKEY_CURRENT_USER\\{sub_key}\\{RUN_VALUE}: {exc}"
            ) from exc
        finally:
            reg.CloseKey(handle)

    def _delete(self, sub_key: str) -> None:
        reg = self.winreg
        try:
            handle = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_SET_VALUE)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AutostartError(f"cannot open HKEY_CURRENT_USER\\{sub_key}: {exc}") from exc
        try:
            reg.DeleteValue(handle, RUN_VALUE)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise AutostartError(
                f"cannot remove HKEY_CURRENT_USER\\{sub_key}\\{RUN_VALUE}: {exc}"
            ) from exc
        finally:
            reg.CloseKey(handle)

    def _disabled_in_task_manager(self) -> bool:
        found = self._query(STARTUP_APPROVED_KEY)
        if found is None or not isinstance(found[0], bytes | bytearray) or not found[0]:
            return False
        return bool(found[0][0] & 1)

    def registered_command(self) -> str | None:
        found = self._query(RUN_KEY)
        if found is None or found[1] not in (self.winreg.REG_SZ, self.winreg.REG_EXPAND_SZ):
            return None
        return found[0] if isinstance(found[0], str) and found[0] else None

    def is_enabled(self) -> bool:
        return self.registered_command() is not None and not self._disabled_in_task_manager()

    @staticmethod
    def command_line(command: Sequence[str]) -> str:
        line = subprocess.list2cmdline(check_command(command))
        if len(line) > MAX_RUN_COMMAND:
            raise AutostartError(
                f"cannot start edgenet at login: the command line is {len(line)} characters, "
                f"and Windows runs at most {MAX_RUN_COMMAND} from the Run key ({line[:80]}...)"
            )
        return line

    def enable(self, command: Sequence[str]) -> str:
        line = self.command_line(command)
        reg = self.winreg
        current = self._query(RUN_KEY)
        if current != (line, reg.REG_SZ):
            try:
                handle = reg.CreateKey(reg.HKEY_CURRENT_USER, RUN_KEY)
            except OSError as exc:
                raise AutostartError(f"cannot open HKEY_CURRENT_USER\\{RUN_KEY}: {exc}") from exc
            try:
                reg.SetValueEx(handle, RUN_VALUE, 0, reg.REG_SZ, line)
            except OSError as exc:
                raise AutostartError(f"cannot write {self.location}: {exc}") from exc
            finally:
                reg.CloseKey(handle)
        if self._disabled_in_task_manager():  # the user asks again: undo Task Manager's "Disable"
            self._delete(STARTUP_APPROVED_KEY)
        return self.location

    def disable(self) -> None:
        self._delete(RUN_KEY)
        self._delete(STARTUP_APPROVED_KEY)
