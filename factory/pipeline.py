"""Run a recipe: read -> generate -> verify -> select -> export, shard by shard, resumably.

The stages only transform rows; this module decides where their rows come from and go to. Each
step reads its input shard from the previous step's folder, streams it through the stage, and
writes its output shard atomically followed by a completion marker holding the shard's stats. A
rerun of the same recipe skips every marked shard, so a run killed at any point finishes with the
same dataset it would have produced uninterrupted. The engine never holds more than one shard.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import yaml
from tqdm.auto import tqdm

from factory.recipe import Recipe, RecipeError
from factory.records import PROBLEM_SCHEMA, SELECT_FIELDS, TRACE_SCHEMA, merge_schemas, verdict_schema
from factory.shards import RunDir, read_rows, write_json, write_rows
from factory.stages.base import Stage, StageStats, batched
from factory.stages.export import SFT_SCHEMA, RejectWriter, SFTWriter
from factory.stages.generate import TraceGenerator
from factory.stages.read import ProblemReader
from factory.stages.dedup import ProblemDeduplicator
from factory.stages.decontaminate import ProblemDecontaminator
from factory.stages.select import PROBLEM_SCORE_SCHEMA, VOTE_FIELDS, MajorityVoter, ProblemScorer, TraceSelector
from factory.stages.verify import TraceVerifier

log = logging.getLogger(__name__)


@dataclass
class Step:
    stage: Stage
    input: str  # folder of input shards
    output: str  # folder of output shards
    schema: pa.Schema


def build_steps(recipe: Recipe) -> list[Step]:
    verdicts = verdict_schema(list(recipe.verify))
    traces, verify_input = TRACE_SCHEMA, "traces"
    steps = [Step(TraceGenerator(recipe.generate), "problems", "traces", TRACE_SCHEMA)]
    if recipe.select.majority_vote is not None:  # pseudo-gold for problems without one, before verify
        traces, verify_input = merge_schemas(TRACE_SCHEMA, VOTE_FIELDS), "labelled"
        steps.append(Step(MajorityVoter(recipe.select.majority_vote), "traces", "labelled", traces))
    verified = merge_schemas(traces, verdicts)
    selected = merge_schemas(verified, SELECT_FIELDS)
    selector = TraceSelector(
        recipe.select,
        recipe.required_verifiers,
        keep_system=recipe.export.system_prompt,
        keep_few_shot=recipe.export.few_shot,
        run_dir=recipe.output_dir,
    )
    steps += [
        Step(TraceVerifier(recipe.verify), verify_input, "verified", verified),
        Step(selector, "verified", "selected", selected),
        Step(ProblemScorer(), "selected", "problems_scored", PROBLEM_SCORE_SCHEMA),
        Step(SFTWriter(recipe.export.system_prompt, recipe.export.few_shot), "selected", "export/sft", SFT_SCHEMA),
    ]
    if recipe.export.rejected:
        steps.append(Step(RejectWriter(), "selected", "export/rejected", selected))
    return steps


def run_recipe(recipe: Recipe, *, progress: bool = True, stop_after: str | None = None) -> dict[str, Any]:
    """Run (or resume) a recipe in this process and return its summary.

    ``stop_after`` ends the run after the named stage (used to inspect or test partial runs).
    """
    run = RunDir(recipe.output_dir)
    _claim(run, recipe)
    shards = _read_problems(recipe, run, progress)
    if stop_after == "read":
        return summarize(recipe, run)
    for step in build_steps(recipe):
        try:
            _run_step(step, run, shards, progress)
        finally:
            step.stage.close()
        if stop_after == step.stage.name:
            break
    summary = summarize(recipe, run)
    write_json(run.root / "summary.json", summary)
    return summary


# The sections that decide what the data run produces; train/eval settings may change freely
# without invalidating the data already made.
DATA_SECTIONS = ("name", "source", "generate", "verify", "select", "export")


def _claim(run: RunDir, recipe: Recipe) -> None:
    """Record the recipe in the run folder; refuse to resume a folder made by a different data recipe."""
    path = run.root / "recipe.json"
    current = recipe.to_dict()
    if path.exists():
        previous = json.loads(path.read_text())
        now = json.loads(json.dumps(current, default=str))
        changed = [k for k in DATA_SECTIONS if previous.get(k) != now.get(k)]
        if changed:
            raise RecipeError(
                f"{run.root} holds a run of a different recipe (sections changed: {', '.join(changed)}); "
                "delete it or set run_dir to a new folder"
            )
        log.info("resuming %s", run.root)
        return
    write_json(path, current)
    (run.root / "recipe.yaml").write_text(yaml.safe_dump(current, sort_keys=False, allow_unicode=True))


def _read_problems(recipe: Recipe, run: RunDir, progress: bool) -> int:
    """Shard the source into ``problems/``; returns the number of shards."""
    if run.is_done("read", "all"):
        return json.loads(run.marker("read", "all").read_text())["counters"]["shards"]
    reader = ProblemReader(recipe.source)
    stats = StageStats()
    start = time.perf_counter()
    rows = reader.run(None, stats)
    # problem filters (decontamination, dedup) mark rows; marked ones go to problems_rejected/
    filters = problem_filters(recipe)
    filter_stats = [StageStats() for _ in filters]
    for f, fstats in zip(filters, filter_stats, strict=True):
        rows = f.run(rows, fstats)
    rejected: list[dict[str, Any]] = []
    rows = _route_rejected(rows, rejected)
    index = 0
    bar = tqdm(desc="read", unit=" problems", disable=not progress)
    for chunk in batched(rows, recipe.source.shard_size):
        if not run.is_done("read", index):  # an earlier, interrupted run may have written it
            write_rows(run.shard("problems", index), chunk, PROBLEM_SCHEMA)
            run.mark_done("read", index, {"rows_in": len(chunk), "rows_out": len(chunk)})
        bar.update(len(chunk))
        index += 1
    bar.close()
    if index == 0:
        raise ValueError(f"source.path: {recipe.source.path} yielded no problems")
    stats.counters["shards"] = index
    stats.seconds = time.perf_counter() - start
    if filters:
        stats.rows_out -= len(rejected)
        write_rows(run.root / "problems_rejected" / "shard-00000.parquet", rejected, PROBLEM_REJECT_SCHEMA)
        for f, fstats in zip(filters, filter_stats, strict=True):
            f.close()
            stats.dropped.update(fstats.dropped)
            write_json(run.root / "stats" / f"{f.name}.json", fstats.to_dict())
    run.mark_done("read", "all", stats.to_dict())
    write_json(run.root / "stats" / "read.json", stats.to_dict())
    return index


PROBLEM_REJECT_SCHEMA = merge_schemas(
    PROBLEM_SCHEMA, pa.schema([("reject_reason", pa.string()), ("reject_details", pa.string())])
)


def problem_filters(recipe: Recipe) -> list[Any]:
    """The problem-level select policies, run on the source stream before anything is generated."""
    filters: list[Any] = []
    if recipe.select.decontaminate is not None:
        filters.append(ProblemDecontaminator(recipe.select.decontaminate))
    if recipe.select.problem_dedup is not None:
        filters.append(ProblemDeduplicator(recipe.select.problem_dedup))
    return filters


def _route_rejected(rows: Iterator[dict[str, Any]], rejected: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        if row.get("reject_reason"):
            rejected.append(row)
        else:
            yield row


def _run_step(step: Step, run: RunDir, shards: int, progress: bool) -> None:
    name = step.stage.name
    todo = [i for i in range(shards) if not run.is_done(name, i)]
    bar = tqdm(total=shards, initial=shards - len(todo), desc=name, unit=" shards", disable=not progress)
    total = StageStats.total(run.shard_stats(name))
    for i in todo:
        stats = StageStats()
        start = time.perf_counter()
        rows = step.stage.run(read_rows(run.shard(step.input, i)), stats)
        write_rows(run.shard(step.output, i), rows, step.schema)
        if not stats.seconds:  # stages that time their own core work (generate) set it themselves
            stats.seconds = time.perf_counter() - start
        run.mark_done(name, i, stats.to_dict())
        total = StageStats.total([total.to_dict(), stats.to_dict()])
        bar.set_postfix(rows_in=total.rows_in, rows_out=total.rows_out)
        bar.update()
    bar.close()
    write_json(run.root / "stats" / f"{name}.json", StageStats.total(run.shard_stats(name)).to_dict())


def summarize(recipe: Recipe, run: RunDir) -> dict[str, Any]:
    """Counts for the CLI and ``summary.json``, all derived from the stage stats on disk."""

    def stage(name: str) -> StageStats:
        return StageStats.total(run.shard_stats(name))

    read = json.loads(run.marker("read", "all").read_text()) if run.is_done("read", "all") else None
    gen, ver, sel = stage("generate"), stage("verify"), stage("select")
    tokens = gen.counters.get("completion_tokens", 0)
    return {
        "recipe": recipe.name,
        "run_dir": str(run.root),
        "problems": read["rows_out"] if read else 0,
        "bad_rows": read["dropped"].get("bad_row", 0) if read else 0,
        "traces": gen.rows_out,
        "truncated": gen.counters.get("finish_length", 0),
        "completion_tokens": tokens,
        "generate_seconds": round(gen.seconds, 2),
        "tokens_per_second": round(tokens / gen.seconds, 1) if gen.seconds else None,
        "pass_rate": {
            name: round(ver.counters.get(f"{name}:passed", 0) / ver.rows_out, 4) if ver.rows_out else None
            for name in recipe.verify
        },
        "verdict_reasons": {
            name: {
                key.split(":", 1)[1]: n
                for key, n in sorted(ver.counters.items())
                if key.startswith(f"{name}:") and key != f"{name}:passed"
            }
            for name in recipe.verify
        },
        "problems_filtered": {k: n for k, n in (read["dropped"] if read else {}).items() if k != "bad_row"},
        "pseudo_labelled": stage("vote").counters.get("problems_pseudo_labelled", 0),
        "kept": sel.rows_out,
        "rejected": sum(sel.dropped.values()),
        "reject_reasons": dict(sel.dropped.most_common()),
        "problems_with_kept": sel.counters.get("problems_with_kept", 0),
        "sft_dir": str(run.root / "export" / "sft"),
        "rejected_dir": str(run.root / "export" / "rejected"),
    }
