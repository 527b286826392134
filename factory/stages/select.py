"""Decide what is kept, as a chain of small policies, each with its own stats.

The select stage (:class:`TraceSelector`) sends a problem's traces through, in order:

1. :class:`PassRateFilter`: a trace passes when every required verifier passed; the problem's
   pass rate (passed / traces) is written on every trace; passing traces of a problem outside
   ``[min_pass_rate, max_pass_rate]`` are rejected (``pass_rate_above_max`` / ``_below_min``).
2. :class:`LengthFilter`: the trace's SFT row, as exported and rendered with the *student's*
   chat template, must fit ``max_length.max_tokens`` (``too_long``); never cut.
3. :class:`~factory.stages.dedup.TraceDeduplicator`: exact / near-duplicate traces.
4. :class:`KeepK`: at most ``k`` per problem by ``strategy`` (``over_k``).

Policies mark rows (``keep``, ``reject_reason``) and never drop them, so every trace leaves the
stage and the rejected ones are exported with the reason of the first policy that rejected them.
Each policy only looks at rows still kept. Its stats are added to the stage's counters as
``<policy>:rows_in``, ``<policy>:rows_out`` and ``<policy>:dropped:<reason>``.

Two more stages live here: :class:`MajorityVoter` (before verify: pseudo-gold for problems without
gold) and :class:`ProblemScorer` (after select: one row per problem with its pass rate and
difficulty).
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from factory.recipe import LengthConfig, MajorityVoteConfig, SelectConfig
from factory.stages.base import StageStats
from factory.stages.dedup import TraceDeduplicator, shingle_hashes, token_hashes

log = logging.getLogger(__name__)

OVER_K = "over_k"
TOO_LONG = "too_long"
PASS_RATE_ABOVE_MAX = "pass_rate_above_max"
PASS_RATE_BELOW_MIN = "pass_rate_below_min"
# reasons set by policies that run after trace dedup: such a trace was added to the dedup index
AFTER_DEDUP = frozenset({OVER_K})

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


def by_problem(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive rows of one problem (a shard holds all of a problem's traces, together)."""
    for _, group in itertools.groupby(rows, key=lambda r: r["problem_id"]):
        yield list(group)


def _mark(row: dict[str, Any]) -> dict[str, Any]:
    """Give a row the select columns if it has none yet (a policy run on its own)."""
    if "keep" not in row:
        row["keep"], row["reject_reason"] = True, None
    return row


def _reject(row: dict[str, Any], reason: str, stats: StageStats) -> None:
    row["keep"], row["reject_reason"] = False, reason
    stats.dropped[reason] += 1


def difficulty(pass_rate: float) -> str:
    if pass_rate == 0:
        return "unsolved"
    if pass_rate == 1:
        return "solved"
    return "hard" if pass_rate < 1 / 3 else "medium" if pass_rate < 2 / 3 else "easy"


# -- the policies -------------------------------------------------------------------------------------


class PassRateFilter:
    """Verdicts and the pass-rate band (see the module docstring)."""

    name: ClassVar[str] = "pass_rate"

    def __init__(self, required: list[str], min_rate: float = 0.0, max_rate: float = 1.0) -> None:
        self.required, self.min_rate, self.max_rate = required, min_rate, max_rate

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for traces in by_problem(rows):
            passed = 0
            for row in traces:
                stats.rows_in += _mark(row)["keep"]
                why = self._failure(row)
                if why is None:
                    passed += 1
                elif row["keep"]:
                    _reject(row, why, stats)
            rate = passed / len(traces)
            band = PASS_RATE_ABOVE_MAX if rate > self.max_rate else PASS_RATE_BELOW_MIN if rate < self.min_rate else None
            for row in traces:
                row["pass_rate"] = rate
                if row["keep"] and band:
                    _reject(row, band, stats)
                stats.rows_out += row["keep"]
            stats.counters["problems"] += 1
            stats.counters[f"difficulty:{difficulty(rate)}"] += 1
            yield from traces

    def _failure(self, row: dict[str, Any]) -> str | None:
        for name in self.required:
            if not row[f"{name}_passed"]:
                return f"{name}:{row[f'{name}_reason']}"
        return None

    def close(self) -> None:
        pass


class LengthFilter:
    """Reject kept traces whose SFT row is longer than the student's ``max_tokens``.

    The row is built exactly as the export step builds it (system prompt and few-shot turns as
    configured there), rendered with the student tokenizer's chat template and counted, so what
    passes here is what the trainer sees without truncation. The tokenizer loads on first use.
    """

    name: ClassVar[str] = "max_length"

    def __init__(self, config: LengthConfig, keep_system: bool = True, keep_few_shot: bool = False, batch_size: int = 256) -> None:
        self.config = config
        self.keep_system, self.keep_few_shot = keep_system, keep_few_shot
        self.batch_size = batch_size
        self._tokenizer: Any = None

    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            path = self.config.tokenizer
            if not Path(path).is_dir():
                raise ValueError(f"select.max_length.tokenizer: {path} is not a local model folder")
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            if not getattr(self._tokenizer, "chat_template", None):
                raise ValueError(f"select.max_length.tokenizer: {path} has no chat template to render SFT rows with")
        return self._tokenizer

    def count(self, rows: list[dict[str, Any]]) -> list[int]:
        """Tokens of each row's SFT chat under the student's template."""
        from factory.stages.export import sft_row

        tok = self.tokenizer()
        texts = [
            tok.apply_chat_template(sft_row(_Lenient(r), self.keep_system, self.keep_few_shot)["messages"], tokenize=False)
            for r in rows
        ]
        return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= self.batch_size:
                yield from self._check(batch, stats)
                batch = []
        yield from self._check(batch, stats)

    def _check(self, batch: list[dict[str, Any]], stats: StageStats) -> list[dict[str, Any]]:
        todo = [r for r in batch if _mark(r)["keep"]]
        if todo:
            for row, n in zip(todo, self.count(todo), strict=True):
                stats.rows_in += 1
                if n > self.config.max_tokens:
                    _reject(row, TOO_LONG, stats)
                else:
                    stats.rows_out += 1
                stats.counters["max_tokens_seen"] = max(stats.counters["max_tokens_seen"], n)
        return batch

    def close(self) -> None:
        self._tokenizer = None


class _Lenient(dict):
    """A row for ``sft_row`` when only the chat matters: absent provenance columns read as None."""

    def __missing__(self, key: str) -> None:
        return None


class KeepK:
    """At most ``k`` kept traces per problem.

    ``first`` (lowest sample index), ``shortest`` (fewest completion tokens), ``random`` (seeded
    by the recipe seed and the problem id: the same on every rerun), ``diverse`` (greedy
    farthest-first: start from the shortest, then repeatedly take the trace whose highest
    word-5-gram Jaccard similarity to those already taken is lowest, i.e. distinct reasoning
    paths), ``all`` (ignore ``k``).
    """

    name: ClassVar[str] = "keep_k"

    def __init__(self, k: int | None, strategy: str = "first", seed: int = 0, ngram: int = 5) -> None:
        self.k, self.strategy, self.seed, self.ngram = k, strategy, seed, ngram

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for traces in by_problem(rows):
            candidates = [_mark(r) for r in traces if _mark(r)["keep"]]
            stats.rows_in += len(candidates)
            chosen = {id(r) for r in self.choose(traces[0]["problem_id"], candidates)}
            for row in candidates:
                if id(row) in chosen:
                    stats.rows_out += 1
                else:
                    _reject(row, OVER_K, stats)
            stats.counters["problems_with_kept"] += bool(chosen)
            yield from traces

    def choose(self, problem_id: str, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        k = self.k
        if k is None or self.strategy == "all" or len(candidates) <= k:
            return candidates
        if self.strategy == "shortest":
            return sorted(candidates, key=lambda t: (t["completion_tokens"], t["sample_index"]))[:k]
        if self.strategy == "random":
            rng = random.Random(f"{self.seed}:{problem_id}")  # seeded per problem: stable on rerun
            return rng.sample(candidates, k)
        if self.strategy == "diverse":
            return self._diverse(candidates, k)
        return candidates[:k]

    def _diverse(self, candidates: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
        hashes, counts = token_hashes([r.get("reasoning") or r["completion"] for r in candidates])
        grams, gram_counts = shingle_hashes(hashes, counts, self.ngram)
        bounds = list(itertools.accumulate(gram_counts.tolist(), initial=0))
        sets = [set(grams[bounds[i] : bounds[i + 1]].tolist()) for i in range(len(candidates))]
        order = sorted(range(len(candidates)), key=lambda i: (candidates[i]["completion_tokens"], candidates[i]["sample_index"]))
        taken = [order[0]]
        closest = {i: _jaccard(sets[i], sets[order[0]]) for i in order[1:]}  # highest similarity to a taken one
        while len(taken) < k:
            best = min(closest, key=lambda i: (closest[i], order.index(i)))
            taken.append(best)
            del closest[best]
            for i in closest:
                closest[i] = max(closest[i], _jaccard(sets[i], sets[best]))
        return [candidates[i] for i in sorted(taken)]

    def close(self) -> None:
        pass


def _jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


# -- the select stage ---------------------------------------------------------------------------------


class TraceSelector:
    """The select stage: the policy chain above over rows grouped by problem (as generate wrote
    them). Every row leaves with ``pass_rate``, ``keep`` and, when rejected, ``reject_reason``.

    ``run_dir`` lets run-wide trace dedup rebuild its index from finished shards on resume.
    """

    name: ClassVar[str] = "select"

    def __init__(
        self,
        config: SelectConfig,
        required: list[str],
        *,
        keep_system: bool = True,
        keep_few_shot: bool = False,
        run_dir: str | Path | None = None,
    ) -> None:
        self.config = config
        self.required = required
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.policies: list[Any] = [PassRateFilter(required, config.min_pass_rate, config.max_pass_rate)]
        if config.max_length is not None:
            self.policies.append(LengthFilter(config.max_length, keep_system, keep_few_shot))
        self.dedup: TraceDeduplicator | None = None
        if config.trace_dedup is not None:
            self.dedup = TraceDeduplicator(config.trace_dedup)
            self.policies.append(self.dedup)
        self.policies.append(KeepK(config.k, config.strategy, config.seed))
        self._rebuilt = False

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        self._rebuild()
        policy_stats = [StageStats() for _ in self.policies]
        stream: Iterable[dict[str, Any]] = ({**r, "pass_rate": None, "keep": True, "reject_reason": None} for r in rows)
        for policy, pstats in zip(self.policies, policy_stats, strict=True):
            stream = policy.run(stream, pstats)
        for row in stream:
            stats.rows_in += 1
            if row["keep"]:
                stats.rows_out += 1
            else:
                stats.dropped[row["reject_reason"]] += 1
            yield row
        for policy, pstats in zip(self.policies, policy_stats, strict=True):
            stats.counters[f"{policy.name}:rows_in"] += pstats.rows_in
            stats.counters[f"{policy.name}:rows_out"] += pstats.rows_out
            for reason, n in pstats.dropped.items():
                stats.counters[f"{policy.name}:dropped:{reason}"] += n
            for key, n in pstats.counters.items():
                stats.counters[key if policy.name in ("pass_rate", "keep_k") else f"{policy.name}:{key}"] += n

    def _rebuild(self) -> None:
        """Run-wide dedup on resume: replay the survivors of the finished shards, in order."""
        if self._rebuilt:
            return
        self._rebuilt = True
        if self.dedup is None or self.dedup.config.scope != "run" or self.run_dir is None:
            return
        from factory.shards import RunDir

        run = RunDir(self.run_dir)
        done = [p for p in run.shards("selected") if run.is_done(self.name, p.stem)]
        if not done:
            return
        n = self.dedup.rebuild(_survivors(done))
        log.info("trace dedup: rebuilt the index from %d traces of %d finished shards", n, len(done))

    def close(self) -> None:
        for policy in self.policies:
            policy.close()
        self._rebuilt = False


def _survivors(paths: list[Path]) -> Iterator[tuple[str, str]]:
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(columns=["trace_id", "completion", "keep", "reject_reason"]):
            for row in batch.to_pylist():
                if row["keep"] or row["reject_reason"] in AFTER_DEDUP:
                    yield row["trace_id"], row["completion"]


# -- majority vote --------------------------------------------------------------------------------------


class MajorityVoter:
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
            yield from ({**t, "gold": gold, "pseudo_label": True, "vote_share": share, "vote_count": count} for t in traces)

    def vote(self, completions: list[str]) -> tuple[str, int] | str:
        """``(pseudo-gold, votes)`` or the reason the vote failed."""
        from verifiers.math import canonical_answer, extract_answer

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

    def close(self) -> None:
        pass


# -- per-problem scores ---------------------------------------------------------------------------------


class ProblemScorer:
    """selected -> problems_scored: one row per problem (traces, passed, kept, pass rate, difficulty)."""

    name: ClassVar[str] = "difficulty"

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

    def close(self) -> None:
        pass


def policy_counts(counters: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per-policy ``rows_in``/``rows_out``/``dropped`` from a select stage's counters."""
    out: dict[str, dict[str, Any]] = {}
    for key, n in counters.items():
        parts = key.split(":", 2)
        if len(parts) >= 2 and parts[1] in ("rows_in", "rows_out"):
            out.setdefault(parts[0], {"rows_in": 0, "rows_out": 0, "dropped": {}})[parts[1]] = n
        elif len(parts) == 3 and parts[1] == "dropped":
            out.setdefault(parts[0], {"rows_in": 0, "rows_out": 0, "dropped": {}})["dropped"][parts[2]] = n
    return out

