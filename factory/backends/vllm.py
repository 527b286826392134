"""The vLLM offline engine as a backend (the default).

One request per problem with ``SamplingParams(n=k)``, so the k samples share the prompt's KV
cache (and ``enable_prefix_caching`` shares the system prompt and few-shot turns across
problems). Prompts go in as token ids, tokenised without special tokens (the template already
holds them: no second BOS). ``generate.engine`` is passed to ``vllm.LLM`` unchanged, over the
defaults below.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from factory.backends.base import IDLE_S, NOT_READY, Completion, Provenance, Request, Sample
from factory.errors import RecipeError
from factory.models import check_model, has_cuda, model_revision, resolve_model

if TYPE_CHECKING:
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


@functools.cache
def vllm_arguments() -> tuple[frozenset[str], frozenset[str]] | None:
    """The installed vLLM's ``SamplingParams`` fields and ``LLM``/``EngineArgs`` keyword arguments.

    Read from its source with ``ast``, not by importing it (that takes 10-20 s on a CPU machine), so
    a recipe is checked in milliseconds. ``None`` when vLLM is not installed or its layout is not
    the one expected; then nothing is checked here and vLLM itself reports a bad argument.
    """
    spec = importlib.util.find_spec("vllm")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(spec.submodule_search_locations[0])
    try:
        sampling = _class_fields(root / "sampling_params.py", "SamplingParams")
        engine = _class_fields(root / "engine" / "arg_utils.py", "EngineArgs") | _init_parameters(
            root / "entrypoints" / "llm.py", "LLM"
        )
    except (OSError, SyntaxError, LookupError):
        log.debug("cannot read vLLM's argument lists from %s; not checking sampling/engine keys", root, exc_info=True)
        return None
    return frozenset(sampling), frozenset(engine)


def check_early_stops(sampling: dict[str, Any], engine: dict[str, Any] | None, where: str) -> None:
    """vLLM's in-engine early stops, checked as vLLM would check them once the engine is up:
    ``repetition_detection`` (a mapping of ``RepetitionDetectionParams`` fields) stops a sample
    that repeats an n-gram (``finish_reason`` ``repetition``); ``thinking_token_budget`` caps the
    reasoning and needs the engine's ``reasoning_parser`` (or ``reasoning_config``; ``engine`` None:
    a server's, not checked here)."""
    rep = sampling.get("repetition_detection")
    if rep is not None:
        if not isinstance(rep, dict):
            raise RecipeError(f"{where}.sampling.repetition_detection: expected a mapping, got {rep!r}")
        known = ("max_pattern_size", "min_pattern_size", "min_count")
        for key, value in rep.items():
            if key not in known:
                raise RecipeError(
                    f"{where}.sampling.repetition_detection.{key}: unknown key (known: {', '.join(known)})"
                )
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RecipeError(f"{where}.sampling.repetition_detection.{key}: expected an integer >= 0")
        top, bottom = rep.get("max_pattern_size", 0), rep.get("min_pattern_size", 0)
        if top < 1 or bottom > top:
            raise RecipeError(
                f"{where}.sampling.repetition_detection: max_pattern_size must be >= 1 and >= min_pattern_size"
            )
        if rep.get("min_count", 0) < 2:
            raise RecipeError(f"{where}.sampling.repetition_detection.min_count: must be at least 2")
    budget = sampling.get("thinking_token_budget")
    if budget is not None:
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
            raise RecipeError(f"{where}.sampling.thinking_token_budget: expected an integer >= 0, got {budget!r}")
        if engine is not None and not engine.get("reasoning_parser") and not engine.get("reasoning_config"):
            raise RecipeError(
                f"{where}.sampling.thinking_token_budget: needs {where}.engine.reasoning_parser (e.g. deepseek_r1) "
                "so vLLM knows where the reasoning ends"
            )


def _class(path: Path, name: str) -> ast.ClassDef:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise LookupError(f"{name} not in {path}")


def _class_fields(path: Path, name: str) -> set[str]:
    return {
        n.target.id for n in _class(path, name).body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }


def _init_parameters(path: Path, name: str) -> set[str]:
    for node in _class(path, name).body:
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            args = node.args
            return {a.arg for a in [*args.args, *args.kwonlyargs] if a.arg != "self"}
    raise LookupError(f"{name}.__init__ not in {path}")


def sampling_params(request: Request) -> dict[str, Any]:
    """``vllm.SamplingParams`` arguments of a request: the recipe's, its ``n`` and its first sample's
    seed; ``repetition_detection`` (a mapping in the recipe) as vLLM's own dataclass."""
    import vllm.sampling_params as sp

    params = {**request.sampling, "n": request.n, "seed": request.first_seed}
    if isinstance(params.get("repetition_detection"), dict):
        params["repetition_detection"] = sp.RepetitionDetectionParams(**params["repetition_detection"])
    return params


PROMPT_TOO_LONG = "prompt_too_long"
REQUEST_REFUSED = "request_refused"


class VLLMBackend:
    """``vllm.LLM`` in this process; starts on first use."""

    name: ClassVar[str] = "vllm"
    # engine arguments that change how fast or in how much memory it samples, not what: a run
    # folder resumes across changes to them (after an out-of-memory crash, on another machine)
    runtime_options: ClassVar[frozenset[str]] = frozenset(
        {
            "gpu_memory_utilization",
            "kv_cache_memory_bytes",
            "swap_space",
            "cpu_offload_gb",
            "max_num_seqs",
            "max_num_batched_tokens",
            "tensor_parallel_size",
            "pipeline_parallel_size",
            "data_parallel_size",
            "distributed_executor_backend",
            "enforce_eager",
            "compilation_config",
            "enable_prefix_caching",
            "block_size",
            "disable_log_stats",
            "max_parallel_loading_workers",
            "disable_custom_all_reduce",
        }
    )

    @staticmethod
    def check_config(config: GenerateConfig) -> None:
        """Refuse sampling and engine keys the installed vLLM does not take, naming the key."""
        known = vllm_arguments()
        if known is None:
            return
        sampling, engine = known
        for section, keys, allowed in (("sampling", config.sampling, sampling), ("engine", config.engine, engine)):
            for key in keys:
                if key not in allowed:
                    close = sorted(k for k in allowed if k[:4] == key[:4])[:5]
                    hint = f" (did you mean {', '.join(close)}?)" if close else ""
                    raise RecipeError(f"generate.{section}.{key}: not an argument of the installed vLLM{hint}")
        if "n" in config.sampling or "seed" in config.sampling:
            raise RecipeError(
                "generate.sampling: set n and seed as generate.n and generate.seed (seeds are per problem)"
            )
        check_early_stops(config.sampling, config.engine, "generate")

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
        check_model(self.config.model)  # a missing folder is an error naming generate.model, not a hub traceback
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
        by_position = {id(r): i for i, r in enumerate(requests)}
        out: list[Completion | None] = [None] * len(requests)
        for request, completion in self.stream(requests, window=max(len(requests), 1)):
            out[by_position[id(request)]] = completion
        return out  # type: ignore[return-value]

    def stream(self, requests: Iterable[Request], window: int = 1024) -> Iterator[tuple[Request, Completion]]:
        """Completions as they finish, feeding the engine so it always holds ``window`` requests.

        vLLM's own engine loop (``LLM.enqueue`` + ``LLMEngine.step``, as ``LLM.generate`` runs
        it), so the scheduler sees the next problems while the longest traces of earlier ones are
        still running: no drain at shard boundaries, and memory bounded by the window.
        """
        import vllm

        self.load()
        llm, engine = self._llm, self._llm.llm_engine
        limit = llm.model_config.max_model_len
        pending: dict[str, Request] = {}
        feed, end = iter(requests), object()
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                request = next(feed, end)
                if request is end:
                    exhausted = True
                    break
                if request is NOT_READY:
                    break
                ids = self._tokenizer(request.prompt, add_special_tokens=False)["input_ids"]
                if len(ids) >= limit:  # would fail the whole batch, and every rerun of it
                    yield request, Completion(prompt_tokens=len(ids), samples=[], error=PROMPT_TOO_LONG)
                    continue
                params = vllm.SamplingParams(**sampling_params(request))
                try:
                    (request_id,) = llm.enqueue([{"prompt_token_ids": ids}], [params], use_tqdm=False)
                except ValueError as e:  # vLLM's input checks: one problem's error, not the run's
                    log.warning("vLLM refused the request of problem %r: %s", request.problem.get("id"), e)
                    yield request, Completion(prompt_tokens=len(ids), samples=[], error=REQUEST_REFUSED)
                    continue
                # enqueue returns the engine's internal id ("7-1a2b3c4d"); outputs carry the external one
                pending[request_id.split("-", 1)[0]] = request
            if not pending:
                if exhausted:
                    return
                time.sleep(IDLE_S)
                continue
            for out in engine.step():
                if out.finished:
                    done = pending.pop(out.request_id)
                    samples = [
                        Sample(
                            index=done.first + s.index,
                            text=s.text,
                            finish_reason=s.finish_reason or "unknown",
                            tokens=len(s.token_ids),
                        )
                        for s in sorted(out.outputs, key=lambda o: o.index)
                    ]
                    yield done, Completion(prompt_tokens=len(out.prompt_token_ids), samples=samples)

    def spent(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        return None

    def close(self) -> None:
        self._llm = None
        self._tokenizer = None
