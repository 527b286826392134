"""Fine-tune a student on an exported SFT set with TRL's ``SFTTrainer`` (``factory train RECIPE``).

The SFT rows are conversational ``prompt``/``completion`` pairs (see ``factory.stages.export``), so
TRL renders them with the *student's own* chat template and puts the loss on the completion
(the assistant turn, its end-of-turn token included) only. The recipe's ``train.sft`` mapping is
passed to ``trl.SFTConfig`` unchanged; only keys it leaves out get defaults here (loss on the
completion, ``max_length`` from ``train.max_length``, no bf16 on a CPU, no checkpoints, no
trackers). ``train.lora`` (``peft.LoraConfig`` arguments) trains an adapter instead of every
weight; it is merged into the saved student so vLLM loads it like any model folder.

Before any training, a **render check** looks at what the trainer would actually see and refuses
(:class:`RenderCheckError`, listing every problem) when:

- the tokenizer has no chat template (set ``train.chat_template``);
- the rendered text lost the reasoning: the template removed the ``<think>`` block from the
  assistant turn, as the DeepSeek-R1 templates do for earlier turns (DeepSeek-R1 issue 633), or
  otherwise changed the assistant text;
- the assistant turn does not end in the end-of-sequence token (the tokenizer's ``eos_token`` or
  one of the model's ``generation_config`` EOS ids): a student trained so never learns to stop;
- rows are longer than ``train.max_length`` tokens: it says how many and the longest; nothing is
  ever truncated silently (raise ``max_length`` or drop long traces at selection).

The template checks run on ``train.render_check_rows`` rows; the length check on every row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.errors import RecipeError
from factory.files import read_records
from factory.models import has_cuda, model_revision, resolve_model, saving_model, trained_before
from factory.recipe import Recipe, TrainConfig
from verifiers.text import THINK_CLOSE, THINK_OPEN, split_think

log = logging.getLogger(__name__)

SUMMARY_FILE = "factory_train.json"


class RenderCheckError(ValueError):
    """The SFT rows would not train what they say under this student's chat template."""


@dataclass
class RenderReport:
    """What the render check found; ``ok`` when nothing stops training."""

    rows: int = 0
    checked: int = 0
    max_length: int = 0
    no_chat_template: bool = False
    lost_reasoning: list[str] = field(default_factory=list)  # trace ids
    changed_content: list[str] = field(default_factory=list)
    missing_eos: list[str] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)
    longest: int = 0
    prompt_not_prefix: int = 0  # a warning: TRL then starts the loss where the renderings diverge
    example: dict[str, str] = field(default_factory=dict)  # problem -> a rendered excerpt

    @property
    def ok(self) -> bool:
        return not (
            self.no_chat_template or self.lost_reasoning or self.changed_content or self.missing_eos or self.too_long
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"ok": self.ok}

    def message(self) -> str:
        if self.no_chat_template:
            return (
                "render check: the student's tokenizer has no chat template, so its prompts and "
                "completions cannot be rendered as it will see them at inference; set train.chat_template"
            )
        problems = []
        if self.lost_reasoning:
            problems.append(
                f"{len(self.lost_reasoning)} of {self.checked} checked rows lost their reasoning: the chat template "
                f"removes the {THINK_OPEN}...{THINK_CLOSE} block from the assistant turn (as DeepSeek-R1's template "
                f"does, DeepSeek-R1 issue 633), so the student would learn to answer without reasoning; set "
                f"train.chat_template to a template that keeps the assistant content as is "
                f"(e.g. {self.lost_reasoning[0]!r}: {self.example.get('lost_reasoning', '')!r})"
            )
        if self.changed_content:
            problems.append(
                f"{len(self.changed_content)} of {self.checked} checked rows: the rendered text does not contain the "
                f"assistant turn as exported (e.g. {self.changed_content[0]!r}); set train.chat_template"
            )
        if self.missing_eos:
            problems.append(
                f"{len(self.missing_eos)} of {self.checked} checked rows: the assistant turn does not end in the "
                f"EOS token ({self.example.get('eos_tokens', '')}); the rendered turn ends with "
                f"{self.example.get('missing_eos', '')!r}, so the student would never learn to stop; "
                f"fix the template (train.chat_template) or the tokenizer's eos_token (train.sft.eos_token)"
            )
        if self.too_long:
            problems.append(
                f"{len(self.too_long)} of {self.rows} rows are longer than train.max_length={self.max_length} tokens "
                f"(longest {self.longest}, e.g. {self.too_long[0]!r}); rows are never truncated silently: raise "
                f"train.max_length or drop long traces before training"
            )
        return "render check failed:\n- " + "\n- ".join(problems)


def _stop_tokens(tokenizer: Any, generation_eos: Sequence[int] = ()) -> list[str]:
    stops = [tokenizer.eos_token] if tokenizer.eos_token else []
    for token_id in generation_eos:
        token = tokenizer.convert_ids_to_tokens(int(token_id))
        if token and token not in stops:
            stops.append(token)
    return stops


def render_check(
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    *,
    max_length: int,
    sample_rows: int = 64,
    generation_eos: Sequence[int] = (),
    seed: int = 0,
) -> RenderReport:
    """Render SFT rows (``prompt``/``completion`` chats) with ``tokenizer``'s chat template and
    report what would go wrong in training. ``generation_eos``: further EOS ids that end a turn
    (a model's ``generation_config.eos_token_id``)."""
    report = RenderReport(rows=len(rows), max_length=max_length)
    if not getattr(tokenizer, "chat_template", None):
        report.no_chat_template = True
        return report
    stops = _stop_tokens(tokenizer, generation_eos)
    report.example["eos_tokens"] = " or ".join(stops) or "the tokenizer has no eos_token"
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    for i in sorted(order[:sample_rows]):
        row = rows[i]
        name = row.get("trace_id") or f"row {i}"
        report.checked += 1
        chat = list(row["prompt"]) + list(row["completion"])
        full = tokenizer.apply_chat_template(chat, tokenize=False)
        prompt = tokenizer.apply_chat_template(list(row["prompt"]), tokenize=False, add_generation_prompt=True)
        if not full.startswith(prompt):
            report.prompt_not_prefix += 1
        content = str(row["completion"][-1]["content"]).strip()
        reasoning, _ = split_think(content)
        turn = full[len(prompt) :] if full.startswith(prompt) else full
        if reasoning is not None and (
            reasoning not in turn or THINK_CLOSE not in turn or (THINK_OPEN in content and THINK_OPEN not in turn)
        ):
            report.lost_reasoning.append(name)
            report.example.setdefault("lost_reasoning", turn[:200])
            continue
        end = turn.rfind(content)
        if end < 0:
            report.changed_content.append(name)
            continue
        tail = turn[end + len(content) :].lstrip()
        if not any(stop and tail.startswith(stop) for stop in stops):
            report.missing_eos.append(name)
            report.example.setdefault("missing_eos", content[-40:] + tail[:40])
    for i, row in enumerate(rows):
        ids = tokenizer.apply_chat_template(
            list(row["prompt"]) + list(row["completion"]), tokenize=True, return_dict=True
        )["input_ids"]
        report.longest = max(report.longest, len(ids))
        if len(ids) > max_length:
            report.too_long.append(row.get("trace_id") or f"row {i}")
    return report


def read_sft_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an exported SFT set (a Parquet file or a folder of shards)."""
    p = Path(path)
    try:
        rows = read_records(p, "train.data")
    except ValueError as e:
        if p.exists():
            raise
        raise FileNotFoundError(f"{e} (run the recipe first: factory run RECIPE)") from None
    if not rows:
        raise ValueError(f"train.data: {p} holds no rows (did every trace fail verification? see the run's summary)")
    for i, r in enumerate(rows):
        if not r.get("prompt") or not r.get("completion"):
            raise ValueError(f"train.data: {p} row {i + 1} has no conversational prompt/completion")
    return rows


def sft_arguments(config: TrainConfig, output_dir: Path) -> dict[str, Any]:
    """``SFTConfig`` arguments: the recipe's ``train.sft`` unchanged, defaults only for keys it leaves out."""

    sft = dict(config.sft)
    if "max_length" in sft and sft["max_length"] != config.max_length:
        raise RecipeError("train.sft.max_length: set train.max_length instead (the render check enforces it)")
    defaults: dict[str, Any] = {
        "output_dir": str(output_dir.parent / f"{output_dir.name}-trainer"),
        "max_length": config.max_length,
        "completion_only_loss": True,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "seed": 0,
    }
    if not has_cuda():
        defaults.update(bf16=False, fp16=False)
    if sft.get("completion_only_loss") is False:
        log.warning("train.sft.completion_only_loss is false: the loss includes the prompt tokens")
    return {**defaults, **sft}


def _fingerprint(rows: Sequence[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps([r.get("trace_id"), r["prompt"], r["completion"]], sort_keys=True).encode())
    return h.hexdigest()[:16]


def train(
    config: TrainConfig,
    *,
    student: str,
    data: str | Path | Sequence[str | Path],
    output_dir: str | Path,
    reuse: bool = True,
) -> dict[str, Any]:
    """Render-check, then fine-tune ``student`` on the SFT rows at ``data`` (one set, or a list of
    sets whose rows are concatenated in order: R1's stage 4 adds other data to the rejection-sampled
    set) and save it to
    ``output_dir`` (atomically; a LoRA adapter is merged in). Returns the training summary, which
    is also written to ``output_dir/factory_train.json``. With ``reuse``, a student already trained
    on the same rows with the same settings is not trained again."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig

    student_path = resolve_model(student)
    out = Path(output_dir)
    sets = [data] if isinstance(data, (str, Path)) else list(data)
    if not sets:
        raise ValueError("train.data: an empty list of SFT sets")
    rows = [row for path in sets for row in read_sft_rows(path)]
    settings = json.loads(
        json.dumps(
            {
                "student": student_path,
                "student_revision": model_revision(student_path),
                "data": str(data) if isinstance(data, (str, Path)) else [str(p) for p in sets],
                "data_fingerprint": _fingerprint(rows),
                "train": dataclasses.asdict(config),
            },
            default=str,
        )
    )
    previous = trained_before(out, SUMMARY_FILE, settings, reuse, "train.output_dir")
    if previous is not None:
        return previous

    tokenizer = AutoTokenizer.from_pretrained(student_path)
    if config.chat_template is not None:
        tokenizer.chat_template = config.chat_template
    try:
        eos = GenerationConfig.from_pretrained(student_path).eos_token_id
    except OSError:
        eos = None
    generation_eos = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    report = render_check(
        tokenizer,
        rows,
        max_length=config.max_length,
        sample_rows=config.render_check_rows,
        generation_eos=generation_eos,
    )
    if not report.ok:
        raise RenderCheckError(report.message())
    if report.prompt_not_prefix:
        log.warning(
            "%d checked rows: the prompt rendered alone is not a prefix of prompt+completion", report.prompt_not_prefix
        )

    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**sft_arguments(config, out))
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    peft_config = None
    if config.lora is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(**{"task_type": "CAUSAL_LM", **config.lora})
    log.info("training %s on %d rows from %s", student_path, len(rows), ", ".join(map(str, sets)))
    trainer = SFTTrainer(
        model=student_path, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config
    )
    result = trainer.train()
    model = trainer.model
    if peft_config is not None:
        model = model.merge_and_unload()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {
        "settings": settings,
        "rows": len(rows),
        "render_check": report.to_dict(),
        "train_loss": result.training_loss,
        "losses": losses,
        "steps": result.global_step,
        "seconds": round(result.metrics.get("train_runtime", 0.0), 2),
        "sft_config": {k: v for k, v in sft_arguments(config, out).items()},
        "lora": config.lora,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    with saving_model(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)  # with the chat template it was trained with
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def train_paths(recipe: Recipe) -> tuple[TrainConfig, str, Path | list[Path], Path]:
    """The train section (defaults when absent), the student, the data (a set, or a list of sets) and
    the output folder."""
    config = recipe.train or TrainConfig()
    student = config.student or recipe.generate.model
    if isinstance(config.data, list):
        data: Path | list[Path] = [Path(p) for p in config.data]
    else:
        data = Path(config.data) if config.data else recipe.output_dir / "export" / "sft"
    output = Path(config.output_dir) if config.output_dir else recipe.output_dir / "student"
    return config, student, data, output


def train_recipe(recipe: Recipe, reuse: bool = True) -> dict[str, Any]:
    """``factory train RECIPE``: train the recipe's student on the recipe's exported set."""
    config, student, data, output = train_paths(recipe)
    return train(config, student=student, data=data, output_dir=output, reuse=reuse)
