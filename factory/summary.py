"""What a data run made, as one typed record: ``summary.json``, the CLI's report, the chain's.

Each stage fills in its own fields from its own stats (:meth:`factory.stages.base.Stage.summarize`),
in plan order, so the knowledge of what a counter means stays in the stage that counts it; a
reader uses the fields. ``summary.json`` is :meth:`RunSummary.to_dict`: the same keys as the
fields, and ``judge`` / ``rank`` / ``refine`` only for runs that have those stages.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JudgeSummary:
    sent: int = 0
    by_role: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> judged, correct, reasons
    undecided_but_failed_rules: int = 0
    compared: int = 0  # audited traces the rules decided, compared with the judge
    agree: int = 0
    rules_pass_judge_fail: int = 0
    rules_fail_judge_pass: int = 0
    no_verdict: int = 0
    agreement: float | None = None
    estimated_error_rate: float | None = None


@dataclass
class RankSummary:
    scored: int = 0
    unscored: int = 0
    judge_calls: int = 0


@dataclass
class RefineSummary:
    sent: int = 0
    refined: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason -> rewrites
    kept_original: int = 0


@dataclass
class CostSummary:
    """What the teacher's samples cost (docs/adaptive.md): tokens drawn, per kept row, and what
    adaptive sampling did not draw. ``money`` only with a price table (the openai backend)."""

    samples: int = 0  # samples drawn
    prompt_tokens: int = 0  # each request's prompt once (a later round of a problem is a request of its own)
    completion_tokens: int = 0  # tokens drawn
    tokens_per_kept_row: float | None = None
    samples_saved: int = 0  # adaptive: generate.n minus what each problem drew
    tokens_saved_estimate: int = 0  # those samples at their problem's mean length
    later_rounds: int = 0  # adaptive: requests after a problem's first
    stopped: dict[str, int] = field(default_factory=dict)  # adaptive: problems by why they stopped drawing
    money: float | None = None  # with generate.engine.price: input and output tokens at its prices
    money_per_kept_row: float | None = None

    def per_kept_row(self, kept: int) -> None:
        """Fill in the per-row figures once the kept rows are known."""
        self.tokens_per_kept_row = round(self.completion_tokens / kept, 1) if kept else None
        if self.money is not None:
            self.money_per_kept_row = round(self.money / kept, 6) if kept else None


@dataclass
class RunSummary:
    recipe: str
    run_dir: str
    problems: int = 0  # read, less those a read filter dropped
    bad_rows: int = 0
    traces: int = 0
    failed_problems: dict[str, int] = field(default_factory=dict)  # requests that got no samples, by reason
    truncated: int = 0
    finish_reasons: dict[str, int] = field(default_factory=dict)  # stop, length, repetition, abort, error -> samples
    completion_tokens: int = 0
    generate_seconds: float = 0.0
    tokens_per_second: float | None = None
    pass_rate: dict[str, float | None] = field(default_factory=dict)  # verifier -> share of judged traces
    pass_rate_by_domain: dict[str, dict[str, float]] = field(default_factory=dict)
    not_applicable: dict[str, int] = field(default_factory=dict)
    verdict_reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    problems_filtered: dict[str, int] = field(default_factory=dict)  # reason -> problems (decontaminate, dedup)
    pseudo_labelled: int = 0
    kept: int = 0
    rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    problems_with_kept: int = 0
    pairs: int = 0  # preference pairs (export.pairs)
    judge: JudgeSummary | None = None
    rank: RankSummary | None = None
    refine: RefineSummary | None = None
    sft_dir: str = ""
    rejected_dir: str = ""
    # infrastructure failures by cause (factory.failures): not data, retried by the next run; a
    # generate:… count is problems, any other traces
    errors: dict[str, int] = field(default_factory=dict)
    redone: list[str] = field(default_factory=list)  # steps a changed recipe section made run again
    card: str | None = None  # the dataset card, once written
    cost: CostSummary = field(default_factory=CostSummary)

    def drop_problems(self, reasons: Counter[str]) -> None:
        """Problems a read filter dropped (decontamination, dedup) after the reader counted them."""
        self.problems -= sum(reasons.values())
        self.problems_filtered = dict(Counter(self.problems_filtered) + reasons)

    def add_rejects(self, reasons: Counter[str]) -> None:
        """Rows a stage rejected after they were counted as kept."""
        self.rejected += sum(reasons.values())
        self.kept -= sum(reasons.values())
        self.reject_reasons = dict((Counter(self.reject_reasons) + reasons).most_common())

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in ("judge", "rank", "refine", "card"):
            if out[name] is None:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        known = {f.name for f in dataclasses.fields(cls)}
        nested = {"judge": JudgeSummary, "rank": RankSummary, "refine": RefineSummary, "cost": CostSummary}
        values = {k: (nested[k](**v) if k in nested and v is not None else v) for k, v in data.items() if k in known}
        return cls(**values)
