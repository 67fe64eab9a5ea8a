"""One app per data dir.

The first app takes a `QLockFile` (`app.lock` in the data dir). A lock left by a process
that died is stale and taken over (QLockFile checks the pid and the process name); time
never makes a lock stale (`setStaleLockTime(0)`), as the app may run for weeks. The holder
also listens on a `QLocalServer` named from a hash of the user and the data dir; a second
app for the same data dir fails to take the lock, connects there and says "show", and the
first one raises its window (`activated`). Different data dirs never interfere.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

LOCK_FILE = "app.lock"
HELLO = b"show\n"
CONNECT_MS = 2_000
READ_MS = 500


def server_name(data_dir: Path) -> str:
    """A local socket name for the data dir, the same for every app the user starts there."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name (some containers)
        user = "-"
    key = f"{user}\0{Path(data_dir).resolve()}".encode()
    return "edgenet-" + hashlib.sha256(key).hexdigest()[:24]


class SingleInstance(QObject):
    activated = Signal()  # a second app asked this one to show itself

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.name = server_name(self.data_dir)
        self.lock = QLockFile(str(self.data_dir / LOCK_FILE))
        self.lock.setStaleLockTime(0)
        self.server: QLocalServer | None = None

    def acquire(self) -> bool:
        """Take the lock and listen; False if another app holds it."""
        if not self.lock.tryLock(100):
            return False
        QLocalServer.removeServer(self.name)  # a socket file left by a crash
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if server.listen(self.name):
            server.newConnection.connect(self._on_connection)
            self.server = server
        return True

    def holder_pid(self) -> int | None:
        try:
            pid, _host, _app = self.lock.getLockInfo()
        except (TypeError, ValueError):  # no readable lock file
            return None
        return int(pid) or None

    def _on_connection(self) -> None:
        """Read the second app's one short line (it writes it right after connecting; the
        wait is bounded and happens only when a second app starts)."""
        assert self.server is not None
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            if sock.bytesAvailable() or sock.waitForReadyRead(READ_MS):
                if bytes(sock.readAll().data()).startswith(HELLO.strip()):
                    self.activated.emit()
            sock.disconnectFromServer()
            sock.deleteLater()

    def ask_first_to_show(self) -> bool:
        """From a second app: ask the one holding the lock to raise its window."""
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(CONNECT_MS):
            return False
        sock.write(HELLO)
        ok = sock.waitForBytesWritten(CONNECT_MS)
        sock.disconnectFromServer()
        return ok

    def release(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        self.lock.unlock()
