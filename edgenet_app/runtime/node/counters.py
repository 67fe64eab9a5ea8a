"""What a node has done since it started, counted by its services and shown in its status."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counters:
    tasks_completed: int = 0  # tasks this node ran for others and finished
    tasks_submitted: int = 0  # tasks this node submitted (spot-checks not counted)
    cpu_donated_ms: int = 0  # CPU time its workers spent on others' tasks
