"""Per-problem scores after select: one row per problem with its pass rate and difficulty label."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa

from factory.stages.base import Stage, StageStats, by_problem

PROBLEM_SCORE_SCHEMA = pa.schema(
    [
        ("problem_id", pa.string()),
        ("source", pa.string()),
        ("domain", pa.string()),
        ("traces", pa.int32()),
        ("passed", pa.int32()),  # traces that passed every required verifier
        ("kept", pa.int32()),
        ("pass_rate", pa.float64()),
        ("difficulty", pa.string()),  # unsolved | hard | medium | easy | solved
        ("pseudo_label", pa.bool_()),
        ("vote_share", pa.float64()),
    ]
)


def difficulty(pass_rate: float) -> str:
    if pass_rate == 0:
        return "unsolved"
    if pass_rate == 1:
        return "solved"
    return "hard" if pass_rate < 1 / 3 else "medium" if pass_rate < 2 / 3 else "easy"


class ProblemScorer(Stage):
    """selected -> problems_scored: one row per problem (traces, passed, kept, pass rate, difficulty)."""

    name: ClassVar[str] = "difficulty"

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return PROBLEM_SCORE_SCHEMA

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for traces in by_problem(rows):
            stats.rows_in += len(traces)
            first = traces[0]
            rate = first["pass_rate"]
            label = difficulty(rate)
            stats.counters[label] += 1
            stats.rows_out += 1
            yield {
                "problem_id": first["problem_id"],
                "source": first["source"],
                "domain": first["domain"],
                "traces": len(traces),
                "passed": round(rate * len(traces)),
                "kept": sum(bool(t["keep"]) for t in traces),
                "pass_rate": rate,
                "difficulty": label,
                "pseudo_label": bool(first.get("pseudo_label")),
                "vote_share": first.get("vote_share"),
            }
