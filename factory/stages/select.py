"""Decide what is kept, as a chain of small policies, each with its own stats.

The select stage (:class:`TraceSelector`) sends a problem's traces through, in order:

1. :class:`PassRateFilter`: a trace passes when every required verifier passed (``select.require``,
   per domain if need be; by default the verifiers that apply to it); the problem's
   pass rate (passed / traces) is written on every trace; passing traces of a problem outside
   ``[min_pass_rate, max_pass_rate]`` are rejected (``pass_rate_above_max`` / ``_below_min``).
2. :class:`LengthFilter`: the trace's SFT row, as exported and rendered with the *student's*
   chat template, must fit ``max_length.max_tokens`` (``too_long``); never cut.
3. :class:`~factory.stages.dedup.TraceDeduplicator`: exact / near-duplicate traces.
4. :class:`~factory.stages.rank.RewardScorer` (``select.rank``): a reward model or the judge
   scores the traces still kept (``reward_score``).
5. :class:`KeepK`: at most ``k`` per problem by ``strategy`` (``over_k``), or the top ``k`` by
   ``reward_score`` when ranked.

Policies mark rows (:func:`~factory.stages.base.reject`) and never drop them, so every trace
leaves the stage and the rejected ones are exported with the reason of the first policy that
rejected them. Each policy only looks at rows still kept; its own stats are the stage's
``parts[<policy>]``.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from factory.hashing import shingle_hashes, token_hashes
from factory.recipe import JudgeConfig, LengthConfig, SelectConfig
from factory.records import RANK_FIELDS, SELECT_FIELDS, LenientRow, merge_schemas, sft_row
from factory.stages.base import Stage, StageStats, by_problem, mark_kept, reject
from factory.stages.dedup import TraceDeduplicator
from factory.stages.difficulty import difficulty
from factory.stages.judge import judged, rule_undecided
from factory.stages.rank import RewardScorer
from factory.summary import RankSummary, RunSummary
from verifiers import VERIFIERS

log = logging.getLogger(__name__)

OVER_K = "over_k"
TOO_LONG = "too_long"
PASS_RATE_ABOVE_MAX = "pass_rate_above_max"
PASS_RATE_BELOW_MIN = "pass_rate_below_min"
NO_ANSWER_VERIFIER = "no_answer_verifier"  # no verifier that judges the answer applies to the trace
NO_REQUIREMENT_FOR_DOMAIN = "no_requirement_for_domain"  # select.require names no list for its domain
NOT_APPLICABLE = "not_applicable"
# reasons set by policies that run after trace dedup: such a trace was added to the dedup index
AFTER_DEDUP = frozenset({OVER_K})

# -- the policies -------------------------------------------------------------------------------------


class PassRateFilter:
    """Verdicts and the pass-rate band (see the module docstring).

    ``verifiers`` are the recipe's; ``require`` (``select.require``) says which a trace must pass:
    a list (each must pass; one that does not apply to the trace fails it, ``math:not_applicable``),
    a mapping from domain to such a list (``"*"`` for the others; a domain with no entry is
    ``no_requirement_for_domain``), or None: every verifier that applies to the trace, and at least
    one of them must judge the answer (math, code) when the recipe has one (``no_answer_verifier``).

    With a judge (``judge=True``), the judge's verdict stands in for the answer verdict the rules
    could not give: a required answer verifier that could not decide the trace
    (:func:`~factory.stages.judge.rule_undecided`: not applicable, gold unparseable, ...) is
    replaced by the judge when the trace was judged (``judge:wrong_answer``,
    ``judge:unparseable`` when it fails), and by default (``require`` None) a trace no answer
    verifier applied to needs the judge's verdict instead. Where the rules decided, they stand (the
    judge only audited). ``require`` may also name ``judge`` itself.
    """

    name: ClassVar[str] = "pass_rate"

    def __init__(
        self,
        verifiers: list[str],
        min_rate: float = 0.0,
        max_rate: float = 1.0,
        require: list[str] | dict[str, list[str]] | None = None,
        judge: bool = False,
    ) -> None:

        self.verifiers, self.min_rate, self.max_rate, self.require = verifiers, min_rate, max_rate, require
        self.judge = judge
        self.answer_judges = [n for n in verifiers if VERIFIERS[n].judges_answer]

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for traces in by_problem(rows):
            passed = 0
            for row in traces:
                stats.rows_in += mark_kept(row)["keep"]
                why = self.failure(row)
                if why is None:
                    passed += 1
                elif row["keep"]:
                    reject(row, why, stats)
            rate = passed / len(traces)
            band = (
                PASS_RATE_ABOVE_MAX if rate > self.max_rate else PASS_RATE_BELOW_MIN if rate < self.min_rate else None
            )
            for row in traces:
                row["pass_rate"] = rate
                if row["keep"] and band:
                    reject(row, band, stats)
                stats.rows_out += row["keep"]
            stats.counters["problems"] += 1
            stats.part("difficulty").counters[difficulty(rate)] += 1
            yield from traces

    def failure(self, row: dict[str, Any]) -> str | None:
        """Why the trace fails the requirements (``math:wrong_answer``), or None when it meets them."""
        require = self.require
        if isinstance(require, dict):
            require = require.get(row.get("domain"), require.get("*"))
            if require is None:
                return NO_REQUIREMENT_FOR_DOMAIN
        elif require is None:
            require = [n for n in self.verifiers if row[f"{n}_reason"] != NOT_APPLICABLE]
            if not any(n in require for n in self.answer_judges):
                if self.judge and judged(row):
                    require = [*require, "judge"]
                elif self.judge:  # not judged because another rule failed it: say which (else no verdict)
                    return next(
                        (f"{n}:{row[f'{n}_reason']}" for n in require if not row[f"{n}_passed"]), NO_ANSWER_VERIFIER
                    )
                elif self.answer_judges:
                    return NO_ANSWER_VERIFIER
        stand_in = self.judge and judged(row)
        for name in require:
            if stand_in and name in self.answer_judges and rule_undecided(row, name):
                name = "judge"
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

    def __init__(
        self, config: LengthConfig, keep_system: bool = True, keep_few_shot: bool = False, batch_size: int = 256
    ) -> None:
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
        tok = self.tokenizer()
        texts = [
            tok.apply_chat_template(
                sft_row(LenientRow(r), self.keep_system, self.keep_few_shot)["messages"], tokenize=False
            )
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
        todo = [r for r in batch if mark_kept(r)["keep"]]
        if todo:
            for row, n in zip(todo, self.count(todo), strict=True):
                stats.rows_in += 1
                if n > self.config.max_tokens:
                    reject(row, TOO_LONG, stats)
                else:
                    stats.rows_out += 1
                stats.counters["max_tokens_seen"] = max(stats.counters["max_tokens_seen"], n)
        return batch

    def close(self) -> None:
        self._tokenizer = None


class KeepK:
    """At most ``k`` kept traces per problem.

    ``first`` (lowest sample index), ``shortest`` (fewest completion tokens), ``random`` (seeded
    by the recipe seed and the problem id: the same on every rerun), ``diverse`` (greedy
    farthest-first: start from the shortest, then repeatedly take the trace whose highest
    word-5-gram Jaccard similarity to those already taken is lowest, i.e. distinct reasoning
    paths), ``all`` (ignore ``k``), ``reward`` (highest ``reward_score`` first, ties to the lower
    sample index; unscored last: ``select.rank``).
    """

    name: ClassVar[str] = "keep_k"

    def __init__(self, k: int | None, strategy: str = "first", seed: int = 0, ngram: int = 5) -> None:
        self.k, self.strategy, self.seed, self.ngram = k, strategy, seed, ngram

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for traces in by_problem(rows):
            candidates = [mark_kept(r) for r in traces if mark_kept(r)["keep"]]
            stats.rows_in += len(candidates)
            chosen = {id(r) for r in self.choose(traces[0]["problem_id"], candidates)}
            for row in candidates:
                if id(row) in chosen:
                    stats.rows_out += 1
                else:
                    reject(row, OVER_K, stats)
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
        if self.strategy == "reward":
            ranked = sorted(
                candidates, key=lambda t: (t["reward_score"] is None, -(t["reward_score"] or 0.0), t["sample_index"])
            )
            return ranked[:k]
        return candidates[:k]

    def _diverse(self, candidates: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
        hashes, counts = token_hashes([r.get("reasoning") or r["completion"] for r in candidates])
        grams, gram_counts = shingle_hashes(hashes, counts, self.ngram)
        bounds = list(itertools.accumulate(gram_counts.tolist(), initial=0))
        sets = [set(grams[bounds[i] : bounds[i + 1]].tolist()) for i in range(len(candidates))]
        order = sorted(
            range(len(candidates)), key=lambda i: (candidates[i]["completion_tokens"], candidates[i]["sample_index"])
        )
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


class TraceSelector(Stage):
    """The select stage: the policy chain above over rows grouped by problem (as generate wrote
    them). Every row leaves with ``pass_rate``, ``keep`` and, when rejected, ``reject_reason``.

    Run-wide trace dedup rebuilds its index from the finished shards on resume (:meth:`restore`).
    """

    name: ClassVar[str] = "select"
    restores: ClassVar[bool] = True
    restore_columns: ClassVar[tuple[str, ...]] = ("trace_id", "completion", "keep", "reject_reason")

    def __init__(
        self,
        config: SelectConfig,
        verifiers: list[str],
        *,
        keep_system: bool = True,
        keep_few_shot: bool = False,
        judge: JudgeConfig | None = None,
    ) -> None:
        """``verifiers``: the recipe's (``config.require`` says which a trace must pass); ``judge``:
        the recipe's judge section (its verdicts stand in for undecided answers; rank by it)."""
        self.config = config
        self.policies: list[Any] = [
            PassRateFilter(
                verifiers, config.min_pass_rate, config.max_pass_rate, config.require, judge=judge is not None
            )
        ]
        if config.max_length is not None:
            self.policies.append(LengthFilter(config.max_length, keep_system, keep_few_shot))
        self.dedup: TraceDeduplicator | None = None
        if config.trace_dedup is not None:
            self.dedup = TraceDeduplicator(config.trace_dedup)
            self.policies.append(self.dedup)
        self.rank: RewardScorer | None = None
        if config.rank is not None:
            self.rank = RewardScorer(config.rank, judge, keep_system, keep_few_shot)
            self.policies.append(self.rank)
            k = config.rank.k if config.rank.k is not None else config.k
            self.policies.append(KeepK(k, "reward", config.seed))
        else:
            self.policies.append(KeepK(config.k, config.strategy, config.seed))

    @property
    def exclusive(self) -> bool:
        """A reward model on this machine: the local executor runs it after the teacher's engine is gone."""
        return self.rank is not None and self.rank.exclusive

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return merge_schemas(input, SELECT_FIELDS, *([RANK_FIELDS] if self.rank is not None else []))

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        stream: Iterable[dict[str, Any]] = (
            {**r, "pass_rate": None, "keep": True, "reject_reason": None, "reject_details": None} for r in rows
        )
        for policy in self.policies:
            stream = policy.run(stream, stats.part(policy.name))
        for row in stream:
            stats.rows_in += 1
            if row["keep"]:
                stats.rows_out += 1
            else:
                stats.dropped[row["reject_reason"]] += 1
            yield row

    @property
    def ordered(self) -> bool:
        """Run-wide dedup: a shard's rejects depend on every shard before it (in shard order)."""
        return self.dedup is not None and self.dedup.config.scope == "run"

    def restore(self, finished: Iterable[dict[str, Any]]) -> None:
        """Run-wide dedup on resume: replay the survivors of the finished shards (given in order)."""
        if self.dedup is None or self.dedup.config.scope != "run":
            return
        survivors = (
            (row["trace_id"], row["completion"])
            for row in finished
            if row["keep"] or row["reject_reason"] in AFTER_DEDUP
        )
        n = self.dedup.rebuild(survivors)
        log.info("trace dedup: rebuilt the index from %d traces of the finished shards", n)

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        summary.kept = stats.rows_out
        summary.rejected = sum(stats.dropped.values())
        summary.reject_reasons = dict(stats.dropped.most_common())
        summary.problems_with_kept = stats.parts.get("keep_k", StageStats()).counters.get("problems_with_kept", 0)
        summary.cost.per_kept_row(summary.kept)
        if self.rank is not None:
            rank = stats.parts.get("rank", StageStats())
            summary.rank = RankSummary(
                scored=rank.rows_out,
                unscored=rank.counters.get("unscored", 0),
                judge_calls=rank.counters.get("judge_calls", 0),
            )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "policies": [p.name for p in self.policies]}

    def close(self) -> None:
        for policy in self.policies:
            policy.close()
