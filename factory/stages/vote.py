"""Majority vote: a pseudo-gold answer for problems that have none, before verify (R1's and
TTRL's recipe for unlabelled problems)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa

from factory.recipe import MajorityVoteConfig
from factory.records import merge_schemas
from factory.stages.base import Stage, StageStats, by_problem
from factory.summary import RunSummary
from verifiers.math import canonical_answer, extract_answer

VOTE_NO_ANSWER = "vote_no_answer"
VOTE_TIE = "vote_tie"
VOTE_SHARE_BELOW_MIN = "vote_share_below_min"
VOTE_COUNT_BELOW_MIN = "vote_count_below_min"

VOTE_FIELDS = pa.schema(
    [
        ("pseudo_label", pa.bool_()),  # gold is the majority answer, not a given one
        ("vote_share", pa.float64()),  # the winning answer's share of the problem's traces
        ("vote_count", pa.int32()),  # traces giving it
    ]
)


class MajorityVoter(Stage):
    """traces -> labelled traces, before verify: a problem without gold gets a pseudo-gold.

    Each trace's final answer is extracted as the math verifier does and canonicalised with
    ``verifiers.math.canonical_answer`` (``0.5``, ``1/2`` and ``\\frac{1}{2}`` vote together).
    The most frequent canonical answer wins if its share of *all* the problem's traces is at least
    ``min_share`` and it has at least ``min_count`` votes and no other answer ties it; then every
    trace gets ``gold`` = that answer as the first trace giving it wrote it, ``pseudo_label``,
    ``vote_share`` and ``vote_count``, and verify scores them against it. A problem whose vote fails
    is dropped here (it cannot be verified), counted under ``vote_no_answer``, ``vote_tie``,
    ``vote_share_below_min`` or ``vote_count_below_min``. Problems with gold pass through unchanged
    (``pseudo_label`` false).
    """

    name: ClassVar[str] = "vote"

    def __init__(self, config: MajorityVoteConfig) -> None:
        self.config = config

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return merge_schemas(input, VOTE_FIELDS)

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for traces in by_problem(rows):
            stats.rows_in += len(traces)
            if traces[0].get("gold") not in (None, ""):
                stats.rows_out += len(traces)
                stats.counters["problems_with_gold"] += 1
                yield from ({**t, "pseudo_label": False, "vote_share": None, "vote_count": None} for t in traces)
                continue
            stats.counters["problems_voted"] += 1
            outcome = self.vote([t["completion"] for t in traces])
            if isinstance(outcome, str):
                stats.dropped[outcome] += len(traces)
                stats.counters[f"problems_{outcome}"] += 1
                continue
            gold, count = outcome
            share = count / len(traces)
            stats.counters["problems_pseudo_labelled"] += 1
            stats.rows_out += len(traces)
            yield from (
                {**t, "gold": gold, "pseudo_label": True, "vote_share": share, "vote_count": count} for t in traces
            )

    def vote(self, completions: list[str]) -> tuple[str, int] | str:
        """``(pseudo-gold, votes)`` or the reason the vote failed."""

        answers: list[tuple[str, str]] = []  # (canonical, as written)
        for completion in completions:
            if self.config.require_think_close and "</think>" not in completion:
                continue
            raw = extract_answer(completion)
            key = canonical_answer(raw) if raw else None
            if key is not None:
                answers.append((key, raw))
        if not answers:
            return VOTE_NO_ANSWER
        counts = Counter(key for key, _ in answers).most_common()
        (best, n), runner_up = counts[0], counts[1][1] if len(counts) > 1 else 0
        if n == runner_up:
            return VOTE_TIE
        if n / len(completions) < self.config.min_share:
            return VOTE_SHARE_BELOW_MIN
        if n < self.config.min_count:
            return VOTE_COUNT_BELOW_MIN
        return next(raw for key, raw in answers if key == best), n

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        summary.pseudo_labelled = stats.counters.get("problems_pseudo_labelled", 0)

    def close(self) -> None:
        pass
