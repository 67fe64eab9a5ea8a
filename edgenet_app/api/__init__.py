"""The Python API: the seed design's `EdgeNet.init` / `submit` / `submitBatch`, in Python.

    node = await edgenet_app.init(site_id="my-site", contribution={"cpu_limit": 0.3})
    out = await edgenet_app.submit(type="embedding", payload={"texts": ["Hello"]},
                                   options={"redundancy": 3, "timeout": 30_000})
    node.stats(); node.pause(); node.resume(); await node.disconnect()

`init` starts a `runtime.node.Node` (contributor and submitter at once, launched as every
node is: `runtime/launch.py`) and returns an `EdgeNode` handle; `submit` and `submit_batch`
use the node of the most recent `init` in this process (or call them on the handle).
Arguments are checked before anything is written or connected: a bad one raises `ApiError`
(a `ValueError` and an `EdgenetError`) naming it and what is allowed. Contribution and idle
ranges come from the settings schema (`core/settings.py`), so the API, `edgenet config` and
the command-line flags accept exactly the same values; submit options are checked against
`SubmitRequest` (`core/submit.py`), as the control API and `edgenet submit` check theirs.

    arguments.py  checking init's and submit's arguments (SubmitOptions, submit_options)
    node.py       EdgeNode, the handle of a running node
    calls.py      init, submit, submit_batch and the process's current node
    errors.py     ApiError, DisconnectedError, NodeReportedError

Importing this package is cheap: the node, WebRTC, SQLite and the task kinds are imported
when `init` or `submit` runs.
"""

from .arguments import SubmitOptions, check_site_id, site_data_dir, submit_options
from .calls import init, submit, submit_batch
from .errors import ApiError, DisconnectedError, NodeReportedError
from .node import EdgeNode

__all__ = [
    "ApiError",
    "DisconnectedError",
    "EdgeNode",
    "NodeReportedError",
    "SubmitOptions",
    "check_site_id",
    "init",
    "site_data_dir",
    "submit",
    "submit_batch",
    "submit_options",
]
