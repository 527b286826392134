"""The plan: a recipe turned into the ordered steps that make its dataset.

A step chains one or more stages over the shards of one folder of the run and writes another;
its schema is what its stages say they yield, chained from the schema of the folder it reads, so
adding a stage never means rewiring the others. The first step reads the recipe's source (it has
no input folder) and decides how many shards the run has; every later step maps shard *i* of its
input to shard *i* of its output. A step with ``rejects`` sends the rows its stages rejected there
instead of to its output. The plan is written to the run folder (``plan.json``); the report reads
it, and an executor (:mod:`factory.executors`) runs it.

Adding a stage: one module in ``factory/stages/`` and one ``add`` line in :func:`build_plan`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from factory.adaptive import StopRule
from factory.recipe import SECTION_ORDER, Recipe
from factory.records import REJECT_FIELDS
from factory.stages.base import Stage
from factory.stages.decontaminate import ProblemDecontaminator
from factory.stages.dedup import ProblemDeduplicator
from factory.stages.difficulty import ProblemScorer
from factory.stages.export import PairWriter, RejectWriter, SFTWriter
from factory.stages.generate import TraceGenerator
from factory.stages.judge import TraceJudge
from factory.stages.read import ProblemChecker, ProblemReader
from factory.stages.refine import TraceRefiner
from factory.stages.select import TraceSelector
from factory.stages.verify import TraceVerifier
from factory.stages.vote import MajorityVoter


@dataclass
class Step:
    name: str  # its markers and progress bar; each stage's stats are stats/<stage.name>.json
    stages: list[Stage]  # chained in order
    input: str | None  # the folder of shards it reads; None: the recipe's source
    output: str  # the folder of shards it writes
    schema: pa.Schema  # of the output rows
    rejects: str | None = None  # where rows its stages rejected go (None: they stay in the output)
    reject_schema: pa.Schema | None = None
    sections: tuple[str, ...] = ()  # the recipe sections its output depends on (besides its input)
    fixed: bool = False  # a change to them is refused: it would regenerate the traces

    @property
    def position(self) -> int:
        """Where its sections stand in the recipe's order (a changed section redoes every step from there)."""
        return min((SECTION_ORDER.index(s) for s in self.sections), default=len(SECTION_ORDER))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stages": [s.describe() for s in self.stages],
            "input": self.input,
            "output": self.output,
            "rejects": self.rejects,
            "columns": self.schema.names,
        }


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    shard_size: int = 64  # problems per shard, cut by the first step
    _schemas: dict[str, pa.Schema] = field(default_factory=dict, repr=False)

    def add(
        self,
        name: str,
        stages: list[Stage],
        input: str | None,
        output: str,
        *,
        sections: tuple[str, ...],
        rejects: str | None = None,
        fixed: bool = False,
    ) -> None:
        """Append a step; its schema is its stages' chained over the input folder's."""
        if input is not None and input not in self._schemas:
            raise ValueError(f"plan: step {name!r} reads {input!r}, which no earlier step writes")
        schema = self._schemas.get(input) if input is not None else None
        for stage in stages:
            schema = stage.schema(schema)
        reject_schema = None
        if rejects is not None:
            reject_schema = schema
            schema = pa.schema([f for f in schema if f.name not in REJECT_FIELDS.names])
            self._schemas[rejects] = reject_schema
        self._schemas[output] = schema
        self.steps.append(Step(name, stages, input, output, schema, rejects, reject_schema, sections, fixed))

    def affected_by(self, changed: list[str]) -> list[Step]:
        """The steps a change to these recipe sections makes stale: the first that uses one, and all after it."""
        if not changed:
            return []
        first = min(SECTION_ORDER.index(s) for s in changed)
        return [step for step in self.steps if step.position >= first or any(s in changed for s in step.sections)]

    def describe(self) -> dict[str, Any]:
        return {"shard_size": self.shard_size, "steps": [s.describe() for s in self.steps]}


def build_plan(recipe: Recipe) -> Plan:
    """The steps of a data run, in order (see docs/recipes.md)."""
    plan = Plan(shard_size=recipe.source.shard_size)
    filters: list[Stage] = [ProblemChecker(recipe.source)]
    if recipe.decontaminate is not None:
        filters.append(ProblemDecontaminator(recipe.decontaminate))
    if recipe.problem_dedup is not None:
        filters.append(ProblemDeduplicator(recipe.problem_dedup))
    read = ("source", "decontaminate", "problem_dedup")
    plan.add(
        "read",
        [ProblemReader(recipe.source), *filters],
        None,
        "problems",
        sections=read,
        fixed=True,
        rejects="problems_rejected",
    )
    # a problem whose request failed (no samples) leaves one rejected row in traces_failed/
    # adaptive sampling stops a problem by the recipe's own verifiers and select's requirement
    stopping = None
    if recipe.generate.adaptive is not None:
        stopping = StopRule(recipe.generate.adaptive, recipe.generate.n, recipe.verify, recipe.select)
    plan.add(
        "generate",
        [TraceGenerator(recipe.generate, stopping=stopping)],
        "problems",
        "traces",
        sections=("generate",),
        fixed=True,
        rejects="traces_failed",
    )
    traces = "traces"
    if recipe.vote is not None:  # pseudo-gold for problems without one, before verify
        plan.add("vote", [MajorityVoter(recipe.vote)], "traces", "labelled", sections=("vote",))
        traces = "labelled"
    plan.add("verify", [TraceVerifier(recipe.verify)], traces, "verified", sections=("verify",))
    verified = "verified"
    if recipe.judge is not None:  # its own step: a changed judge re-judges without re-running the rules
        plan.add("judge", [TraceJudge(recipe.judge, recipe.verify)], "verified", "judged", sections=("judge",))
        verified = "judged"
    export = recipe.export
    selector = TraceSelector(
        recipe.select,
        list(recipe.verify),
        keep_system=export.system_prompt,
        keep_few_shot=export.few_shot,
        judge=recipe.judge,
    )
    # max_length (and a reward model) render the rows as the export will: then export's chat settings are select's too
    renders = recipe.select.max_length is not None or recipe.select.rank is not None
    select_sections = ("select", "export") if renders else ("select",)
    plan.add("select", [selector], verified, "selected", sections=select_sections)
    plan.add("difficulty", [ProblemScorer()], "selected", "problems_scored", sections=("select",))
    selected = "selected"
    if recipe.refine is not None:  # rewrites the kept traces; the export takes the rewrites
        plan.add("refine", [TraceRefiner(recipe.refine, recipe.verify)], "selected", "refined", sections=("refine",))
        selected = "refined"
    plan.add(
        "export_sft", [SFTWriter(export.system_prompt, export.few_shot)], selected, "export/sft", sections=("export",)
    )
    if export.rejected:
        plan.add("export_rejected", [RejectWriter()], selected, "export/rejected", sections=("export",))
    if export.pairs:  # the traces as sampled and verified (not refine's rewrites): both sides on the same footing
        pairs = PairWriter(
            recipe.select,
            list(recipe.verify),
            judge=recipe.judge,
            max_pairs=export.max_pairs_per_problem,
            keep_system=export.system_prompt,
            keep_few_shot=export.few_shot,
        )
        plan.add("export_pairs", [pairs], "selected", "export/pairs", sections=("export",))
    return plan
