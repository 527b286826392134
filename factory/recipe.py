"""Recipes: one YAML file is one run.

A recipe is parsed into frozen dataclasses. Every key is checked: an unknown key is an error that
names its full path (``generate.sampling_parms``), so a typo never silently falls back to a
default. Sections that belong to another library (vLLM's ``SamplingParams`` and engine arguments)
are passed through unchanged as plain mappings. ``--set generate.n=8`` style overrides are applied
to the raw YAML before parsing, so they are checked the same way.
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import logging
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from factory.backends import BACKENDS
from factory.errors import RecipeError
from factory.models import check_model
from verifiers import VERIFIERS, VerifierConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceConfig:
    """Where problems come from and how their fields map onto ``Problem``."""

    path: str  # a .jsonl/.parquet file or folder of them, a `datasets` save_to_disk folder, or a hub name
    format: Literal["auto", "jsonl", "parquet", "hf_disk", "hf_hub"] = "auto"
    split: str | None = None  # for `datasets` sources
    fields: dict[str, str] = field(default_factory=dict)  # Problem field -> column in the source
    defaults: dict[str, Any] = field(default_factory=dict)  # value for a field the source lacks
    limit: int | None = None  # read only the first N problems
    on_bad_row: Literal["fail", "skip"] = "fail"  # skip: a row that cannot be read or mapped is counted, not fatal
    shard_size: int = 64  # problems per shard: the unit of resume
    # a longer problem (its prompt, or its chat's turns together) is rejected at read: prompt_too_long_chars
    max_prompt_chars: int | None = 100_000


@dataclass(frozen=True)
class FewShot:
    user: str
    assistant: str


@dataclass(frozen=True)
class DomainPrompt:
    """How problems of one domain are prompted, where it differs from the generate section's
    default (a mixed run: math answers in a box, code in a fenced program)."""

    system_prompt: str | None = None  # None: generate.system_prompt
    few_shot: list[FewShot] | None = None  # None: generate.few_shot
    user_template: str | None = None  # None: generate.user_template


@dataclass(frozen=True)
class AdaptiveConfig:
    """Adaptive sampling (docs/adaptive.md): a problem is sampled in rounds, ``first`` samples in its
    first, and stops once it has ``passes`` samples that pass select's requirements (and ``fails``
    that fail them), or ``generate.n`` samples. Sample i is seeded ``seed + i`` whichever round
    draws it, so the traces are a prefix of the fixed-n run's."""

    first: int = 4  # samples in a problem's first round
    passes: int | None = None  # stop once this many samples pass select's requirements
    fails: int | None = None  # ... and this many fail them (a preference pair, for DPO)
    hopeless: int | None = None  # give a problem up with no passing sample after this many (changes the data)

    def check(self, n: int) -> None:
        if not 1 <= self.first <= n:
            raise RecipeError(f"generate.adaptive.first: must be within 1..generate.n ({n}), got {self.first}")
        if self.passes is None and self.fails is None:
            raise RecipeError("generate.adaptive: set passes (and/or fails): when to stop sampling a problem")
        for key in ("passes", "fails"):
            value = getattr(self, key)
            if value is not None and not 1 <= value <= n:
                raise RecipeError(f"generate.adaptive.{key}: must be within 1..generate.n ({n}), got {value}")
        if self.hopeless is not None and not self.first <= self.hopeless <= n:
            raise RecipeError(f"generate.adaptive.hopeless: must be within first..generate.n, got {self.hopeless}")


@dataclass(frozen=True)
class GenerateConfig:
    """The teacher and how to sample it. ``sampling`` goes to vLLM's SamplingParams unchanged,
    ``engine`` to the backend (``vllm.LLM`` keyword arguments for the vLLM backend)."""

    model: str = "embedded:smollm2"  # a local model folder, a hub name, or embedded:smollm2
    backend: str = "vllm"  # who samples: a key of factory.backends.BACKENDS
    n: int = 4  # samples per problem: SamplingParams(n=...)
    system_prompt: str | None = None
    few_shot: list[FewShot] = field(default_factory=list)  # turns placed before the problem
    user_template: str = "{prompt}"  # wraps the problem text; may use {prompt} and any Problem field
    prefill: str = ""  # assistant prefill, e.g. "<think>\n" as DeepSeek recommends for R1 models
    seed: int = 0  # per-problem seeds derive from this and the problem id
    chat_template: str | None = None  # override the tokenizer's template (a Jinja string)
    domains: dict[str, DomainPrompt] = field(default_factory=dict)  # per-domain prompts, by the problem's domain
    sampling: dict[str, Any] = field(default_factory=dict)  # vllm.SamplingParams(**sampling)
    engine: dict[str, Any] = field(default_factory=dict)  # the backend's own arguments: vllm.LLM(model, **engine)
    # The openai backend (an OpenAI-compatible server: `vllm serve`, SGLang, an API); `model` is then
    # the served model's name. Only that backend reads these, so another backend refuses them.
    base_url: str | None = None  # e.g. http://127.0.0.1:8000/v1
    api_key_env: str | None = None  # the environment variable holding the API key (never the key itself)
    tokenizer: str | None = None  # a local model folder whose tokenizer and chat template render the prompts
    adaptive: AdaptiveConfig | None = None  # sample in rounds, stop a problem once it has what select needs

    def __post_init__(self) -> None:
        if self.backend == "openai" and not self.base_url:
            raise RecipeError(
                "generate.base_url: the openai backend needs the server's URL, e.g. http://127.0.0.1:8000/v1"
            )
        if self.backend != "openai":
            for key in ("base_url", "api_key_env", "tokenizer"):
                if getattr(self, key) is not None:
                    raise RecipeError(
                        f"generate.{key}: only the openai backend uses it (generate.backend is {self.backend!r})"
                    )


@dataclass(frozen=True)
class ModelConfig:
    """A model the factory prompts besides the teacher (the judge, the rewriter): one generator on
    :mod:`factory.backends`, with the same keys as ``generate`` where they mean the same thing.
    ``system_prompt`` and ``prompt`` (the user turn, a ``str.format`` template) default to the
    stage's own strict prompts; ``sampling`` goes over the stage's defaults."""

    section: ClassVar[str] = "model"  # the recipe path of the section, for errors
    prompt_fields: ClassVar[tuple[str, ...]] = ("id", "problem", "gold", "domain")  # what `prompt` may use

    model: str = "embedded:smollm2"  # a local model folder, a hub name, embedded:smollm2, or a served model's name
    backend: str = "vllm"  # a key of factory.backends.BACKENDS
    system_prompt: str | None = None
    prompt: str | None = None  # the user turn; its fields are the stage's (see its docs); None: the default
    prefill: str = ""  # assistant prefill, part of the prompt
    seed: int = 0  # per-trace seeds derive from it
    chat_template: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)  # vllm.SamplingParams arguments (n is always 1)
    engine: dict[str, Any] = field(default_factory=dict)  # the backend's own arguments
    base_url: str | None = None  # the openai backend only
    api_key_env: str | None = None
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        if self.backend == "openai" and not self.base_url:
            raise RecipeError(
                f"{self.section}.base_url: the openai backend needs the server's URL, e.g. http://127.0.0.1:8000/v1"
            )
        if self.backend != "openai":
            for key in ("base_url", "api_key_env", "tokenizer"):
                if getattr(self, key) is not None:
                    raise RecipeError(
                        f"{self.section}.{key}: only the openai backend uses it "
                        f"({self.section}.backend is {self.backend!r})"
                    )
        if self.prompt is not None:
            try:
                self.prompt.format(**{name: "" for name in self.prompt_fields})
            except (KeyError, IndexError, ValueError) as e:
                what = repr(e.args[0]) if isinstance(e, KeyError) else str(e)
                raise RecipeError(
                    f"{self.section}.prompt: {what} is not a field it can use (known: "
                    f"{', '.join(self.prompt_fields)}; write literal braces as {{{{ }}}})"
                ) from None

    def generate_config(
        self, system_prompt: str | None, user_template: str, sampling: Mapping[str, Any]
    ) -> GenerateConfig:
        """The section as the ``generate`` config its backend is built from (one sample per request)."""
        return GenerateConfig(
            model=self.model,
            backend=self.backend,
            n=1,
            system_prompt=system_prompt,
            user_template=user_template,
            prefill=self.prefill,
            seed=self.seed,
            chat_template=self.chat_template,
            sampling={**sampling, **self.sampling},
            engine=dict(self.engine),
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            tokenizer=self.tokenizer,
        )


@dataclass(frozen=True)
class JudgeConfig(ModelConfig):
    """An LLM judge for what the rule verifiers cannot decide (:mod:`factory.stages.judge`)."""

    section: ClassVar[str] = "judge"
    prompt_fields: ClassVar[tuple[str, ...]] = ("id", "problem", "gold", "domain", "response", "reasoning", "answer")

    # undecided: traces no rule verifier could decide (the cascade's leftovers); all: every trace;
    # a list of domains: every trace of those domains
    apply_to: Any = "undecided"
    audit: float = 0.05  # share of rule-decided traces also judged (by trace_id hash), to measure agreement
    max_trace_chars: int = 16000  # a longer trace is cut in the middle before it is shown to the judge

    def __post_init__(self) -> None:
        super().__post_init__()
        ok = self.apply_to in ("undecided", "all") or (
            isinstance(self.apply_to, list) and self.apply_to and all(isinstance(d, str) for d in self.apply_to)
        )
        if not ok:
            raise RecipeError(f"judge.apply_to: {self.apply_to!r} is not undecided, all, or a list of domains")
        _check_fraction("judge.audit", self.audit)
        if self.max_trace_chars < 100:
            raise RecipeError("judge.max_trace_chars: must be at least 100")


@dataclass(frozen=True)
class RefineConfig(ModelConfig):
    """Rewrite kept traces into a target form, then re-verify them (:mod:`factory.stages.refine`)."""

    section: ClassVar[str] = "refine"
    prompt_fields: ClassVar[tuple[str, ...]] = ("id", "problem", "gold", "domain", "completion", "reasoning", "answer")

    form: Literal["r1", "cot"] = (
        "r1"  # the default prompt: r1: <think> reasoning </think> + concise summary; cot: a cleaner CoT
    )
    # a rewrite that changes the answer or breaks the format: reject the trace (into export/rejected),
    # or keep_original: export the trace as sampled
    on_failure: Literal["reject", "keep_original"] = "reject"


def _check_fraction(where: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise RecipeError(f"{where}: {value} is outside 0..1")


@dataclass(frozen=True)
class MajorityVoteConfig:
    """Pseudo-gold for problems without a gold answer: the most frequent canonical final answer."""

    min_share: float = 0.5  # the winning answer's share of all the problem's traces
    min_count: int = 2  # and at least this many traces give it
    require_think_close: bool = False  # as the math verifier's option: no answer without </think>

    def __post_init__(self) -> None:
        _check_fraction("vote.min_share", self.min_share)
        if self.min_count < 1:
            raise RecipeError("vote.min_count: must be at least 1")


@dataclass(frozen=True)
class DedupConfig:
    """Exact (normalised text) and near (MinHash LSH over token n-grams) duplicate removal."""

    exact: bool = True
    near: bool = True
    threshold: float = 0.8  # estimated Jaccard similarity at or above which two texts are duplicates
    ngram: int = 5  # tokens per shingle
    num_perm: int = 64  # MinHash permutations
    scope: Literal["run", "problem"] = "run"  # traces only: compare across the whole run or within a problem

    def __post_init__(self) -> None:
        _check_fraction("*dedup.threshold", self.threshold)
        if self.ngram < 1 or self.num_perm < 2:
            raise RecipeError("*dedup: ngram must be >= 1 and num_perm >= 2")


@dataclass(frozen=True)
class BenchmarkFile:
    path: str  # a .jsonl/.parquet file or a folder of them
    name: str | None = None  # default: the file or folder name without suffix
    field: str | None = None  # column with the problem text; default: the first of problem/question/prompt/...
    id_field: str | None = None  # column naming each item in the report; default: id if present, else row number


@dataclass(frozen=True)
class DecontaminateConfig:
    """Drop problems sharing a word n-gram with a benchmark problem (before any generation)."""

    benchmarks: list[BenchmarkFile] = field(default_factory=list)
    ngram: int = 13  # words per n-gram: 13 as datatrove, 8 as open-r1
    min_matches: int = 1  # shared n-grams needed to call a problem contaminated

    def __post_init__(self) -> None:
        if not self.benchmarks:
            raise RecipeError("decontaminate.benchmarks: name at least one benchmark file")
        if self.ngram < 1 or self.min_matches < 1:
            raise RecipeError("decontaminate: ngram and min_matches must be at least 1")


@dataclass(frozen=True)
class LengthConfig:
    """Drop traces whose SFT row (as exported, rendered with the student's chat template) is too long."""

    tokenizer: str  # the student's model folder (its tokenizer and chat template)
    max_tokens: int  # the trainer's max_length

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise RecipeError("select.max_length.max_tokens: must be at least 1")


@dataclass(frozen=True)
class RankConfig:
    """Score the traces that passed the filters and keep the top ``k`` per problem by score."""

    reward_model: str  # a local AutoModelForSequenceClassification folder (num_labels=1), or judge (its graded score)
    k: int | None = None  # None: select.k
    batch_size: int = 8
    max_length: int = 4096  # tokens per scored chat (longer: cut from the left, so the answer stays)
    device: str | None = None  # None: cuda when there is one, else cpu

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise RecipeError("select.rank.k: must be at least 1 (or null for select.k)")
        if self.batch_size < 1 or self.max_length < 16:
            raise RecipeError("select.rank: batch_size must be at least 1 and max_length at least 16")


@dataclass(frozen=True)
class SelectConfig:
    # verifiers a kept trace must pass: a list, or per domain {math: [math, format], code: [code], "*": [...]};
    # default: every verifier that applies to the trace, one of which must judge the answer (math, code)
    require: Any = None
    k: int | None = None  # keep at most k traces per problem
    strategy: Literal["first", "shortest", "random", "diverse", "all"] = "first"
    seed: int = 0
    min_pass_rate: float = 0.0  # keep problems whose pass rate is within [min, max] (inclusive);
    max_pass_rate: float = 1.0  # e.g. max 0.99 drops the always-solved
    trace_dedup: DedupConfig | None = None  # duplicate traces among the passing ones
    max_length: LengthConfig | None = None  # the student's token budget
    rank: RankConfig | None = None  # a reward model (or the judge) ranks the passing traces; replaces strategy

    def __post_init__(self) -> None:
        _check_fraction("select.min_pass_rate", self.min_pass_rate)
        _check_fraction("select.max_pass_rate", self.max_pass_rate)
        if self.min_pass_rate > self.max_pass_rate:
            raise RecipeError("select.min_pass_rate: is above select.max_pass_rate")
        if self.k is not None and self.k < 1:
            raise RecipeError("select.k: must be at least 1 (or null for all)")


@dataclass(frozen=True)
class ExportConfig:
    system_prompt: bool = True  # keep the generation system prompt in the exported messages
    few_shot: bool = False  # keep the few-shot demonstrations in the exported messages
    rejected: bool = True  # also write the rejected traces (with reasons) under export/rejected
    pairs: bool = False  # also write preference pairs (a passing and a failing trace of a problem) under export/pairs
    max_pairs_per_problem: int = 1  # the shortest passing traces against the first wrong ones (preference-and-rl.md)

    def __post_init__(self) -> None:
        if self.max_pairs_per_problem < 1:
            raise RecipeError("export.max_pairs_per_problem: must be at least 1")


@dataclass(frozen=True)
class TrainConfig:
    """SFT of a student on the exported set (``factory train``). ``sft`` goes to TRL's SFTConfig unchanged."""

    student: str | None = None  # model folder / hub name / embedded:NAME; default: generate.model (self-distillation)
    # a Parquet file or folder of SFT rows, or a list of them (their rows in order); default: <run_dir>/export/sft
    data: str | list[str] | None = None
    output_dir: str | None = None  # where the trained student is saved; default: <run_dir>/student
    max_length: int = 2048  # tokens per row; a longer row is refused by the render check, never truncated
    lora: dict[str, Any] | None = None  # peft.LoraConfig(**lora); None: full fine-tuning
    render_check_rows: int = 64  # rows whose rendering is checked before training (lengths: every row)
    chat_template: str | None = None  # override the student's template (a Jinja string); saved with it
    sft: dict[str, Any] = field(default_factory=dict)  # trl.SFTConfig(**sft)


@dataclass(frozen=True)
class RewardWeights:
    """How much each of R1's rule-based rewards counts in the GRPO reward (``grpo.rewards``)."""

    accuracy: float = 1.0  # verify.math for math problems (a gold answer), verify.code for code (tests)
    format: float = 1.0  # verify.format: the <think>...</think> answer shape
    language: float = 1.0  # R1's language consistency: share of target-language words in the reasoning


@dataclass(frozen=True)
class GrpoPrompts:
    """Which of the GRPO problems it trains on (``grpo.prompts``): those whose pass rate, as the
    factory measured it with the recipe's verifiers (a data run's ``problems_scored/``), is within
    ``pass_rate`` (inclusive). A problem the run did not score is left out."""

    pass_rate: list[float] = field(default_factory=lambda: [0.0, 1.0])  # [lo, hi]
    # `from` in the recipe: a run folder with problems_scored/, or in a chain a rejection_sample phase's name;
    # None: score first (a data run of the student on the GRPO problems, beside the output folder)
    from_: str | None = None

    def __post_init__(self) -> None:
        if len(self.pass_rate) != 2:
            raise RecipeError(f"grpo.prompts.pass_rate: expected [lo, hi], got {self.pass_rate!r}")
        lo, hi = self.pass_rate
        _check_fraction("grpo.prompts.pass_rate[0]", lo)
        _check_fraction("grpo.prompts.pass_rate[1]", hi)
        if lo > hi:
            raise RecipeError(f"grpo.prompts.pass_rate: {lo} is above {hi}")


@dataclass(frozen=True)
class GrpoConfig:
    """RL of a student with TRL's ``GRPOTrainer`` (``factory grpo``); rewards from the recipe's
    verifiers. ``config`` goes to ``trl.GRPOConfig`` unchanged (checked against its fields before
    any model loads)."""

    student: str | None = None  # default: train.student, else generate.model
    problems: SourceConfig | None = None  # the RL prompts; default: source (the training split)
    output_dir: str | None = None  # where the trained model is saved; default: <run_dir>/grpo
    rewards: RewardWeights = field(default_factory=RewardWeights)
    prompts: GrpoPrompts | None = None  # train on the problems the student solves only sometimes; None: all
    # groups whose rewards are all equal (no advantage): counted always; filter: also out of the loss
    # (their tokens no longer dilute it, nor does their KL term count)
    zero_variance: Literal["keep", "filter"] = "keep"
    config: dict[str, Any] = field(default_factory=dict)  # trl.GRPOConfig(**config)

    def __post_init__(self) -> None:
        for name in ("accuracy", "format", "language"):
            if getattr(self.rewards, name) < 0:
                raise RecipeError(f"grpo.rewards.{name}: must not be negative")
        if "reward_weights" in self.config:
            raise RecipeError(
                "grpo.config.reward_weights: set the weights under grpo.rewards (accuracy, format, language)"
            )


PHASE_KINDS = ("rejection_sample", "sft", "grpo")


@dataclass(frozen=True)
class PhaseConfig:
    """One phase of a chain (``chain.phases``): it takes the previous phase's model (or dataset)
    and yields a new one. ``set`` overrides recipe keys for this phase only (its own prompts,
    problems, sizes); the evaluations between phases always use the recipe as written."""

    kind: Literal["rejection_sample", "sft", "grpo"]
    name: str | None = None  # default: the kind; must be unique in the chain
    # sft: the model fine-tuned: "previous" (the latest model), "base" (the chain's first model,
    # as R1's stage 4 restarts from the base) or a phase's name
    model: str = "previous"
    # sft: the rejection_sample phase whose set it trains on, or a list of them (R1's stage 4 adds other
    # data to the rejection-sampled set: e.g. [cold_start, rejection_sample]); default: the latest
    data: str | list[str] | None = None
    set: dict[str, Any] = field(default_factory=dict)  # recipe key path -> value, for this phase only

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def data_phases(self) -> list[str]:
        return [] if self.data is None else [self.data] if isinstance(self.data, str) else list(self.data)


@dataclass(frozen=True)
class ChainConfig:
    """Model phases chained in one recipe (``factory chain``); ``factory loop`` is the default
    chain ``[rejection_sample, sft]``. The model is evaluated on ``eval.problems`` before the
    first phase and after every phase that yields a model."""

    phases: list[PhaseConfig] = field(default_factory=list)
    model: str | None = None  # the first model; default: train.student, else generate.model
    evaluate: bool = True  # evaluate the first model and every phase's model on eval.problems

    def __post_init__(self) -> None:
        if not self.phases:
            raise RecipeError("chain.phases: list at least one phase")
        names = [s.label for s in self.phases]
        for i, phase in enumerate(self.phases):
            where = f"chain.phases[{i}]"
            if names.count(phase.label) > 1:
                raise RecipeError(f"{where}.name: {phase.label!r} names two phases; give each a name of its own")
            if phase.label in ("base", "previous"):
                raise RecipeError(f"{where}.name: {phase.label!r} is reserved")
            if phase.kind != "sft" and (phase.model != "previous" or phase.data is not None):
                raise RecipeError(f"{where}: model and data are options of an sft phase only")
            earlier = {s.label: s.kind for s in self.phases[:i]}
            if phase.kind == "sft":
                if phase.model not in ("previous", "base") and earlier.get(phase.model) not in ("sft", "grpo"):
                    raise RecipeError(
                        f"{where}.model: {phase.model!r} is not base, previous or an earlier sft/grpo phase"
                    )
                if phase.data is not None and not phase.data_phases:
                    raise RecipeError(f"{where}.data: an empty list; name at least one rejection_sample phase")
                for name in phase.data_phases:
                    if earlier.get(name) != "rejection_sample":
                        raise RecipeError(f"{where}.data: {name!r} is not an earlier rejection_sample phase")
                if len(set(phase.data_phases)) < len(phase.data_phases):
                    raise RecipeError(f"{where}.data: a phase is named twice")
                if phase.data is None and "rejection_sample" not in earlier.values():
                    raise RecipeError(f"{where}: an sft phase needs an earlier rejection_sample phase (its data)")


@dataclass(frozen=True)
class EvalConfig:
    """Held-out evaluation (``factory eval``, ``factory loop``): the generate section's prompts and
    sampling, scored with the recipe's verifiers."""

    problems: SourceConfig | None = None  # the held-out problems; required by `factory loop`
    n: int = 4  # samples per problem
    k: list[int] = field(default_factory=list)  # pass@k / maj@k for these k; default: [1, n]
    correct: list[str] = field(default_factory=lambda: ["math"])  # verifiers a correct sample passes
    verify: dict[str, Any] | None = None  # default: the recipe's verify section
    sampling: dict[str, Any] = field(default_factory=dict)  # overrides generate.sampling for evaluation
    difficulty_field: str = "level"  # problem field or metadata key for the per-difficulty table
    output_dir: str | None = None  # default: <run_dir>/eval


@dataclass(frozen=True)
class ExecutorConfig:
    """Where the shards run (never what they hold: changing it never blocks a resume).

    ``local``: in this process (no Ray needed). ``ray``: generation on ``replicas`` engine actors,
    the steps after it as Ray tasks (:mod:`factory.executors.ray`); the other keys are Ray's.
    """

    kind: Literal["local", "ray"] = "local"
    address: str | None = None  # ray: None starts a local Ray; "auto" or "ray://host:10001" joins a cluster
    replicas: int = 1  # ray: generation engine replicas (actors), each its own engine
    gpus_per_replica: float = 0.0  # ray: GPUs reserved per replica (its engine's tensor_parallel_size)
    cpus_per_replica: float = 1.0  # ray: CPUs reserved per replica (the engine's scheduler, the fake backend's loop)
    cpus_per_task: float = 1.0  # ray: CPUs reserved per verification/selection/export task

    def __post_init__(self) -> None:
        if self.kind == "local":
            for f in dataclasses.fields(self):
                if f.name != "kind" and getattr(self, f.name) != f.default:
                    raise RecipeError(f"executor.{f.name}: only for kind ray (executor.kind is local)")
        if self.replicas < 1:
            raise RecipeError("executor.replicas: must be at least 1")
        for name in ("gpus_per_replica", "cpus_per_replica"):
            if getattr(self, name) < 0:
                raise RecipeError(f"executor.{name}: must not be negative")
        if self.cpus_per_task <= 0:
            raise RecipeError("executor.cpus_per_task: must be positive")


@dataclass(frozen=True)
class Recipe:
    """One run. The sections are named for the step they configure, in the order the steps run."""

    name: str
    source: SourceConfig  # read
    decontaminate: DecontaminateConfig | None = None  # read: drop problems overlapping a benchmark
    problem_dedup: DedupConfig | None = None  # read: drop duplicate problems
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    vote: MajorityVoteConfig | None = None  # before verify: a pseudo-gold for problems without one
    verify: dict[str, Any] = field(default_factory=dict)  # verifier name -> its options (a verifiers.configs class)
    judge: JudgeConfig | None = None  # after verify: an LLM judge for what the rules cannot decide
    select: SelectConfig = field(default_factory=SelectConfig)
    refine: RefineConfig | None = None  # after select: rewrite the kept traces, re-verify them
    export: ExportConfig = field(default_factory=ExportConfig)
    train: TrainConfig | None = None  # `factory train` / `factory loop`
    eval: EvalConfig | None = None  # `factory eval --recipe` / `factory loop`
    grpo: GrpoConfig | None = None  # `factory grpo`
    chain: ChainConfig | None = None  # `factory chain`: model phases in order, each evaluated
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)  # where shards run (local or ray)
    run_dir: str | None = None  # default: runs/<name>

    @property
    def run_location(self) -> str:
        """The run folder: a path, or an object-store URI (see :mod:`factory.shards`)."""
        return self.run_dir or str(Path("runs") / self.name)

    @property
    def output_dir(self) -> Path:
        """The run folder as a local path, for the commands that need one (train, eval, loop)."""
        if "://" in self.run_location:
            raise RecipeError(
                f"run_dir: {self.run_location.split('?')[0]} is not a local folder; factory train, eval "
                "and loop read and write a run folder on a local or shared filesystem"
            )
        return Path(self.run_location)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe file, apply ``key.path=value`` overrides, and check every key."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=RecipeLoader)
    except FileNotFoundError:
        raise RecipeError(f"recipe file not found: {path}") from None
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections, got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    return parse_recipe(raw, origin=str(path))


class RecipeLoader(yaml.SafeLoader):
    """YAML as the recipe files and ``--set`` values are read: safe, and with YAML 1.2's floats, so
    ``1e-5`` (which YAML 1.1 reads as the string "1e-5") is a number, as Python and JSON write it."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``a.b.c=value`` override in place; the value is read as YAML (``8``, ``true``, ``[a, b]``)."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise RecipeError(f"override {item!r} is not of the form key.path=value")
    *parents, leaf = key.strip().split(".")
    node = raw
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(f"override {item!r}: {'.'.join(parents[: i + 1])} is not a section")
        node = child
    try:
        node[leaf] = yaml.load(value, Loader=RecipeLoader)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise RecipeError(f"override {item!r}: the value is not valid YAML ({problem})") from None


# Keys that moved to a section of their own, named for the step they configure: old path -> new.
MOVED_KEYS = {
    ("select", "majority_vote"): "vote",
    ("select", "problem_dedup"): "problem_dedup",
    ("select", "decontaminate"): "decontaminate",
    ("verify", "judge"): "judge",  # not a rule verifier: a step of its own, so a changed judge does not re-verify
}
ALIASES = {("verify", "judge")}  # accepted where they are, without a warning


# Sections renamed: old name -> (new name, {old key: new key}).
RENAMED_SECTIONS = {"pipeline": ("chain", {"stages": "phases"})}


def _migrate(raw: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """Move keys from where older recipes had them, with a warning that says where they live now."""
    raw = dict(raw)
    for old, (new, keys) in RENAMED_SECTIONS.items():
        if old not in raw:
            continue
        if new in raw:
            raise RecipeError(f"{old}: renamed {new}; the recipe sets both")
        section = raw.pop(old)
        if isinstance(section, Mapping):
            section = {keys.get(k, k): v for k, v in section.items()}
        raw[new] = section
        log.warning(
            "%s: the section %s is now %s (%s); please rename it",
            origin,
            old,
            new,
            ", ".join(f"{k} -> {v}" for k, v in keys.items()),
        )
    for (section, key), new in MOVED_KEYS.items():
        if isinstance(raw.get(section), Mapping) and key in raw[section]:
            if (
                new in raw
                and (section, key) in ALIASES
                and isinstance(raw[new], Mapping)
                and isinstance(raw[section][key], Mapping)
            ):
                raw[new] = {
                    **raw[section][key],
                    **raw[new],
                }  # one section, two spellings (e.g. --set judge.x=... on verify.judge)
            elif new in raw:
                raise RecipeError(f"{section}.{key}: moved to {new}; the recipe sets both")
            else:
                raw[new] = raw[section][key]
            raw[section] = {k: v for k, v in raw[section].items() if k != key}
            if (section, key) in ALIASES:
                continue
            log.warning(
                "%s: %s.%s is now the top-level section %s (it runs at that step); please move it",
                origin,
                section,
                key,
                new,
            )
    return raw


# The data sections of a recipe, in the order of the steps that use them (the one place this
# order is written: the plan, resume and the chain read it). train/eval/grpo/chain settings may
# change freely without invalidating the data already made.
SECTION_ORDER = (
    "source",
    "decontaminate",
    "problem_dedup",
    "generate",
    "vote",
    "verify",
    "judge",
    "select",
    "refine",
    "export",
)
# generate keys that say where the teacher answers, not what it samples (another server pool of
# the same model, a rotated key): a run folder resumes across them.
WHERE_KEYS = ("base_url", "api_key_env")


SOURCE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SourceConfig) if f.default is not dataclasses.MISSING}


def data_settings(recipe: dict[str, Any]) -> dict[str, Any]:
    """The normal form a run folder resumes by: the recipe (as ``Recipe.to_dict`` writes it) as far
    as it decides the data. The backends' runtime-only engine options and the where-keys are set
    aside, keys that moved sections are read where they are now (a folder made before the move
    resumes), and verifier options get their defaults filled in (older folders kept only what was set)."""
    recipe = dict(recipe)
    if isinstance(recipe.get("source"), dict):  # keys added since a folder was made: their defaults
        recipe["source"] = {**SOURCE_DEFAULTS, **recipe["source"]}
    for (section, key), new in MOVED_KEYS.items():
        if key in (recipe.get(section) or {}):
            recipe[section] = dict(recipe[section])
            recipe.setdefault(new, recipe[section].pop(key))
    if isinstance(recipe.get("verify"), dict):
        try:
            recipe["verify"] = {
                name: dataclasses.asdict(verifier_config(name, o)) for name, o in recipe["verify"].items()
            }
        except RecipeError:
            pass  # a verifier or option this version does not know: the comparison reports the section
    for section in ("generate", "judge", "refine"):  # each a model on a backend
        if not isinstance(recipe.get(section), dict):
            continue
        settings = {k: v for k, v in recipe[section].items() if k not in WHERE_KEYS}
        backend = BACKENDS.get(settings.get("backend", "vllm"))
        if backend is not None:
            settings["engine"] = {
                k: v for k, v in (settings.get("engine") or {}).items() if k not in backend.runtime_options
            }
        recipe[section] = settings
    return {k: recipe.get(k) for k in SECTION_ORDER}


def changed_sections(previous: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The data sections that differ between two recipes as ``Recipe.to_dict`` writes them, in step order."""
    before, after = data_settings(previous), data_settings(json.loads(json.dumps(now, default=str)))
    return [k for k in SECTION_ORDER if before[k] != after[k]]


def changed_keys(previous: dict[str, Any], now: dict[str, Any], section: str) -> list[str]:
    """The keys of one data section that differ between two recipes (``generate.adaptive``), for errors."""
    before = data_settings(previous)[section] or {}
    after = data_settings(json.loads(json.dumps(now, default=str)))[section] or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [section]
    return [f"{section}.{k}" for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)] or [section]


def parse_recipe(raw: Mapping[str, Any], origin: str = "recipe") -> Recipe:
    recipe = _build(Recipe, _migrate(raw, origin), "")
    if recipe.generate.backend not in BACKENDS:
        raise RecipeError(f"generate.backend: {recipe.generate.backend!r} is not one of {', '.join(BACKENDS)}")
    BACKENDS[recipe.generate.backend].check_config(recipe.generate)

    recipe = dataclasses.replace(
        recipe, verify={name: verifier_config(name, o, "verify") for name, o in recipe.verify.items()}
    )
    for section in (recipe.judge, recipe.refine):
        if section is not None:
            check_model_section(section)
    _check_require(recipe.select.require, recipe.verify, judge=recipe.judge is not None)
    _check_rank(recipe)
    if recipe.generate.n < 1:
        raise RecipeError("generate.n: must be at least 1")
    _check_adaptive(recipe)
    if recipe.source.shard_size < 1:
        raise RecipeError("source.shard_size: must be at least 1")
    if recipe.source.max_prompt_chars is not None and recipe.source.max_prompt_chars < 1:
        raise RecipeError("source.max_prompt_chars: must be at least 1 (or null for no limit)")
    if recipe.train is not None and recipe.train.max_length < 1:
        raise RecipeError("train.max_length: must be at least 1")
    if recipe.eval is not None:
        recipe = dataclasses.replace(recipe, eval=_check_eval(recipe.eval, recipe.verify))
    return recipe


def verifier_config(name: str, options: Any, where: str = "verify") -> Any:
    """A verifier's options as its frozen config (:mod:`verifiers.configs`), every key checked."""
    if name not in VERIFIERS:
        raise RecipeError(f"{where}.{name}: unknown verifier (known: {', '.join(VERIFIERS)})")
    if isinstance(options, VerifierConfig):
        return options
    if options is not None and not isinstance(options, Mapping):
        raise RecipeError(f"{where}.{name}: options must be a mapping, got {options!r}")
    return _build(VERIFIERS[name].config, options or {}, f"{where}.{name}")


def check_model_section(section: ModelConfig) -> None:
    """A judge / rewriter section's backend, its sampling and engine keys, and a local model, checked
    as generate's are (before any engine starts); errors name the section's path."""

    where = section.section
    if section.backend not in BACKENDS:
        raise RecipeError(f"{where}.backend: {section.backend!r} is not one of {', '.join(BACKENDS)}")
    try:
        BACKENDS[section.backend].check_config(section.generate_config(None, "{prompt}", {}))
    except RecipeError as e:
        raise RecipeError(str(e).replace("generate.", f"{where}.", 1)) from None
    if section.backend == "vllm":
        try:
            check_model(section.model, where=f"{where}.model")
        except ValueError as e:
            raise RecipeError(str(e)) from None


def _check_rank(recipe: Recipe) -> None:
    rank = recipe.select.rank
    if rank is None:
        return
    if rank.reward_model == "judge":
        if recipe.judge is None:
            raise RecipeError("select.rank.reward_model: judge needs a judge section")
        return
    path = Path(rank.reward_model).expanduser()
    if not (path / "config.json").is_file():
        raise RecipeError(
            f"select.rank.reward_model: {rank.reward_model} is not a local model folder (no config.json) nor judge"
        )
    if recipe.select.strategy != "first":
        raise RecipeError("select.strategy: select.rank keeps the top-k by reward score; leave strategy out")


def _check_adaptive(recipe: Recipe) -> None:
    """Adaptive stopping judges each round with the verify section and select's requirements as
    they stand at generate: a pseudo-gold voted over all samples or a judge that runs later cannot
    be used there."""
    adaptive = recipe.generate.adaptive
    if adaptive is None:
        return
    adaptive.check(recipe.generate.n)
    if not recipe.verify:
        raise RecipeError("generate.adaptive: stops on verified samples; the recipe has no verify section")
    for section in ("vote", "judge"):
        if getattr(recipe, section) is not None:
            raise RecipeError(
                f"generate.adaptive: cannot be used with {section} (it decides after all samples are drawn); "
                "remove one of the two"
            )


def _check_require(require: Any, verify: Mapping[str, Any], judge: bool = False) -> None:
    lists = require.items() if isinstance(require, Mapping) else [(None, require)] if require is not None else []
    for domain, names in lists:
        where = "select.require" + (f".{domain}" if domain is not None else "")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise RecipeError(
                f"{where}: expected a list of verifier names (or a mapping of domain to lists), got {names!r}"
            )
        for name in names:
            if name not in verify and not (name == "judge" and judge):
                raise RecipeError(
                    f"{where}: {name!r} is not configured under verify"
                    + (" (nor is a judge)" if name == "judge" else "")
                )


def _check_eval(ev: EvalConfig, verify: dict[str, Any]) -> EvalConfig:
    if ev.n < 1:
        raise RecipeError("eval.n: must be at least 1")
    for k in ev.k:
        if not 1 <= k <= ev.n:
            raise RecipeError(f"eval.k: {k} is outside 1..eval.n ({ev.n})")
    if ev.verify is not None:
        ev = dataclasses.replace(
            ev, verify={name: verifier_config(name, o, "eval.verify") for name, o in ev.verify.items()}
        )
    configured = verify if ev.verify is None else ev.verify
    for name in configured:
        if name not in VERIFIERS:
            raise RecipeError(f"eval.verify.{name}: unknown verifier (known: {', '.join(VERIFIERS)})")
    for name in ev.correct:
        if name not in configured:
            raise RecipeError(f"eval.correct: {name!r} is not configured under eval.verify (or verify)")
    return ev


def _build(tp: Any, value: Any, path: str) -> Any:
    """Convert a YAML value into ``tp``, checking keys and simple types; errors name ``path``."""
    where = path or "recipe"
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise RecipeError(f"{where}: expected a mapping, got {value!r}")
        hints = typing.get_type_hints(tp)
        fields = {_yaml_key(f.name): f for f in dataclasses.fields(tp) if f.init}
        for key in value:
            if key not in fields:
                raise RecipeError(f"{_join(path, key)}: unknown key (known: {', '.join(fields)})")
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[f.name] = _build(hints[f.name], value[name], _join(path, name))
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecipeError(f"{_join(path, name)}: required key is missing")
        return tp(**kwargs)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _build(inner[0], value, path)
        for a in inner:  # the first type the value builds as (`str | list[str]`: a string first)
            try:
                return _build(a, value, path)
            except RecipeError:
                pass
        raise RecipeError(f"{where}: expected {' or '.join(_type_name(a) for a in inner)}, got {value!r}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise RecipeError(f"{where}: {value!r} is not one of {', '.join(map(str, choices))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise RecipeError(f"{where}: expected a list, got {value!r}")
        (inner,) = typing.get_args(tp)
        return [_build(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise RecipeError(f"{where}: expected a mapping, got {value!r}")
        _, inner = typing.get_args(tp)
        if dataclasses.is_dataclass(inner):  # a mapping of our own sections, each checked
            return {key: _build(inner, v, _join(path, key)) for key, v in value.items()}
        return dict(value)  # passed through: its keys belong to someone else's API
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise RecipeError(f"{where}: expected {tp.__name__}, got {value!r}")
        return value
    raise TypeError(f"recipe field type {tp!r} at {where} is not supported")  # a bug in this module


def _yaml_key(name: str) -> str:
    """A field's key in the recipe: ``from_`` is written ``from`` (a Python keyword cannot name a field)."""
    bare = name.removesuffix("_")
    return bare if bare != name and keyword.iskeyword(bare) else name


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)
