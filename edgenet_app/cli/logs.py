"""Where edgenet's log records go.

Every module logs through `logging.getLogger(__name__)`, so all of edgenet's records belong to
one hierarchy under `edgenet_app` (`edgenet_app.runtime.store.store`,
`edgenet_app.runtime.net.mesh`, …) and a level set on `edgenet_app` applies to all of them.
The `edgenet` command writes records to standard error as `LEVEL logger: message`: warnings
and errors by default, every record (other libraries' too) with `-v`. The long-running
commands, `edgenet node` and `edgenet relay`, also show edgenet's own INFO records.
"""

from __future__ import annotations

import logging

ROOT = "edgenet_app"  # the package: every logger of edgenet is this one or below it
FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure(verbose: bool) -> None:
    """Send log records to standard error: WARNING and up, or everything when `verbose`."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format=FORMAT)


def show_progress(verbose: bool) -> None:
    """For a long-running command: show edgenet's INFO records too (DEBUG when `verbose`)."""
    logging.getLogger(ROOT).setLevel(logging.DEBUG if verbose else logging.INFO)
