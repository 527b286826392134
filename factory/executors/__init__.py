"""Executors: the one table from an executor's name to the class that decides where shards run.

Adding one (Ray, Slurm) is one module here and one line in :data:`EXECUTORS` (see docs/extending.md).
"""

from __future__ import annotations

from factory.executors.base import Executor, is_done, step_stats
from factory.executors.local import LocalExecutor
from factory.executors.ray import RayExecutor  # imports Ray only when it runs

EXECUTORS: dict[str, type[Executor]] = {
    "local": LocalExecutor,
    "ray": RayExecutor,
}

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "RayExecutor", "is_done", "step_stats"]
