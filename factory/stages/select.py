"""Decide what is kept: traces that pass every required verifier, at most k per problem."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from factory.recipe import SelectConfig
from factory.stages.base import StageStats

OVER_K = "over_k"


class TraceSelector:
    """The select stage. Rows arrive grouped by problem (as the generate stage wrote them); every
    row leaves with ``pass_rate``, ``keep`` and, when rejected, ``reject_reason``
    (``<verifier>:<reason>`` of the first required verifier that failed, or ``over_k``)."""

    name: ClassVar[str] = "select"

    def __init__(self, config: SelectConfig, required: list[str]) -> None:
        self.config = config
        self.required = required

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for problem_id, group in itertools.groupby(rows, key=lambda r: r["problem_id"]):
            traces = list(group)
            stats.rows_in += len(traces)
            failures = [self._failure(t) for t in traces]
            passing = [t for t, why in zip(traces, failures) if why is None]
            pass_rate = len(passing) / len(traces)
            kept = {id(t) for t in self._choose(problem_id, passing)}
            stats.counters["problems"] += 1
            stats.counters["problems_with_kept"] += bool(kept)
            for trace, why in zip(traces, failures):
                keep = id(trace) in kept
                reason = None if keep else (why or OVER_K)
                if keep:
                    stats.rows_out += 1
                else:
                    stats.dropped[reason] += 1
                yield {**trace, "pass_rate": pass_rate, "keep": keep, "reject_reason": reason}

    def _failure(self, trace: dict[str, Any]) -> str | None:
        for name in self.required:
            if not trace[f"{name}_passed"]:
                return f"{name}:{trace[f'{name}_reason']}"
        return None

    def _choose(self, problem_id: str, passing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        k = self.config.k
        if k is None or len(passing) <= k:
            return passing
        if self.config.strategy == "shortest":
            return sorted(passing, key=lambda t: (t["completion_tokens"], t["sample_index"]))[:k]
        if self.config.strategy == "random":
            rng = random.Random(f"{self.config.seed}:{problem_id}")  # seeded per problem: stable on rerun
            return rng.sample(passing, k)
        return passing[:k]

    def close(self) -> None:
        pass
