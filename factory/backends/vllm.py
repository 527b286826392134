"""The vLLM offline engine as a backend (the default).

One request per problem with ``SamplingParams(n=k)``, so the k samples share the prompt's KV
cache (and ``enable_prefix_caching`` shares the system prompt and few-shot turns across
problems). Prompts go in as token ids, tokenised without special tokens (the template already
holds them: no second BOS). ``generate.engine`` is passed to ``vllm.LLM`` unchanged, over the
defaults below.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, ClassVar

from factory.backends.base import Completion, Provenance, Request, Sample
from factory.models import has_cuda, model_revision, resolve_model
from factory.recipe import GenerateConfig

log = logging.getLogger(__name__)

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


class VLLMBackend:
    """``vllm.LLM`` in this process; starts on first use."""

    name: ClassVar[str] = "vllm"
    # engine arguments that change how fast or in how much memory it samples, not what: a run
    # folder resumes across changes to them (after an out-of-memory crash, on another machine)
    runtime_options: ClassVar[frozenset[str]] = frozenset({
        "gpu_memory_utilization", "kv_cache_memory_bytes", "swap_space", "cpu_offload_gb", "max_num_seqs",
        "max_num_batched_tokens", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size",
        "distributed_executor_backend", "enforce_eager", "compilation_config", "enable_prefix_caching",
        "block_size", "disable_log_stats", "max_parallel_loading_workers", "disable_custom_all_reduce",
    })

    def __init__(self, config: GenerateConfig, llm: Any = None) -> None:
        """``llm``: an already started ``vllm.LLM`` to reuse (it must serve ``config.model``)."""
        self.config = config
        self._llm: Any = llm
        self._tokenizer: Any = None
        self._provenance: Provenance | None = None
        self.model_path = ""

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

    def engine_arguments(self) -> dict[str, Any]:
        """``vllm.LLM`` keyword arguments: the recipe's, over our defaults (and CPU settings on CPU)."""
        engine = {**DEFAULT_ENGINE, **self.config.engine}
        if not has_cuda():
            for key, value in CPU_ENV.items():
                os.environ.setdefault(key, value)
            engine = {**CPU_ENGINE, **engine}
        engine.setdefault("seed", self.config.seed)
        return engine

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tokenizer

    def provenance(self) -> Provenance:
        if self._provenance is None:
            import vllm

            self.load()
            revision = self.config.engine.get("revision") or model_revision(self.model_path)
            self._provenance = Provenance(self.model_path, revision, f"vllm=={vllm.__version__}")
        return self._provenance

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        import vllm

        self.load()
        if not requests:
            return []
        prompts = [{"prompt_token_ids": self._tokenizer(r.prompt, add_special_tokens=False)["input_ids"]} for r in requests]
        params = [vllm.SamplingParams(**{**r.sampling, "n": r.n, "seed": r.seed}) for r in requests]
        outputs = self._llm.generate(prompts, params, use_tqdm=True)
        return [
            Completion(
                prompt_tokens=len(out.prompt_token_ids),
                samples=[
                    Sample(index=s.index, text=s.text, finish_reason=s.finish_reason or "unknown", tokens=len(s.token_ids))
                    for s in sorted(out.outputs, key=lambda o: o.index)
                ],
            )
            for out in outputs
        ]

    def close(self) -> None:
        self._llm = None
        self._tokenizer = None
