"""The local executor: every shard of a step in this process, in order (the default)."""

from __future__ import annotations

from collections.abc import Sequence

from tqdm.auto import tqdm

from factory.executors.base import Executor
from factory.plan import Step


class LocalExecutor(Executor):
    def run_shards(self, step: Step, todo: Sequence[int]) -> None:
        with tqdm(total=len(todo), desc=step.name, unit=" shards", disable=not self.progress) as bar:
            for index in todo:
                self.run_shard(step, index)
                bar.update()
