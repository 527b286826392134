"""What every executor shares: running one shard of one step, and the completion markers.

This module is the only place that knows about markers. A shard of a step is done when its
output (and its rejects) were written atomically and then its marker
(``_markers/<step>/shard-NNNNN.json``, holding the shard's stats per stage) was written; a step is
done when every shard is, and then ``_markers/<step>/_done.json`` holds the step's totals and
``stats/<stage>.json`` each stage's. A rerun skips every done shard, so a run killed at any point
finishes with the dataset an uninterrupted run makes. The first step (which reads the source)
streams the whole source in one pass and cuts it into shards; a rerun re-reads it (cheap, and
deterministic) and writes only the shards that are missing.

An executor decides only where and in what order the shards run: it implements
:meth:`Executor.run_steps` (the missing shards of consecutive steps), using the base class's
:meth:`~Executor.run_shard` (one shard of one step, written and marked), :meth:`~Executor.stream_shards`
(a streaming step's shards through one engine) and :meth:`~Executor.write_shard` (a shard made
elsewhere). Adding one is one module and one line in ``factory.executors.EXECUTORS``.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from factory.failures import is_error
from factory.plan import Plan, Step
from factory.recipe import ExecutorConfig
from factory.shards import RunDir, shard_name
from factory.stages.base import StageStats, batched

log = logging.getLogger(__name__)

DONE = "_done"


# -- markers ----------------------------------------------------------------------------------------


def _marker(step: str, index: int | str) -> str:
    name = shard_name(index) if isinstance(index, int) else index
    return f"_markers/{step}/{name}.json"


def is_done(run: RunDir, step: str, index: int | str = DONE) -> bool:
    return run.exists(_marker(step, index))


def mark_done(run: RunDir, step: str, index: int | str, data: dict[str, Any]) -> None:
    run.write_json(_marker(step, index), data)


def shard_errors(run: RunDir, step: str, index: int) -> dict[str, int]:
    """The errors a done shard's marker counts (:mod:`factory.failures`): it is redone by the next run."""
    return run.read_json(_marker(step, index)).get("errors", {})


def step_errors(run: RunDir, step: str, shards: int) -> int:
    """How many of the step's shards hold errors (none once the step is done)."""
    if is_done(run, step):
        return 0
    return sum(1 for i in range(shards) if is_done(run, step, i) and shard_errors(run, step, i))


def _shard_marker(step: Step, stats: dict[str, StageStats], files: dict[str, dict[str, int]]) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    for stage in step.stages:
        errors.update(stage.errors(stats.get(stage.name, StageStats())))
    return {"stats": {name: s.to_dict() for name, s in stats.items()}, "errors": dict(errors), "files": files}


def shard_file(folder: str, index: int) -> str:
    return f"{folder}/{shard_name(index)}.parquet"


def _written(run: RunDir, folder: str, index: int, rows: Iterable[dict[str, Any]], schema: pa.Schema) -> dict[str, int]:
    """Write one shard file; what its marker records of it: its rows and its size."""
    count = run.write_shard(run.shard(folder, index), rows, schema)
    return {"rows": count, "bytes": run.fs.get_file_info(run.shard(folder, index)).size}


def damage(run: RunDir, step: str, index: int) -> str | None:
    """Why a done shard cannot be trusted (a file missing, of another size, or whose Parquet footer
    holds another row count than its marker records), or None. Cheap: sizes and footers only."""
    for rel, want in run.read_json(_marker(step, index)).get("files", {}).items():
        info = run.fs.get_file_info(run.path(rel))
        if info.type == pafs.FileType.NotFound:
            return f"{rel}: missing"
        if info.size != want["bytes"]:
            return f"{rel}: {info.size} bytes, its marker records {want['bytes']}"
        try:
            with run.fs.open_input_file(run.path(rel)) as f:
                rows = pq.ParquetFile(f).metadata.num_rows
        except (pa.ArrowInvalid, OSError) as e:
            return f"{rel}: not a readable Parquet file ({e})"
        if rows != want["rows"]:
            return f"{rel}: {rows} rows, its marker records {want['rows']}"
    return None


def check_run(run: RunDir) -> list[str]:
    """Every damaged shard of a run folder, one line each (``factory check``); nothing is redone."""
    damaged = []
    for folder in run.fs.get_file_info(pafs.FileSelector(run.path("_markers"), allow_not_found=True)):
        if folder.type != pafs.FileType.Directory:
            continue
        for path in run.files(f"_markers/{folder.base_name}", "shard-", ".json"):
            index = int(path.rpartition("shard-")[2].removesuffix(".json"))
            why = damage(run, folder.base_name, index)
            if why is not None:
                damaged.append(f"{folder.base_name} shard {index}: {why}")
    return damaged


def step_stats(run: RunDir, step: str) -> dict[str, StageStats]:
    """Per stage of ``step``: its totals when the step is done, else the sum of its finished shards."""
    if is_done(run, step):
        stats = run.read_json(_marker(step, DONE))["stats"]
        return {name: StageStats.from_dict(s) for name, s in stats.items()}
    totals: dict[str, StageStats] = {}
    for path in run.files(f"_markers/{step}", "shard-", ".json"):
        with run.fs.open_input_stream(path) as f:
            shard = json.loads(f.read())
        for name, s in shard.get("stats", {}).items():
            totals.setdefault(name, StageStats()).add(StageStats.from_dict(s))
    return totals


# -- running ---------------------------------------------------------------------------------------


class Executor(ABC):
    """Runs a plan's steps in order; subclasses decide where each step's shards run."""

    def __init__(self, run: RunDir, progress: bool = True, config: ExecutorConfig | None = None) -> None:
        """``config``: the recipe's ``executor`` section (its settings for this executor)."""
        self.run_dir = run
        self.progress = progress
        self.config = config if config is not None else ExecutorConfig()
        self.retries: dict[tuple[str, int], _Retry] = {}  # (step, shard) -> a streaming shard retried in part
        self.source_redone: set[int] = set()  # the first step's shards this run rewrote (found damaged)

    def run(self, plan: Plan, stop_after: str | None = None) -> None:
        """Run (or resume) ``plan``; ``stop_after`` ends it after the named step."""
        first, *rest = plan.steps
        shards = self.run_source(first, plan.shard_size)
        if stop_after == first.name:
            return
        names = [s.name for s in rest]
        steps = rest[: names.index(stop_after) + 1] if stop_after in names else rest
        todo = self.todo(steps, shards)
        try:
            for step in steps:
                if todo[step.name]:
                    self.run_dir.remove(_marker(step.name, DONE))  # not done after all
                    self.restore(step, [i for i in range(shards) if i not in todo[step.name]])
            self.run_steps(steps, todo)
            for step in steps:
                errors = step_errors(self.run_dir, step.name, shards)
                if errors:  # neither it nor any step after it is done: the next run retries them
                    log.warning("%s: %d shard(s) hold errors; not done, the next run retries them", step.name, errors)
                    break
                self.finish(step, shards)
        finally:
            close_stages(steps)

    def todo(self, steps: Sequence[Step], shards: int) -> dict[str, list[int]]:
        """Per step, the shards to (re)do: those not done, those holding errors, and those a step
        before it redoes. A step that restores state across shards redoes every shard from the
        first one it redoes, so its decisions are an uninterrupted run's. A streaming step's shard
        that holds errors is retried in part: :attr:`retries` names its failed rows."""
        todo: dict[str, list[int]] = {}
        upstream: set[int] = set(self.source_redone)
        self.retries = {}
        for step in steps:
            redo = set(upstream)
            for i in range(shards):
                if not is_done(self.run_dir, step.name, i):
                    redo.add(i)
                elif (why := damage(self.run_dir, step.name, i)) is not None:
                    log.warning("%s: shard %d is damaged (%s); redoing it and the steps after it", step.name, i, why)
                    redo.add(i)
                elif shard_errors(self.run_dir, step.name, i):
                    redo.add(i)
                    if self.streams(step) and i not in upstream:
                        self.retries[(step.name, i)] = self._failed_rows(step, i)
            if redo and any(stage.restores for stage in step.stages):
                redo.update(range(min(redo), shards))
            todo[step.name] = sorted(redo)
            upstream = redo
        return todo

    @abstractmethod
    def run_steps(self, steps: Sequence[Step], todo: dict[str, list[int]]) -> None:
        """Run the missing shards (``todo[step.name]``) of these consecutive steps: shard *i* of a
        step only after shard *i* of the step before it. Where they run (this process, workers, a
        Ray cluster) and in what order is the executor's choice."""

    def invalidate(self, steps: Sequence[Step]) -> None:
        """Forget what these steps made (outputs, rejects, markers, stats): they run again."""
        for step in steps:
            for folder in (step.output, step.rejects, f"_markers/{step.name}"):
                if folder is not None:
                    self.run_dir.remove(folder)
            for stage in step.stages:
                self.run_dir.remove(f"stats/{stage.name}.json")

    def run_shard(self, step: Step, index: int) -> dict[str, StageStats]:
        """One shard of one step: read, chain the stages, write atomically, then mark it done.
        Returns the shard's stats per stage."""
        stats = {stage.name: StageStats() for stage in step.stages}
        start = time.perf_counter()
        rows: Iterator[dict[str, Any]] = self.run_dir.read_shard(self.run_dir.shard(step.input, index))
        for stage in step.stages:
            rows = stage.run(rows, stats[stage.name])
        files = self._write(step, index, rows)
        if len(step.stages) == 1 and not stats[step.stages[0].name].seconds:  # generate times its own core work
            stats[step.stages[0].name].seconds = time.perf_counter() - start
        mark_done(self.run_dir, step.name, index, _shard_marker(step, stats, files))
        return stats

    def stream_shards(self, step: Step, todo: Sequence[int], window: int = 1024) -> Iterator[int]:
        """A step whose one stage streams across shards (generate): feed it every shard in
        ``todo`` at once, write each shard as the stage finishes it, and yield its index."""
        (stage,) = step.stages
        inputs = ((i, self.stream_input(step, i)) for i in todo)
        for index, rows, stats in stage.stream(inputs, window=window):
            self.write_shard(step, index, rows, {stage.name: stats})
            yield index

    def stream_input(self, step: Step, index: int) -> list[dict[str, Any]]:
        """The rows a streaming step's shard sends its stage: all of them, or, for a shard retried
        in part (:attr:`retries`), only those whose work failed (each keeps its own seed)."""
        rows = list(self.run_dir.read_shard(self.run_dir.shard(step.input, index)))
        retry = self.retries.get((step.name, index))
        return rows if retry is None else [r for r in rows if r["id"] in retry.failed]

    def write_shard(self, step: Step, index: int, rows: Iterable[dict[str, Any]], stats: dict[str, StageStats]) -> None:
        """A shard whose rows were made elsewhere (a stream, a remote engine): write it, then mark it
        done. A shard retried in part gets the rows and counts it kept from before, in input order."""
        retry = self.retries.pop((step.name, index), None)
        if retry is not None:
            rows, stats = retry.merge(step, self.run_dir.read_shard(self.run_dir.shard(step.input, index)), rows, stats)
        files = self._write(step, index, iter(rows))
        mark_done(self.run_dir, step.name, index, _shard_marker(step, stats, files))

    def _failed_rows(self, step: Step, index: int) -> _Retry:
        """What a streaming step's errored shard keeps (its good rows and their counts) and redoes."""
        run = self.run_dir
        kept = list(run.read_shard(run.shard(step.output, index)))
        old = list(run.read_shard(run.shard(step.rejects, index))) if step.rejects is not None else []
        failed = [r for r in old if is_error(r.get("reject_reason"))]
        kept += [r for r in old if not is_error(r.get("reject_reason"))]
        stats = {name: StageStats.from_dict(s) for name, s in run.read_json(_marker(step.name, index))["stats"].items()}
        return _Retry({r["problem_id"] for r in failed}, kept, stats, Counter(r["reject_reason"] for r in failed))

    @staticmethod
    def streams(step: Step) -> bool:
        return len(step.stages) == 1 and step.stages[0].streams

    def _write(self, step: Step, index: int, rows: Iterator[dict[str, Any]]) -> dict[str, dict[str, int]]:
        """Write the shard (and its rejects); returns what the marker records of each file."""
        run = self.run_dir
        if step.rejects is None:
            return {shard_file(step.output, index): _written(run, step.output, index, rows, step.schema)}
        rejected: list[dict[str, Any]] = []
        return {
            shard_file(step.output, index): _written(run, step.output, index, _route(rows, rejected), step.schema),
            shard_file(step.rejects, index): _written(run, step.rejects, index, rejected, step.reject_schema),
        }

    def run_source(self, step: Step, shard_size: int) -> int:
        """The first step: stream the source through its stages once, cutting it into shards."""
        run = self.run_dir
        for path in run.files(f"_markers/{step.name}", "shard-", ".json"):
            index = int(path.rpartition("shard-")[2].removesuffix(".json"))
            if (why := damage(run, step.name, index)) is not None:
                log.warning("%s: shard %d is damaged (%s); reading the source again", step.name, index, why)
                run.remove(_marker(step.name, index))
                run.remove(_marker(step.name, DONE))
                self.source_redone.add(index)
        if is_done(run, step.name):
            return run.read_json(_marker(step.name, DONE))["shards"]
        stats = {stage.name: StageStats() for stage in step.stages}
        start = time.perf_counter()
        rows: Iterator[dict[str, Any]] = iter(())
        for stage in step.stages:
            rows = stage.run(rows, stats[stage.name])
        rejected: list[dict[str, Any]] = []
        if step.rejects is not None:
            rows = _route(rows, rejected)
        index = 0
        try:
            for chunk in batched(_progress(rows, step.name, self.progress), shard_size):
                if not is_done(run, step.name, index):  # an earlier, interrupted run may have written it
                    files = {shard_file(step.output, index): _written(run, step.output, index, chunk, step.schema)}
                    if step.rejects is not None:
                        written = _written(run, step.rejects, index, rejected, step.reject_schema)
                        files[shard_file(step.rejects, index)] = written
                    mark_done(run, step.name, index, {"rows": len(chunk), "rejected": len(rejected), "files": files})
                rejected.clear()
                index += 1
            if index == 0:
                raise ValueError(f"{step.name}: the source yielded no problems ({_counts(stats)})")
            if rejected and step.rejects is not None:  # rejects after the last kept problem: a shard of their own
                run.write_shard(run.shard(step.rejects, index), rejected, step.reject_schema)
        finally:
            for stage in step.stages:
                stage.close()
        stats[step.stages[0].name].seconds = time.perf_counter() - start
        self._write_done(step, index, stats)
        return index

    def restore(self, step: Step, done: Sequence[int]) -> None:
        """Give stages that keep state across shards the output of the shards already done, in order."""
        stages = [s for s in step.stages if s.restores]
        if not stages or not done:
            return
        for stage in stages:
            run, columns = self.run_dir, stage.restore_columns  # a run-wide index needs a few columns, not the traces
            stage.restore(row for i in done for row in run.read_shard(run.shard(step.output, i), columns=columns))

    def finish(self, step: Step, shards: int) -> None:
        """Write the step's totals once all its shards are done."""
        if is_done(self.run_dir, step.name):
            return
        self._write_done(step, shards, step_stats(self.run_dir, step.name))

    def _write_done(self, step: Step, shards: int, stats: dict[str, StageStats]) -> None:
        for name, s in stats.items():
            self.run_dir.write_json(f"stats/{name}.json", s.to_dict())
        data = {"shards": shards, "stats": {name: s.to_dict() for name, s in stats.items()}}
        mark_done(self.run_dir, step.name, DONE, data)


@dataclass
class _Retry:
    """A streaming step's shard that holds errors: the problems to ask again, and what stays."""

    failed: set[str]  # ids of the problems whose work failed
    kept: list[dict[str, Any]]  # the shard's other rows (kept and rejected)
    stats: dict[str, StageStats]  # the shard's counts before
    errors: Counter[str]  # the failed rows' reasons (one row per failed problem)

    def merge(
        self,
        step: Step,
        inputs: Iterable[dict[str, Any]],
        rows: Iterable[dict[str, Any]],
        stats: dict[str, StageStats],
    ) -> tuple[list[dict[str, Any]], dict[str, StageStats]]:
        """The shard's rows in input order, and its counts: the old ones less the failures, plus the retry's."""
        order = {row["id"]: k for k, row in enumerate(inputs)}
        merged = sorted([*self.kept, *rows], key=lambda row: order[row["problem_id"]])
        totals: dict[str, StageStats] = {}
        for stage in step.stages:
            total = totals[stage.name] = StageStats.from_dict(self.stats[stage.name].to_dict())
            total.rows_in -= sum(self.errors.values())
            total.dropped = total.dropped - self.errors
            total.add(stats.get(stage.name, StageStats()))
        return merged, totals


def exclusive(step: Step) -> bool:
    """A step that runs a model on this machine (a local judge, rewriter or reward model): it must
    not share the machine with the teacher's engine."""
    return any(stage.exclusive for stage in step.stages)


def close_stages(steps: Sequence[Step]) -> None:
    for step in steps:
        for stage in step.stages:
            stage.close()


def _route(rows: Iterator[dict[str, Any]], rejected: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        if row.get("keep", True):
            yield row
        else:
            rejected.append(row)


def _counts(stats: dict[str, StageStats]) -> str:
    return "; ".join(
        f"{name}: {s.rows_in} in, {s.rows_out} out, dropped {dict(s.dropped) or 'none'}" for name, s in stats.items()
    )


def _progress(rows: Iterator[dict[str, Any]], name: str, enabled: bool) -> Iterator[dict[str, Any]]:
    from tqdm.auto import tqdm

    with tqdm(desc=name, unit=" rows", disable=not enabled) as bar:
        for row in rows:
            bar.update()
            yield row
