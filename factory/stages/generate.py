"""The generate stage: one shard of problems in, ``n`` traces per problem out.

It renders each problem's prompt (:mod:`factory.prompts`), asks the recipe's backend
(:mod:`factory.backends`, ``generate.backend``) for ``n`` samples with the problem's own seed,
and assembles each sample into a :class:`~factory.records.Trace` carrying what is needed to
reproduce it: the model and its fingerprint, the sampling arguments, the seed, the chat
template's hash, the generator's version. With ``generate.adaptive`` (a :class:`~factory.adaptive.StopRule`)
a problem is sampled in rounds until it has what select needs (:mod:`factory.adaptive`); its
later rounds enter the same stream as other problems' first ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from factory.backends import BACKENDS, NOT_READY, Backend, Completion, Request, Sample
from factory.failures import errors_in, is_error
from factory.prompts import PromptRenderer
from factory.recipe import GenerateConfig
from factory.records import REJECT_FIELDS, TRACE_SCHEMA, Trace, merge_schemas
from factory.stages.base import Stage, StageStats, reject
from factory.summary import CostSummary, RunSummary
from verifiers.text import split_think

if TYPE_CHECKING:
    from factory.adaptive import StopRule

log = logging.getLogger(__name__)

# Defaults for arguments the recipe leaves out (R1's recommended sampling; vLLM's own default
# max_tokens of 16 would truncate every trace). Anything the recipe sets wins.
DEFAULT_SAMPLING = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2048}


def problem_seed(base: int, problem_id: str) -> int:
    """A stable per-problem seed: the same problem gets the same samples on every (re)run."""
    digest = hashlib.sha256(f"{base}:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def sampling_arguments(config: GenerateConfig) -> dict[str, Any]:
    """The ``SamplingParams`` arguments every request of the recipe uses (the seed aside)."""
    return {**DEFAULT_SAMPLING, **config.sampling, "n": config.n}


class TraceGenerator(Stage):
    """Renders prompts, samples them with the backend, and yields trace rows."""

    name: ClassVar[str] = "generate"
    streams: ClassVar[bool] = True

    def __init__(
        self, config: GenerateConfig, backend: Backend | None = None, stopping: StopRule | None = None
    ) -> None:
        """``backend``: one already built (e.g. around a started engine); default: the recipe's.
        ``stopping``: sample each problem in rounds until this rule says it has enough (``generate.adaptive``)."""
        self.config = config
        self.stopping = stopping
        self.backend = backend if backend is not None else BACKENDS[config.backend](config)
        sampling = sampling_arguments(config)
        self.sampling_json = json.dumps(sampling, sort_keys=True)
        self._per_request = {k: v for k, v in sampling.items() if k != "n"}
        self._renderer: PromptRenderer | None = None

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return merge_schemas(TRACE_SCHEMA, REJECT_FIELDS)  # a failed request leaves one rejected row

    @property
    def renderer(self) -> PromptRenderer:
        if self._renderer is None:
            self._renderer = PromptRenderer(self.config, self.backend.tokenizer, self.backend.provenance().model)
        return self._renderer

    @property
    def tokenizer(self) -> Any:
        return self.backend.tokenizer

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        problems = list(rows)  # a shard: one backend call so the engine can schedule it all
        if self.stopping is not None:  # rounds need the stream
            for _, traces, shard in self.stream([(0, problems)]):
                stats.add(shard)
                yield from traces
            return
        stats.rows_in += len(problems)
        yield from self.generate(problems, stats)

    def generate(self, problems: list[dict[str, Any]], stats: StageStats | None = None) -> Iterator[dict[str, Any]]:
        """Sample ``n`` traces for each problem and yield trace rows."""
        stats = stats if stats is not None else StageStats()
        if not problems:
            return
        requests = [self.request(p) for p in problems]
        start = time.perf_counter()
        completions = self.backend.generate(requests)
        stats.seconds += time.perf_counter() - start
        for request, out in zip(requests, completions, strict=True):
            yield from self.rows(request, out, stats)

    def stream(
        self, shards: Iterable[tuple[int, list[dict[str, Any]]] | None], window: int = 1024
    ) -> Iterator[tuple[int, list[dict[str, Any]], StageStats]]:
        """Many shards through the backend as one stream: ``(index, rows, stats)`` as each shard's
        problems have all finished (not necessarily in order). The backend is fed the next
        shards' problems while the last traces of earlier ones run, so it never drains between
        shards. A shard's ``seconds`` is the generation wall time since the previous shard finished,
        so they add up to the stream's. ``shards`` may yield ``NOT_READY`` (no shard yet; a Ray replica's
        inbox), which the backend is passed on."""
        open_shards: dict[int, tuple[list[list[dict[str, Any]] | None], StageStats]] = {}
        where: dict[str, tuple[int, int]] = {}  # problem id -> (shard, position), until it has all its samples
        left: dict[int, int] = {}
        again: deque[Request] = deque()  # later rounds (adaptive), sent before new problems
        drawn: dict[str, list[dict[str, Any]]] = {}  # problem id -> its trace rows so far (adaptive)

        def requests() -> Iterator[Request | None]:
            for shard in shards:
                while again:
                    yield again.popleft()
                if shard is NOT_READY:
                    yield NOT_READY
                    continue
                index, problems = shard
                open_shards[index] = ([None] * len(problems), StageStats(rows_in=len(problems)))
                left[index] = len(problems)
                for position, problem in enumerate(problems):
                    while again:
                        yield again.popleft()
                    where[problem["id"]] = (index, position)
                    yield self.request(problem)
            while self.stopping is not None and where:  # the last problems' later rounds
                yield again.popleft() if again else NOT_READY

        self.renderer  # noqa: B018  (starts the engine: its start-up is not generation time)
        last = time.perf_counter()
        for request, out in self.backend.stream(requests(), window=window):
            problem_id = request.problem["id"]
            index, position = where[problem_id]
            slots, stats = open_shards[index]
            rows = list(self.rows(request, out, stats))
            if self.stopping is not None:
                drawn.setdefault(problem_id, []).extend(rows)
                size = self.stopping.round_done(request, out.error is not None, rows, stats)
                if size:
                    again.append(dataclasses.replace(request, first=request.first + request.n, n=size))
                    continue
                rows = drawn.pop(problem_id)
            del where[problem_id]
            slots[position] = rows
            left[index] -= 1
            if left[index] == 0:
                now = time.perf_counter()
                stats.seconds, last = now - last, now
                del open_shards[index], left[index]
                yield index, [row for rows in slots for row in rows or []], stats

    def request(self, problem: dict[str, Any]) -> Request:
        chat = self.renderer.messages(problem)
        return Request(
            problem=problem,
            messages=chat,
            prompt=self.renderer.render(chat),
            n=self.stopping.config.first if self.stopping is not None else self.config.n,
            seed=problem_seed(self.config.seed, problem["id"]),
            sampling=self._per_request,
        )

    def rows(self, request: Request, out: Completion, stats: StageStats) -> Iterator[dict[str, Any]]:
        """The trace rows of one completion, or one rejected row naming why it has none."""
        if out.error is not None:
            log.warning("generate: problem %r got no samples: %s", request.problem["id"], out.error)
            row = self._trace(request, out, Sample(index=-1, text="", finish_reason="error", tokens=0))
            reject(row, f"generate:{out.error}", stats)
            yield row
            return
        stats.counters["request_prompt_tokens"] += out.prompt_tokens
        if out.token_count != "engine":  # a server that did not say how many tokens it sampled
            stats.counters[f"tokens_from_{out.token_count}"] += len(out.samples)
        for sample in out.samples:
            stats.counters["prompt_tokens"] += out.prompt_tokens
            stats.counters["completion_tokens"] += sample.tokens
            stats.counters[f"finish_{sample.finish_reason}"] += 1
            stats.rows_out += 1
            yield self._trace(request, out, sample)

    def _trace(self, request: Request, out: Completion, sample: Sample) -> dict[str, Any]:
        problem, prefill, origin = request.problem, self.config.prefill, self.backend.provenance()
        completion = prefill + sample.text
        reasoning, answer = split_think(completion)
        return Trace(
            trace_id=f"{problem['id']}/{sample.index}",
            problem_id=problem["id"],
            sample_index=sample.index,
            source=problem["source"],
            domain=problem["domain"],
            language=problem["language"],
            gold=problem["gold"],
            tests=problem["tests"],
            metadata=problem["metadata"],
            prompt_messages=request.messages,
            few_shot_turns=2 * len(self.renderer.prompt_for(problem)[1]),
            prompt_text=request.prompt,
            prefill=prefill,
            completion=completion,
            reasoning=reasoning,
            answer=answer,
            finish_reason=sample.finish_reason,
            prompt_tokens=out.prompt_tokens,
            completion_tokens=sample.tokens,
            model=origin.model,
            model_revision=origin.model_revision,
            sampling_params=self.sampling_json,
            seed=request.seed,
            chat_template_hash=self.renderer.template_hash,
            generator=origin.generator,
        ).to_row()

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        summary.traces = stats.rows_out
        # problems the engine refused as they are (rows in traces_failed/); failed requests are errors instead
        summary.failed_problems = {k: v for k, v in stats.dropped.items() if not is_error(k)}
        summary.truncated = stats.counters.get("finish_length", 0)
        summary.finish_reasons = {
            k.removeprefix("finish_"): v for k, v in sorted(stats.counters.items()) if k.startswith("finish_")
        }
        summary.completion_tokens = tokens = stats.counters.get("completion_tokens", 0)
        summary.generate_seconds = round(stats.seconds, 2)
        summary.tokens_per_second = round(tokens / stats.seconds, 1) if stats.seconds else None
        c = stats.counters
        summary.cost = CostSummary(
            samples=stats.rows_out,
            prompt_tokens=c.get("request_prompt_tokens", 0),
            completion_tokens=tokens,
            samples_saved=c.get("samples_saved", 0),
            tokens_saved_estimate=c.get("tokens_saved_estimate", 0),
            later_rounds=c.get("later_rounds", 0),
            stopped={k.removeprefix("stopped_"): v for k, v in sorted(c.items()) if k.startswith("stopped_")},
            money=self.backend.spent(c.get("request_prompt_tokens", 0), tokens),
        )

    def errors(self, stats: StageStats) -> Counter[str]:
        return errors_in(stats.dropped)  # problems whose request failed: every one is asked again

    def close(self) -> None:
        self.backend.close()
        self._renderer = None
