"""Generate traces with vLLM's offline engine.

One request per problem with ``SamplingParams(n=k)``, so the k samples share the prompt's KV
cache (and ``enable_prefix_caching`` shares the system prompt and few-shot turns across
problems). Prompts are rendered with the model's own chat template, token ids are sent as they
are (no second BOS), and every trace carries what is needed to reproduce it: the model folder and
its fingerprint, the sampling arguments, the per-problem seed, the chat template's hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from factory.models import model_revision, resolve_model
from factory.recipe import GenerateConfig
from factory.records import Trace
from factory.stages.base import StageStats
from verifiers.text import split_think

log = logging.getLogger(__name__)

# Defaults for arguments the recipe leaves out (R1's recommended sampling; vLLM's own default
# max_tokens of 16 would truncate every trace). Anything the recipe sets wins.
DEFAULT_SAMPLING = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2048}
DEFAULT_ENGINE = {"enable_prefix_caching": True}
# CPU-only: float32 runs faster than bf16 on AVX2, and an in-process engine starts in seconds.
# Chunked prefill is off because vLLM's CPU runner crashes ("CPU Generator does not use offset")
# when a request with its own seed is only partly prefilled in a step; per-problem seeds are
# what makes a resumed run sample the same traces, so they stay.
# KV blocks of 32 tokens instead of the CPU backend's 128: prefix caching shares only full blocks,
# so the n samples of a problem and the shared system prompt / few-shot turns re-prefill less
# (benchmarks/bench_block_size.py: same tokens, 0.76x the time on the loop recipe's prompts).
CPU_ENGINE = {"dtype": "float32", "enable_chunked_prefill": False, "block_size": 32}
CPU_ENV = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
    "VLLM_CPU_KVCACHE_SPACE": "4",
}


def problem_seed(base: int, problem_id: str) -> int:
    """A stable per-problem seed: the same problem gets the same samples on every (re)run."""
    digest = hashlib.sha256(f"{base}:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


class Generator:
    """A vLLM engine plus the prompt rendering and provenance; loads on first use."""

    def __init__(self, config: GenerateConfig, llm: Any = None) -> None:
        """``llm``: an already started ``vllm.LLM`` to reuse (it must serve ``config.model``)."""
        self.config = config
        self._llm: Any = llm
        self._tokenizer: Any = None
        self.model_path = ""
        self.revision = ""
        self.template: str | None = None
        self.template_hash = ""
        self.version = ""

    # -- engine -----------------------------------------------------------------------------------

    def load(self) -> None:
        if self._tokenizer is not None:
            return
        import vllm

        engine = self.engine_arguments()
        self.model_path = resolve_model(self.config.model)
        if self._llm is None:
            log.info("starting vLLM %s on %s with %s", vllm.__version__, self.model_path, engine)
            self._llm = vllm.LLM(model=self.model_path, **engine)
        self._tokenizer = self._llm.get_tokenizer()
        # Passed to every apply_chat_template call, never set on the tokenizer: vLLM renders with
        # copies of it, so an attribute set here would be silently ignored.
        self.template = self.config.chat_template or getattr(self._tokenizer, "chat_template", None)
        if not self.template:
            raise ValueError(
                f"generate.model: {self.model_path} has no chat template; set generate.chat_template"
            )
        self.revision = engine.get("revision") or model_revision(self.model_path)
        self.template_hash = hashlib.sha256(self.template.encode()).hexdigest()[:12]
        self.version = f"vllm=={vllm.__version__}"

    def engine_arguments(self) -> dict[str, Any]:
        """``vllm.LLM`` keyword arguments: the recipe's, over our defaults (and CPU settings on CPU)."""
        engine = {**DEFAULT_ENGINE, **self.config.engine}
        if not has_cuda():
            for key, value in CPU_ENV.items():
                os.environ.setdefault(key, value)
            engine = {**CPU_ENGINE, **engine}
        engine.setdefault("seed", self.config.seed)
        return engine

    def close(self) -> None:
        self._llm = None
        self._tokenizer = None

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tokenizer

    # -- prompts ----------------------------------------------------------------------------------

    def messages(self, problem: dict[str, Any]) -> list[dict[str, str]]:
        """The chat sent for a problem: system prompt, few-shot turns, then the problem."""
        cfg = self.config
        head: list[dict[str, str]] = []
        if cfg.system_prompt:
            head.append({"role": "system", "content": cfg.system_prompt})
        for shot in cfg.few_shot:
            head += [{"role": "user", "content": shot.user}, {"role": "assistant", "content": shot.assistant}]
        if problem.get("messages"):
            chat = list(problem["messages"])
            if chat[0]["role"] == "system":  # the problem's own system prompt wins
                head = [m for m in head if m["role"] != "system"]
                return [chat[0], *head, *chat[1:]]
            return [*head, *chat]
        try:
            user = cfg.user_template.format(**problem)
        except (KeyError, IndexError) as e:
            raise ValueError(f"generate.user_template: unknown field {e} (problem {problem['id']!r})") from None
        return [*head, {"role": "user", "content": user}]

    def render(self, messages: list[dict[str, str]]) -> str:
        text = self.tokenizer.apply_chat_template(
            messages, chat_template=self.template, tokenize=False, add_generation_prompt=True
        )
        return text + self.config.prefill

    def sampling_arguments(self) -> dict[str, Any]:
        return {**DEFAULT_SAMPLING, **self.config.sampling, "n": self.config.n}

    # -- generation -------------------------------------------------------------------------------

    def generate(self, problems: list[dict[str, Any]], stats: StageStats | None = None) -> Iterator[dict[str, Any]]:
        """Sample ``n`` traces for each problem (one batched engine call) and yield trace rows."""
        import vllm

        self.load()
        stats = stats if stats is not None else StageStats()
        if not problems:
            return
        sampling = self.sampling_arguments()
        sampling_json = json.dumps(sampling, sort_keys=True)
        chats, prompts, params = [], [], []
        for problem in problems:
            chat = self.messages(problem)
            text = self.render(chat)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            chats.append((chat, text))
            prompts.append({"prompt_token_ids": ids})
            params.append(vllm.SamplingParams(**{**sampling, "seed": problem_seed(self.config.seed, problem["id"])}))
        start = time.perf_counter()
        outputs = self._llm.generate(prompts, params, use_tqdm=True)
        stats.seconds += time.perf_counter() - start
        for problem, (chat, text), param, out in zip(problems, chats, params, outputs, strict=True):
            for sample in sorted(out.outputs, key=lambda o: o.index):
                completion = self.config.prefill + sample.text
                reasoning, answer = split_think(completion)
                finish = sample.finish_reason or "unknown"
                stats.counters["prompt_tokens"] += len(out.prompt_token_ids)
                stats.counters["completion_tokens"] += len(sample.token_ids)
                stats.counters[f"finish_{finish}"] += 1
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
                    prompt_messages=chat,
                    few_shot_turns=2 * len(self.config.few_shot),
                    prompt_text=text,
                    prefill=self.config.prefill,
                    completion=completion,
                    reasoning=reasoning,
                    answer=answer,
                    finish_reason=finish,
                    prompt_tokens=len(out.prompt_token_ids),
                    completion_tokens=len(sample.token_ids),
                    model=self.model_path,
                    model_revision=self.revision,
                    sampling_params=sampling_json,
                    seed=param.seed,
                    chat_template_hash=self.template_hash,
                    generator=self.version,
                ).to_row()


class TraceGenerator:
    """The generate stage: one shard of problems in, ``n`` traces per problem out."""

    name: ClassVar[str] = "generate"

    def __init__(self, config: GenerateConfig, llm: Any = None) -> None:
        self.config = config
        self.generator = Generator(config, llm)

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        problems = list(rows)  # a shard: batched into one engine call so vLLM can schedule it all
        stats.rows_in += len(problems)
        yield from self.generator.generate(problems, stats)

    def close(self) -> None:
        self.generator.close()
