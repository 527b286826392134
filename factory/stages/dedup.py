"""Exact and near-duplicate removal: of problems (in the read step, before anything is generated)
and of traces (a policy of the select stage).

How texts are compared (token n-gram shingles, MinHash, LSH) is :mod:`factory.hashing`'s
docstring. Run-wide trace dedup depends on shard order: the executor restores the index from the
finished shards before it selects the others, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa

from factory.hashing import Deduplicator
from factory.recipe import DedupConfig
from factory.records import REJECT_FIELDS, merge_schemas
from factory.stages.base import Stage, StageStats, batched, mark_kept, reject
from factory.summary import RunSummary

DUPLICATE_PROBLEM = "duplicate_problem"
NEAR_DUPLICATE_PROBLEM = "near_duplicate_problem"
DUPLICATE_TRACE = "duplicate_trace"
NEAR_DUPLICATE_TRACE = "near_duplicate_trace"


def problem_text(row: dict[str, Any]) -> str:
    """The text a problem is compared by: its prompt, or the user turns of its chat."""
    if row.get("prompt"):
        return row["prompt"]
    return "\n".join(m["content"] for m in row.get("messages") or [] if m["role"] == "user")


class ProblemDeduplicator(Stage):
    """Problems -> problems: the first of each group of (near-)duplicates is kept.

    Rows are marked, not dropped (:func:`~factory.stages.base.reject`): a duplicate leaves with
    ``reject_reason`` ``duplicate_problem`` or ``near_duplicate_problem`` and ``reject_details``
    (``duplicate_of``, ``similarity``); rows an earlier filter rejected pass through untouched. The read
    step writes marked
    rows to ``problems_rejected/``. The whole source streams through one instance, so the state
    is rebuilt by a rerun reading the source from the start.
    """

    name: ClassVar[str] = "problem_dedup"

    def __init__(self, config: DedupConfig, batch_size: int = 512) -> None:
        self.config = config
        self.batch_size = batch_size
        self._dedup: Deduplicator | None = None

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return merge_schemas(input, REJECT_FIELDS)

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        if self._dedup is None:
            self._dedup = Deduplicator(self.config)
        dedup = self._dedup
        for batch in batched(rows, self.batch_size):
            todo = [r for r in batch if mark_kept(r)["keep"]]
            prepared = dedup.prepare([problem_text(r) for r in todo])
            for row, prep in zip(todo, prepared, strict=True):
                stats.rows_in += 1
                hit = dedup.first_seen(prep, row["id"])
                if hit is None:
                    stats.rows_out += 1
                    continue
                kind, first, sim = hit
                reason = DUPLICATE_PROBLEM if kind == "exact" else NEAR_DUPLICATE_PROBLEM
                reject(row, reason, stats, {"duplicate_of": first, "similarity": round(sim, 3)})
            yield from batch

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        summary.drop_problems(stats.dropped)

    def close(self) -> None:
        self._dedup = None


class TraceDeduplicator:
    """A select policy: among candidate traces (rows still ``keep``), drop exact and near duplicates
    of traces seen before (in this problem, or in the whole run with ``scope: run``).

    The compared text is the completion. A trace is added to the index when it survives this
    policy, so the index after shard *i* holds exactly the survivors of shards 0..i. On resume
    :meth:`rebuild` replays those survivors, read back from the finished shards in order, which
    yields the index an uninterrupted run would hold (shards run in order). A duplicate's
    ``reject_details`` name the trace it repeats and the similarity.
    """

    name: ClassVar[str] = "dedup_traces"

    def __init__(self, config: DedupConfig, batch_size: int = 512) -> None:
        self.config = config
        self.batch_size = batch_size
        self._dedup: Deduplicator | None = None
        self._problem: Any = None

    @property
    def dedup(self) -> Deduplicator:
        if self._dedup is None:
            self._dedup = Deduplicator(self.config)
        return self._dedup

    def rebuild(self, texts: Iterable[tuple[str, str]]) -> int:
        """Add ``(trace_id, completion)`` survivors of earlier shards to the index; returns the count."""
        n = 0
        for items in batched(texts, self.batch_size):
            for (trace_id, _), prep in zip(items, self.dedup.prepare([t for _, t in items]), strict=True):
                self.dedup.add(prep, trace_id)
            n += len(items)
        return n

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        dedup = self.dedup
        for batch in batched(rows, self.batch_size):
            todo = [r for r in batch if mark_kept(r)["keep"]]
            prepared = dedup.prepare([r["completion"] for r in todo])
            for row, prep in zip(todo, prepared, strict=True):
                if self.config.scope == "problem" and row["problem_id"] != self._problem:
                    dedup.reset()
                    self._problem = row["problem_id"]
                stats.rows_in += 1
                hit = dedup.first_seen(prep, row["trace_id"])
                if hit is None:
                    stats.rows_out += 1
                    continue
                kind, first, sim = hit
                reason = DUPLICATE_TRACE if kind == "exact" else NEAR_DUPLICATE_TRACE
                reject(row, reason, stats, {"duplicate_of": first, "similarity": round(sim, 3)})
            yield from batch

    def close(self) -> None:
        self._dedup = None
        self._problem = None
