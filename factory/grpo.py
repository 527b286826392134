"""RL of a student with TRL's ``GRPOTrainer``, rewarded by the recipe's verifiers (``factory grpo RECIPE``).

DeepSeek-R1's stage 2: for each prompt a group of ``num_generations`` completions is sampled, each
is rewarded, and its advantage is its reward minus the group's mean (over the group's standard
deviation, TRL's ``scale_rewards: group``), with ``beta`` weighting the KL term to the starting
model. The rewards are R1's rule-based ones, built from the recipe's ``verify`` section (the same
frozen configs and the same verifier functions as the data run and ``factory eval``):

- ``accuracy``: ``verify.math`` on a problem with a gold answer, ``verify.code`` on one with tests;
- ``format``: ``verify.format`` (the ``<think>...</think>`` answer shape);
- ``language``: the share of target-language words in the chain of thought, as R1 defines its
  language-consistency reward (``verify.language``'s options, judged on the reasoning).

Their weights are ``grpo.rewards``; TRL sums them (``reward_weights``) and logs each one's mean.

The prompts are rendered exactly as ``factory eval`` renders them (:class:`~factory.prompts.PromptRenderer`:
the generate section's system prompt, few-shot turns, user template, chat template and prefill),
so the policy is trained on the prompt it is evaluated on; the completions are judged with the
prefill put back in front, as the factory's traces are. ``grpo.config`` goes to ``trl.GRPOConfig``
unchanged; only keys it leaves out get defaults here (generation settings from
``generate.sampling``, no bf16 on a CPU, no checkpoints, no trackers, and vLLM generation
(colocated) only where a GPU and TRL's vLLM integration are present). Its keys are checked
against ``GRPOConfig``'s fields before any model loads.

The prompts that can teach (``grpo.prompts``): GRPO learns only from groups whose rewards differ,
so it is given the problems the student solves only sometimes, by their pass rate as the factory
measured it with the same verifiers: a data run's ``problems_scored/`` (``grpo.prompts.from``, a
run folder or, in a chain, a rejection_sample phase), or a data run of the student on the GRPO
problems made first (``<output_dir>-scored``). Groups whose rewards are still all equal are counted
(``zero_variance_groups``) and, with ``grpo.zero_variance: filter``, masked out of the loss. With
``grpo.config.beta`` > 0 the KL term is to the starting checkpoint: TRL loads the reference from the
policy's own ``name_or_path``, the student folder (the SFT checkpoint in a chain).

The trained model is saved (atomically) as a plain model folder with its tokenizer, so
``factory eval --model`` and a later ``generate.model`` load it; beside it ``factory_grpo.json``
(settings and summary), ``rewards.jsonl`` (one line per logged step: every reward's mean, the
reward's mean and std, ``frac_reward_zero_std``, loss, KL) and ``rewards.png``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

from factory.errors import RecipeError
from factory.models import has_cuda, model_revision, resolve_model, saving_model, trained_before
from factory.prompts import PromptRenderer
from factory.recipe import GrpoConfig, GrpoPrompts, Recipe, SourceConfig, verifier_config
from factory.stages.base import StageStats
from factory.stages.read import ProblemReader
from verifiers.rewards import VerdictReward

log = logging.getLogger(__name__)

SUMMARY_FILE = "factory_grpo.json"
# below this an advantage is zero: equal rewards leave float noise / (std + 1e-4), ~1e-13
ZERO_ADVANTAGE = 1e-6
REWARD_LOG = "rewards.jsonl"
REWARD_PLOT = "rewards.png"
# GRPOConfig keys the factory sets itself from other sections
OWN_KEYS = {"reward_weights": "grpo.rewards"}
# what goes into rewards.jsonl from each of TRL's log entries (besides rewards/*)
LOGGED = (
    "loss",
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "kl",
    "entropy",
    "learning_rate",
    "completions/mean_length",
    "completions/clipped_ratio",
)


def grpo_fields() -> set[str]:
    from trl import GRPOConfig

    return {f.name for f in dataclasses.fields(GRPOConfig) if f.init}


def check_grpo_config(config: dict[str, Any], where: str = "grpo.config") -> None:
    """Refuse a key ``trl.GRPOConfig`` does not have (or one the factory sets), naming it."""
    known = grpo_fields()
    for key in config:
        if key in OWN_KEYS:
            raise RecipeError(f"{where}.{key}: set by the factory from {OWN_KEYS[key]}")
        if key not in known:
            close = sorted(k for k in known if k.startswith(key[:4]))[:6]
            raise RecipeError(
                f"{where}.{key}: not a trl.GRPOConfig field" + (f" (did you mean: {', '.join(close)})" if close else "")
            )


def vllm_generation_available() -> bool:
    """A CUDA GPU and TRL's vLLM integration (vLLM-backed generation inside GRPO)."""

    if not has_cuda():
        return False
    try:
        from trl.import_utils import is_vllm_available

        if not is_vllm_available():
            return False
        import trl.generation.vllm_generation  # noqa: F401
    except Exception:  # an incompatible vLLM build: plain generation
        return False
    return True


def grpo_arguments(config: GrpoConfig, out: Path, sampling: dict[str, Any], weights: list[float]) -> dict[str, Any]:
    """``GRPOConfig`` keyword arguments: ``grpo.config`` as given, defaults for the keys it leaves out."""

    user = dict(config.config)
    check_grpo_config(user)
    defaults: dict[str, Any] = {
        "output_dir": str(out.parent / f"{out.name}-trainer"),
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "seed": 0,
        "dataloader_num_workers": 0,
    }
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("max_tokens", "max_completion_length")):
        if ours in sampling:
            defaults[theirs] = sampling[ours]
    if "use_vllm" not in user:
        defaults["use_vllm"] = vllm_generation_available()
        if defaults["use_vllm"]:
            defaults["vllm_mode"] = "colocate"
    elif user["use_vllm"] and not vllm_generation_available():
        raise RecipeError(
            "grpo.config.use_vllm: vLLM generation inside GRPO needs a CUDA GPU and a vLLM that TRL supports"
        )
    if not has_cuda():
        defaults.update(bf16=False, fp16=False, use_cpu=True)
    return {**defaults, **user, "reward_weights": list(weights)}


def build_rewards(
    recipe: Recipe, config: GrpoConfig, prefill: str, max_tokens: int | None
) -> tuple[list[Any], list[float]]:
    """The reward functions (accuracy, format, language; those with a weight) and their weights."""

    verify = recipe.verify

    def conf(name: str, **changes: Any) -> Any:
        base = verify[name] if name in verify else verifier_config(name, {}, "grpo.rewards")
        return dataclasses.replace(base, **changes) if changes else base

    accuracy = {name: conf(name) for name in ("math", "code") if name in verify} or {"math": conf("math")}
    # R1: "the proportion of target language words in the CoT" -- the reasoning, graded
    parts = [
        ("accuracy", accuracy, False),
        ("format", {"format": conf("format")}, False),
        ("language", {"language": conf("language", part="reasoning")}, True),
    ]
    funcs, weights = [], []
    for name, verifiers, graded in parts:
        w = getattr(config.rewards, name)
        if w:
            funcs.append(VerdictReward(name, verifiers, prefill=prefill, graded=graded, max_tokens=max_tokens))
            weights.append(w)
    if not funcs:
        raise RecipeError("grpo.rewards: every weight is 0; nothing would be learned")
    return funcs, weights


def grpo_paths(recipe: Recipe) -> tuple[GrpoConfig, str, SourceConfig, Path]:
    """The grpo section (defaults when absent), the student, the RL problems and the output folder."""
    config = recipe.grpo or GrpoConfig()
    student = (
        config.student
        or (recipe.train.student if recipe.train and recipe.train.student else None)
        or recipe.generate.model
    )
    problems = config.problems or recipe.source
    output = Path(config.output_dir) if config.output_dir else recipe.output_dir / "grpo"
    return config, student, problems, output


def prompt_rows(recipe: Recipe, problems: SourceConfig, tokenizer: Any) -> list[dict[str, Any]]:
    """One dataset row per problem: the prompt text as ``factory eval`` renders it (prefill
    included: the verifiers see it again in front of the completion), and the columns the rewards read."""

    renderer = PromptRenderer(recipe.generate, tokenizer, model=str(getattr(tokenizer, "name_or_path", "")))
    rows = []
    for p in ProblemReader(problems).run(None, StageStats()):
        rows.append(
            {
                "prompt": renderer.render(renderer.messages(p)),
                "problem_id": p["id"],
                "gold": p.get("gold"),
                "tests": p.get("tests"),
                "language": p.get("language") or "en",
                "domain": p.get("domain"),
            }
        )
    if not rows:
        raise ValueError(f"grpo.problems: {problems.path} yielded no problems")
    return rows


def scored_run(recipe: Recipe, prompts: GrpoPrompts, student: str, problems: SourceConfig, out: Path) -> Path:
    """The run folder whose ``problems_scored/`` holds the pass rates: ``prompts.from``, or a data
    run of the student on the GRPO problems, made (or resumed) here first."""
    if prompts.from_ is not None:
        run = Path(prompts.from_)
        if not (run / "problems_scored").is_dir():
            raise RecipeError(
                f"grpo.prompts.from: {run} is not a finished data run (no problems_scored/); name a run folder "
                "(or, in a chain, a rejection_sample phase), or leave it out to score the student first"
            )
        return run
    if recipe.generate.backend == "openai":
        raise RecipeError(
            "grpo.prompts: scoring first samples the student with generate's backend, and the openai backend "
            "samples a served model; name a data run of the student in grpo.prompts.from"
        )
    from factory.run import run_recipe

    run = out.parent / f"{out.name}-scored"
    log.info("scoring the student on the GRPO problems first: a data run in %s", run)
    generate = dataclasses.replace(recipe.generate, model=student)
    run_recipe(dataclasses.replace(recipe, source=problems, generate=generate, run_dir=str(run)), progress=False)
    return run


def select_prompts(
    rows: list[dict[str, Any]], run: Path, pass_rate: list[float]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows whose problem's pass rate in ``run`` is within ``pass_rate``, and the counts of the choice."""
    import pyarrow.parquet as pq

    scored = pq.read_table(run / "problems_scored", columns=["problem_id", "pass_rate"]).to_pylist()
    rates = {r["problem_id"]: r["pass_rate"] for r in scored}
    lo, hi = pass_rate
    counts = {"from": str(run), "pass_rate": [lo, hi], "problems": len(rows), "unscored": 0, "below": 0, "above": 0}
    chosen = []
    for row in rows:
        rate = rates.get(row["problem_id"])
        where = "unscored" if rate is None else "below" if rate < lo else "above" if rate > hi else None
        if where:
            counts[where] += 1
        else:
            chosen.append(row)
    ids = json.dumps(sorted(r["problem_id"] for r in chosen))
    counts["selected"], counts["selected_hash"] = len(chosen), hashlib.sha256(ids.encode()).hexdigest()[:16]
    if not chosen:
        raise ValueError(
            f"grpo.prompts.pass_rate: no problem of {len(rows)} has a pass rate within [{lo}, {hi}] in {run} "
            f"({counts['below']} below, {counts['above']} above, {counts['unscored']} not scored there)"
        )
    log.info("GRPO prompts: %d of %d problems with a pass rate in [%s, %s] in %s", len(chosen), len(rows), lo, hi, run)
    return chosen, counts


def _scored_model(run: Path) -> str | None:
    try:
        return json.loads((run / "recipe.json").read_text())["generate"]["model"]
    except (FileNotFoundError, KeyError, TypeError, json.JSONDecodeError):
        return None


def _dataset(rows: list[dict[str, Any]]) -> Any:
    from datasets import Dataset

    # a column that is empty for every row is left out (datasets cannot type an all-None column)
    keep = [k for k in rows[0] if k == "prompt" or any(r[k] is not None for r in rows)]
    return Dataset.from_list([{k: r[k] for k in keep} for r in rows])


def _settings(
    recipe: Recipe, config: GrpoConfig, student_path: str, problems: SourceConfig, args: dict[str, Any]
) -> dict[str, Any]:
    return json.loads(
        json.dumps(
            {
                "student": student_path,
                "student_revision": model_revision(student_path),
                "problems": dataclasses.asdict(problems),
                "generate": {
                    k: v
                    for k, v in dataclasses.asdict(recipe.generate).items()
                    if k not in ("model", "n", "engine", "seed")
                },
                "verify": {k: dataclasses.asdict(v) for k, v in recipe.verify.items()},
                "rewards": dataclasses.asdict(config.rewards),
                "grpo_config": {k: v for k, v in args.items() if k != "output_dir"},
            },
            default=str,
        )
    )


def grpo_recipe(recipe: Recipe, reuse: bool = True, extra_rewards: list[Any] | None = None) -> dict[str, Any]:
    """``factory grpo RECIPE``: GRPO of the recipe's student on its problems; returns the summary.

    ``extra_rewards`` (tests, experiments): more reward functions, weight 1 each, after the recipe's.
    With ``reuse``, a model already trained with the same settings is not trained again.
    """
    config, student, problems, out = grpo_paths(recipe)
    check_grpo_config(config.config)  # before any model loads

    student_path = resolve_model(student)
    sampling = recipe.generate.sampling
    probe = grpo_arguments(config, out, sampling, [])
    max_tokens = probe.get("max_completion_length")
    funcs, weights = build_rewards(recipe, config, recipe.generate.prefill, max_tokens)
    extra = list(extra_rewards or [])
    args_dict = grpo_arguments(config, out, sampling, weights + [1.0] * len(extra))
    settings = _settings(recipe, config, student_path, problems, args_dict)
    settings["extra_rewards"] = [getattr(f, "__name__", type(f).__name__) for f in extra]
    if config.zero_variance != "keep":  # (a model trained before the option existed kept them)
        settings["zero_variance"] = config.zero_variance

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(student_path)
    rows = prompt_rows(recipe, problems, tokenizer)
    selection = None
    if config.prompts is not None:
        run = scored_run(recipe, config.prompts, student_path, problems, out)
        rows, selection = select_prompts(rows, run, config.prompts.pass_rate)
        measured = _scored_model(run)
        if measured is not None and resolve_model(measured) != student_path:
            log.warning(
                "grpo.prompts: the pass rates in %s are %s's, not the student's (%s)", run, measured, student_path
            )
        settings["prompts"] = selection
    previous = trained_before(out, SUMMARY_FILE, settings, reuse, "grpo.output_dir")
    if previous is not None:
        return previous

    import torch
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig

    text = rows[0]["prompt"]
    if tokenizer(text)["input_ids"] != tokenizer(text, add_special_tokens=False)["input_ids"]:
        log.warning(
            "the tokenizer adds special tokens to the rendered prompt (TRL tokenizes a text prompt so); "
            "the policy sees them but factory eval does not"
        )
    args = GRPOConfig(**args_dict)
    generation = (
        "vllm (colocate)"
        if args.use_vllm and args.vllm_mode == "colocate"
        else (f"vllm ({args.vllm_mode})" if args.use_vllm else "transformers generate")
    )
    log.info("GRPO on %d prompts, %d generations each; generation: %s", len(rows), args.num_generations, generation)

    scratch = Path(args.output_dir)
    scratch.mkdir(parents=True, exist_ok=True)
    reward_log = scratch / REWARD_LOG
    reward_log.write_text("")
    model = AutoModelForCausalLM.from_pretrained(
        student_path, dtype=torch.float32 if not torch.cuda.is_available() else "auto"
    )
    trainer = group_counting_trainer()(
        filter_zero_variance=config.zero_variance == "filter",
        model=model,
        processing_class=tokenizer,
        args=args,
        train_dataset=_dataset(rows),
        reward_funcs=[*funcs, *extra],
        callbacks=[_reward_logger(reward_log)],
    )
    result = trainer.train()
    steps = _read_log(reward_log)
    names = [getattr(f, "__name__", type(f).__name__) for f in [*funcs, *extra]]
    summary = {
        "settings": settings,
        "generation": generation,
        "prompts": len(rows),
        "prompts_seen": result.global_step
        * args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        // args.num_generations,
        "steps": result.global_step,
        "train_loss": result.training_loss,
        "seconds": round(result.metrics.get("train_runtime", 0.0), 2),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "reward_functions": dict(zip(names, args.reward_weights, strict=True)),
        "reward_first": _window(steps, "reward", first=True),
        "reward_last": _window(steps, "reward", first=False),
        "reward_means": {
            n: {"first": _window(steps, f"rewards/{n}/mean", True), "last": _window(steps, f"rewards/{n}/mean", False)}
            for n in names
        },
        "frac_reward_zero_std_mean": _mean([s.get("frac_reward_zero_std") for s in steps]),
        "prompt_selection": selection,
        "groups": trainer.groups,
        "zero_variance_groups": trainer.zero_variance_groups,
        "zero_variance": config.zero_variance,
        "beta": args.beta,
        # TRL builds the reference from the policy's name_or_path (a PEFT policy: the adapter disabled)
        "reference_model": student_path if args.beta else None,
    }
    with saving_model(out) as tmp:
        trainer.model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        shutil.copy(reward_log, tmp / REWARD_LOG)
        try:
            plot_rewards(steps, tmp / REWARD_PLOT, names)
        except Exception:  # a plot is not worth a lost model
            log.warning("could not plot the rewards", exc_info=True)
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def group_counting_trainer() -> type:
    """``GRPOTrainer`` that counts the training groups whose advantages are all zero (every reward
    equal: nothing to learn) and, with ``filter_zero_variance``, masks their completions out of the
    loss, so their tokens do not dilute the others' gradient and their KL term does not count.
    A group is ``num_generations`` consecutive completions (TRL's sampler keeps them together)."""
    from trl import GRPOTrainer

    class GroupCountingGRPOTrainer(GRPOTrainer):
        def __init__(self, *args: Any, filter_zero_variance: bool = False, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.filter_zero_variance = filter_zero_variance
            self.groups = self.zero_variance_groups = 0

        def _generate_and_score_completions(self, inputs: Any) -> dict[str, Any]:
            out = super()._generate_and_score_completions(inputs)
            if not self.model.training:
                return out
            zero = (out["advantages"].view(-1, self.num_generations).abs() < ZERO_ADVANTAGE).all(dim=1)
            self.groups += len(zero)
            self.zero_variance_groups += int(zero.sum())
            if self.filter_zero_variance and zero.any():
                keep = (~zero).repeat_interleave(self.num_generations).unsqueeze(1)
                out["completion_mask"] = out["completion_mask"] * keep.to(out["completion_mask"].dtype)
                mask = out["completion_mask"] if "tool_mask" not in out else out["completion_mask"] * out["tool_mask"]
                out["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
            return out

    return GroupCountingGRPOTrainer


def _reward_logger(path: Path) -> Any:
    """A ``TrainerCallback`` writing the reward side of every training log entry as a JSON line."""
    from transformers import TrainerCallback

    class RewardLogger(TrainerCallback):
        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
        ) -> None:
            if not logs or not any(k.startswith("rewards/") for k in logs):
                return
            entry = {"step": state.global_step}
            entry |= {k: v for k, v in logs.items() if k.startswith("rewards/") or k in LOGGED}
            with path.open("a") as f:
                f.write(json.dumps(entry, default=float) + "\n")

    return RewardLogger()


def _read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _mean(values: list[Any]) -> float | None:
    xs = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(xs) / len(xs) if xs else None


def _window(steps: list[dict[str, Any]], key: str, first: bool, size: int = 10) -> float | None:
    """The mean of ``key`` over the first (or last) ``size`` logged steps: a noisy curve's ends."""
    part = steps[:size] if first else steps[-size:]
    return _mean([s.get(key) for s in part])


def plot_rewards(steps: list[dict[str, Any]], path: Path, names: list[str]) -> None:
    """Each reward's mean per step (and a moving average), the total reward with its std band, and
    the share of groups whose rewards were all equal (no learning signal)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [s["step"] for s in steps]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for n in names:
        y = [s.get(f"rewards/{n}/mean") for s in steps]
        axes[0].plot(x, [float("nan") if v is None else v for v in y], label=n, alpha=0.8)
    axes[0].set_title("reward means per step")
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].legend()
    total = [s.get("reward", float("nan")) for s in steps]
    std = [s.get("reward_std", 0.0) for s in steps]
    axes[1].plot(x, total, label="reward")
    axes[1].fill_between(
        x,
        [a - b for a, b in zip(total, std, strict=True)],
        [a + b for a, b in zip(total, std, strict=True)],
        alpha=0.2,
        label="± std",
    )
    k = max(1, min(10, len(total) // 5))
    if len(total) >= k:
        ma = [sum(total[i - k + 1 : i + 1]) / k for i in range(k - 1, len(total))]
        axes[1].plot(x[k - 1 :], ma, label=f"moving mean ({k})")
    axes[1].set_title("weighted reward")
    axes[1].legend()
    axes[2].plot(x, [s.get("frac_reward_zero_std", float("nan")) for s in steps])
    axes[2].set_title("groups with zero reward std")
    axes[2].set_ylim(-0.05, 1.05)
    for ax in axes:
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
