"""The generate stage: one shard of problems in, ``n`` traces per problem out.

It renders each problem's prompt (:mod:`factory.prompts`), asks the recipe's backend
(:mod:`factory.backends`, ``generate.backend``) for ``n`` samples with the problem's own seed,
and assembles each sample into a :class:`~factory.records.Trace` carrying what is needed to
reproduce it: the model and its fingerprint, the sampling arguments, the seed, the chat
template's hash, the generator's version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa

from factory.backends import BACKENDS, Backend, Request
from factory.prompts import PromptRenderer
from factory.recipe import GenerateConfig
from factory.records import TRACE_SCHEMA, Trace
from factory.stages.base import StageStats
from verifiers.text import split_think

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


class TraceGenerator:
    """Renders prompts, samples them with the backend, and yields trace rows."""

    name: ClassVar[str] = "generate"

    def __init__(self, config: GenerateConfig, backend: Backend | None = None) -> None:
        """``backend``: one already built (e.g. around a started engine); default: the recipe's."""
        self.config = config
        self.backend = backend if backend is not None else BACKENDS[config.backend](config)
        self._renderer: PromptRenderer | None = None

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return TRACE_SCHEMA

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
        stats.rows_in += len(problems)
        yield from self.generate(problems, stats)

    def generate(self, problems: list[dict[str, Any]], stats: StageStats | None = None) -> Iterator[dict[str, Any]]:
        """Sample ``n`` traces for each problem and yield trace rows."""
        stats = stats if stats is not None else StageStats()
        if not problems:
            return
        renderer = self.renderer
        sampling = sampling_arguments(self.config)
        sampling_json = json.dumps(sampling, sort_keys=True)
        per_request = {k: v for k, v in sampling.items() if k != "n"}
        requests = []
        for problem in problems:
            chat = renderer.messages(problem)
            requests.append(Request(
                problem=problem, messages=chat, prompt=renderer.render(chat), n=self.config.n,
                seed=problem_seed(self.config.seed, problem["id"]), sampling=per_request,
            ))
        start = time.perf_counter()
        completions = self.backend.generate(requests)
        stats.seconds += time.perf_counter() - start
        origin = self.backend.provenance()
        prefill = self.config.prefill
        for request, out in zip(requests, completions, strict=True):
            problem = request.problem
            if out.error:  # the backend gave up on this problem (a server that kept failing): no traces
                log.warning("generate: problem %r got no samples: %s", problem["id"], out.error)
                stats.dropped["request_failed"] += 1
                stats.counters[out.error] += 1
                continue
            if out.token_count != "engine":
                stats.counters[f"tokens_from_{out.token_count}"] += len(out.samples)
            for sample in out.samples:
                completion = prefill + sample.text
                reasoning, answer = split_think(completion)
                stats.counters["prompt_tokens"] += out.prompt_tokens
                stats.counters["completion_tokens"] += sample.tokens
                stats.counters[f"finish_{sample.finish_reason}"] += 1
                stats.rows_out += 1
                yield Trace(
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
                    few_shot_turns=2 * len(self.config.few_shot),
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
                    sampling_params=sampling_json,
                    seed=request.seed,
                    chat_template_hash=renderer.template_hash,
                    generator=origin.generator,
                ).to_row()

    def close(self) -> None:
        self.backend.close()
        self._renderer = None
