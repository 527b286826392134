"""The local executor: every shard in this process (the default).

The step that streams (generate) runs in this thread and keeps its engine fed across shard
boundaries; the steps after it run on each shard as soon as it is written, in shard order, on a
second thread, so verification overlaps generation (the math and code verifiers do their work in
their own processes) and the progress bar shows pass rates while the engine is still sampling.
A step that runs a model here (a vLLM judge or rewriter, a reward model: ``exclusive``) and every
step after it wait until generation is done and the teacher's engine is closed, then run one
step after the other, so two engines never hold the device at once.
A failure on either side stops both and is raised here; whatever was finished stays done.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tqdm.auto import tqdm

from factory.executors.base import Executor, close_stages, exclusive
from factory.plan import Step
from factory.stages.base import StageStats


class LocalExecutor(Executor):
    def run_step(self, step: Step, todo: Sequence[int]) -> None:
        """The missing shards of one step, in order; its stages are closed when it is done (a
        judge's engine is gone before the rewriter's starts)."""
        with tqdm(total=len(todo), desc=step.name, unit=" shards", disable=not self.progress) as bar:
            if self.streams(step):
                for _ in self.stream_shards(step, todo):
                    bar.update()
            else:
                for index in todo:
                    self.run_shard(step, index)
                    bar.update()
        close_stages([step])

    def one_by_one(self, steps: Sequence[Step], todo: dict[str, list[int]]) -> None:
        """Every step's missing shards, one step after the other."""
        for step in steps:
            if todo[step.name]:
                self.run_step(step, todo[step.name])

    def run_steps(self, steps: Sequence[Step], todo: dict[str, list[int]]) -> None:
        head = next((k for k, step in enumerate(steps) if self.streams(step)), None)
        if head is None or not todo[steps[head].name] or head == len(steps) - 1:
            self.one_by_one(steps, todo)
            return
        self.one_by_one(steps[:head], todo)
        stream_step, after = steps[head], steps[head + 1 :]
        cut = next((i for i, step in enumerate(after) if exclusive(step)), len(after))
        after, later = after[:cut], after[cut:]
        downstream = _Downstream(self, after, todo, pending=set(todo[stream_step.name]))
        worker = threading.Thread(target=downstream.run, name="factory-downstream", daemon=True)
        worker.start()
        try:
            with tqdm(
                total=len(todo[stream_step.name]), desc=stream_step.name, unit=" shards", disable=not self.progress
            ) as bar:
                for index in self.stream_shards(stream_step, todo[stream_step.name]):
                    downstream.generated(index)
                    downstream.raise_failure()
                    bar.set_postfix_str(downstream.pass_rates(), refresh=False)
                    bar.update()
        except BaseException:
            downstream.stop()
            raise
        finally:
            downstream.generated(None)  # nothing more is coming
            worker.join()
        downstream.raise_failure()
        if later:
            close_stages(
                [stream_step]
            )  # the teacher's engine goes before a local judge / rewriter / reward model loads
            self.one_by_one(later, todo)


class _Downstream:
    """The steps after the streaming one, shard by shard in order, as shards become available."""

    def __init__(
        self, executor: Executor, steps: Sequence[Step], todo: dict[str, list[int]], pending: set[int]
    ) -> None:
        self.executor, self.steps = executor, steps
        self.todo = {step.name: set(todo[step.name]) for step in steps}
        self.order = sorted(set().union(*self.todo.values()))
        self.pending = pending  # shards the stream has yet to write
        self.ready = threading.Condition()
        self.finished_stream = False
        self.stopped = False
        self.failure: BaseException | None = None
        self.verified = StageStats()

    def generated(self, index: int | None) -> None:
        with self.ready:
            if index is None:
                self.finished_stream = True
            else:
                self.pending.discard(index)
            self.ready.notify_all()

    def stop(self) -> None:
        with self.ready:
            self.stopped = True
            self.ready.notify_all()

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def run(self) -> None:
        try:
            for index in self.order:
                with self.ready:
                    while index in self.pending and not self.stopped and not self.finished_stream:
                        self.ready.wait()
                    if self.stopped or index in self.pending:  # stopped, or the stream ended without it
                        return
                for step in self.steps:
                    if index in self.todo[step.name]:
                        stats = self.executor.run_shard(step, index)
                        if "verify" in stats:
                            self.verified.add(stats["verify"])
        except BaseException as e:  # handed to the main thread, which raises it
            self.failure = e

    def pass_rates(self) -> str:
        parts = self.verified.parts
        return " ".join(f"{name} {p.rows_out / p.rows_in:.0%}" for name, p in parts.items() if p.rows_in)
