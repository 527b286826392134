"""Export the kept traces as an SFT set, the rejected ones with their reasons, and preference pairs.

The SFT rows read directly in ``pandas.read_parquet``, ``datasets.load_dataset("parquet", ...)``
and TRL's ``SFTTrainer``: ``prompt`` and ``completion`` are conversational (lists of
``{role, content}``), so TRL trains on the completion only; ``messages`` is the same chat in one
list for trainers that want the language-modelling form.

The pairs (``export.pairs``) read directly in TRL's ``DPOTrainer``: ``prompt``, ``chosen`` and
``rejected`` are conversational. Their policy is :class:`PairWriter`'s (docs/preference-and-rl.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa

from factory.recipe import JudgeConfig, SelectConfig
from factory.records import PAIR_SCHEMA, pair_row, sft_row, sft_schema
from factory.stages.base import Stage, StageStats, by_problem
from factory.stages.dedup import DUPLICATE_TRACE, NEAR_DUPLICATE_TRACE
from factory.stages.judge import WRONG, rule_undecided
from factory.stages.select import TOO_LONG, PassRateFilter
from factory.summary import RunSummary
from verifiers import VERIFIERS


class SFTWriter(Stage):
    """selected -> export/sft: kept traces as chat rows."""

    name: ClassVar[str] = "export_sft"

    def __init__(self, keep_system: bool = True, keep_few_shot: bool = False) -> None:
        self.keep_system = keep_system
        self.keep_few_shot = keep_few_shot

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return sft_schema(input)

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for row in rows:
            stats.rows_in += 1
            if not row["keep"]:
                stats.dropped[row["reject_reason"]] += 1
                continue
            stats.rows_out += 1
            yield sft_row(row, self.keep_system, self.keep_few_shot)


class RejectWriter(Stage):
    """selected -> export/rejected: every rejected trace, whole, with its reason."""

    name: ClassVar[str] = "export_rejected"

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return input

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for row in rows:
            stats.rows_in += 1
            if row["keep"]:
                continue
            stats.rows_out += 1
            stats.counters[row["reject_reason"]] += 1
            yield row


# passing traces that are no chosen side: the student cannot train on them whole, or another copy is there
NOT_CHOSEN = frozenset({TOO_LONG, DUPLICATE_TRACE, NEAR_DUPLICATE_TRACE})


class PairWriter(Stage):
    """selected -> export/pairs: a passing and a wrong trace of the same problem, as one DPO row.

    - **chosen**: a trace that meets select's requirements (the same verdicts, the same
      :meth:`~factory.stages.select.PassRateFilter.failure`), whatever select did with it after
      (over ``k``, outside the pass-rate band: still correct), except one too long for the student
      or a duplicate of another trace; shortest first (fewest completion tokens, then sample index).
    - **rejected**: a finished trace (``finish_reason`` not ``length``) whose answer a verifier that
      judges answers (math, code) decided and failed: ``wrong_answer``, ``no_answer``, a hedged
      or empty box, failing tests. Where the rules could not decide and a judge did, the judge's
      ``wrong_answer`` counts. Not negatives: a trace cut off by the token cap (unfinished, not
      wrong), a right answer in a broken format, an undecided answer (no gold, unparseable), and
      select's own drops (``over_k``, duplicates, the pass-rate band). Sample order.
    - the *i*-th chosen against the *i*-th rejected, at most ``max_pairs`` per problem; a problem
      without both sides gives none. Deterministic: a rerun writes the same pairs.
    """

    name: ClassVar[str] = "export_pairs"

    def __init__(
        self,
        select: SelectConfig,
        verifiers: list[str],
        *,
        judge: JudgeConfig | None = None,
        max_pairs: int = 1,
        keep_system: bool = True,
        keep_few_shot: bool = False,
    ) -> None:
        self.requirements = PassRateFilter(verifiers, require=select.require, judge=judge is not None)
        self.answer_judges = [n for n in verifiers if VERIFIERS[n].judges_answer]
        self.judge = judge is not None
        self.max_pairs = max_pairs
        self.keep_system, self.keep_few_shot = keep_system, keep_few_shot

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return PAIR_SCHEMA

    def wrong(self, row: dict[str, Any]) -> str | None:
        """The answer verdict that makes the trace a negative (``math:wrong_answer``), or None."""
        if row["finish_reason"] == "length":
            return None
        decided = [n for n in self.answer_judges if not rule_undecided(row, n)]
        failed = [n for n in decided if not row[f"{n}_passed"]]
        if failed:
            return f"{failed[0]}:{row[f'{failed[0]}_reason']}"
        if not decided and self.judge and row.get("judge_passed") is False and row.get("judge_reason") == WRONG:
            return f"judge:{WRONG}"
        return None

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for traces in by_problem(rows):
            stats.rows_in += len(traces)
            stats.counters["problems"] += 1
            chosen = sorted(
                (
                    t
                    for t in traces
                    if self.requirements.failure(t) is None and t.get("reject_reason") not in NOT_CHOSEN
                ),
                key=lambda t: (t["completion_tokens"], t["sample_index"]),
            )
            rejected = [(t, why) for t in traces if (why := self.wrong(t)) is not None]
            if not chosen or not rejected:
                stats.counters["no_chosen" if not chosen else "no_rejected"] += 1
                continue
            stats.counters["problems_with_pairs"] += 1
            for i, (good, (bad, why)) in enumerate(zip(chosen[: self.max_pairs], rejected, strict=False)):
                stats.rows_out += 1
                yield pair_row(good, bad, why, i, self.keep_system, self.keep_few_shot)

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        summary.pairs = stats.rows_out
