"""GRPO from a recipe: rewards are the verifiers' verdicts, GRPOConfig keys are checked before any
model loads, and real GRPO steps on the tiny model (weights move; a constant reward moves nothing)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from factory.errors import RecipeError
from factory.recipe import parse_recipe

RIGHT = "Two and three make 5.\n</think>\nThe answer is \\boxed{5}."  # after the "<think>\n" prefill
WRONG = "Two and three make 6.\n</think>\nThe answer is \\boxed{6}."
OPEN = "Two and three make"  # never closes its think block
MIXED = "Two and three. 所以答案是五。我们把二和三相加。\n</think>\nThe answer is \\boxed{5}."


def recipe(tmp_path: Path, model: str = "embedded:smollm2", problems: int = 4, **grpo) -> object:
    path = tmp_path / "p.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "problem": f"What is {i} + 1?", "answer": str(i + 1)}) + "\n"
            for i in range(problems)
        )
    )
    return parse_recipe(
        {
            "name": "t",
            "run_dir": str(tmp_path / "run"),
            "source": {"path": str(path), "fields": {"prompt": "problem", "gold": "answer"}},
            "generate": {
                "model": model,
                "system_prompt": "Think, then answer in a box.",
                "prefill": "<think>\n",
                "sampling": {"max_tokens": 12, "temperature": 1.0},
            },
            "verify": {"math": {}, "format": {"require_think": True}},
            "grpo": grpo,
        }
    )


def test_rewards_are_the_verifiers_verdicts_on_prefill_plus_completion(tmp_path: Path) -> None:
    from factory.grpo import build_rewards
    from verifiers import VERIFIERS
    from verifiers.configs import FormatConfig, MathConfig

    r = recipe(tmp_path, rewards={"accuracy": 1.0, "format": 0.5, "language": 0.25})
    funcs, weights = build_rewards(r, r.grpo, "<think>\n", max_tokens=12)
    assert [f.__name__ for f in funcs] == ["accuracy_reward", "format_reward", "language_reward"]
    assert weights == [1.0, 0.5, 0.25]
    accuracy, fmt, language = funcs
    completions = [RIGHT, WRONG, OPEN, RIGHT]
    kwargs = {
        "gold": ["5", "5", "5", None],
        "language": ["en"] * 4,
        "completion_ids": [[1] * 5, [1] * 5, [1] * 12, [1] * 5],
    }
    assert accuracy(completions, **kwargs) == [1.0, 0.0, 0.0, None]  # no gold: no opinion (TRL leaves it out)
    assert fmt(completions, **kwargs) == [1.0, 1.0, 0.0, 1.0]
    # the same verdicts as the verify stage gives the traces, whose completion starts with the prefill
    for c, gold in zip(completions[:3], kwargs["gold"], strict=False):
        row = {"completion": "<think>\n" + c, "gold": gold}
        assert accuracy([c], gold=[gold])[0] == float(VERIFIERS["math"](row, MathConfig()).passed)
        assert fmt([c])[0] == float(VERIFIERS["format"](row, FormatConfig()).passed)
    # R1's language reward: the share of target-language words in the reasoning, graded
    en, mixed = language([RIGHT, MIXED], language=["en", "en"])
    assert en == 1.0 and 0.0 < mixed < 1.0
    assert language([MIXED], language=["zh"])[0] > 0.0
    with pytest.raises(RecipeError, match="every weight is 0"):
        r0 = recipe(tmp_path, rewards={"accuracy": 0.0, "format": 0.0, "language": 0.0})
        build_rewards(r0, r0.grpo, "", None)


def test_grpo_config_is_checked_before_any_model_loads(tmp_path: Path, monkeypatch) -> None:
    import factory.models
    from factory.grpo import grpo_arguments, grpo_recipe

    def no_model(spec):
        raise AssertionError("a model was resolved before the config was checked")

    monkeypatch.setattr(factory.models, "resolve_model", no_model)
    with pytest.raises(
        RecipeError, match=r"grpo.config.num_generation: not a trl.GRPOConfig field \(did you mean: .*num_generations"
    ):
        grpo_recipe(recipe(tmp_path, config={"num_generation": 4}))
    with pytest.raises(RecipeError, match="grpo.config.reward_weights: set the weights under grpo.rewards"):
        recipe(tmp_path, config={"reward_weights": [1.0]})
    with pytest.raises(RecipeError, match="grpo.rewards.bogus: unknown key"):
        recipe(tmp_path, rewards={"bogus": 1.0})
    # passed through unchanged; defaults only for what it leaves out (sampling from generate.sampling)
    r = recipe(tmp_path, config={"beta": 0.04, "num_generations": 2, "temperature": 0.5})
    args = grpo_arguments(r.grpo, tmp_path / "out", r.generate.sampling, [1.0, 1.0])
    assert args["beta"] == 0.04 and args["num_generations"] == 2 and args["temperature"] == 0.5
    assert args["max_completion_length"] == 12 and args["reward_weights"] == [1.0, 1.0]
    assert args["use_vllm"] is False and args["use_cpu"] is True  # no GPU here: plain generation
    with pytest.raises(RecipeError, match="use_vllm"):
        grpo_arguments(recipe(tmp_path, config={"use_vllm": True}).grpo, tmp_path / "out", {}, [1.0])


def text_length(completions, **kwargs):
    """Test-only: a reward that tells a random model's completions apart, so some advantage is non-zero."""
    return [len(c) / 100 for c in completions]


@pytest.mark.slow
def test_grpo_on_the_tiny_model_moves_weights_and_is_rewarded_by_the_verifiers(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    import torch
    from safetensors.torch import load_file

    from factory.grpo import REWARD_LOG, SUMMARY_FILE, grpo_recipe
    from verifiers import VERIFIERS
    from verifiers.configs import MathConfig
    from verifiers.rewards import VerdictReward

    calls = []
    real = VerdictReward.__call__

    def spy(self, completions, **kwargs):
        out = real(self, completions, **kwargs)
        calls.append((self.__name__, list(completions), dict(kwargs), out))
        return out

    monkeypatch.setattr(VerdictReward, "__call__", spy)
    torch.manual_seed(0)
    config = {
        "max_steps": 2,
        "per_device_train_batch_size": 4,
        "num_generations": 4,
        "learning_rate": 1e-2,
        "beta": 0.0,
    }
    r = recipe(tmp_path, model=str(tiny_model_dir), config=config)
    summary = grpo_recipe(r, extra_rewards=[text_length])
    out = tmp_path / "run" / "grpo"

    assert summary["steps"] == 2 and summary["generation"] == "transformers generate"
    steps = [json.loads(line) for line in (out / REWARD_LOG).read_text().splitlines()]
    assert len(steps) == 2 and all(math.isfinite(s["loss"]) for s in steps)
    assert (out / "rewards.png").stat().st_size > 0 and (out / SUMMARY_FILE).exists()
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(out / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)

    # every completion was judged by the math verifier against its problem's gold answer, prefill in front
    accuracy = [c for c in calls if c[0] == "accuracy_reward"]
    assert len(accuracy) == 2
    for _, completions, kwargs, rewards in accuracy:
        assert len(completions) == 4 and all(g is not None for g in kwargs["gold"])
        expected = [
            float(VERIFIERS["math"]({"completion": "<think>\n" + c, "gold": g}, MathConfig()).passed)
            for c, g in zip(completions, kwargs["gold"], strict=True)
        ]
        assert rewards == expected
    # and what TRL logged per step is the mean of those verdicts
    for step, (_, _, _, rewards) in zip(steps, accuracy, strict=True):
        assert step["rewards/accuracy_reward/mean"] == pytest.approx(sum(rewards) / len(rewards))
    # the same settings again: the model is reused, not trained again
    assert grpo_recipe(r, extra_rewards=[text_length])["train_loss"] == summary["train_loss"]


@pytest.mark.slow
def test_a_reward_that_is_always_zero_gives_zero_advantages(tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    import torch
    from safetensors.torch import load_file
    from trl import GRPOTrainer

    import factory.grpo

    def always_zero(completions, **kwargs):
        return [0.0] * len(completions)

    monkeypatch.setattr(factory.grpo, "build_rewards", lambda *a, **k: ([always_zero], [1.0]))
    advantages = []
    real = GRPOTrainer._generate_and_score_completions

    def record(self, inputs):
        out = real(self, inputs)
        advantages.append(out["advantages"].detach().clone())
        return out

    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", record)
    config = {
        "max_steps": 2,
        "per_device_train_batch_size": 4,
        "num_generations": 4,
        "learning_rate": 1e-2,
        "beta": 0.0,
    }
    summary = factory.grpo.grpo_recipe(recipe(tmp_path, model=str(tiny_model_dir), config=config))
    assert len(advantages) == 2
    assert all(torch.count_nonzero(a) == 0 for a in advantages)  # reward - group mean = 0 for every completion
    assert summary["frac_reward_zero_std_mean"] == 1.0 and summary["train_loss"] == 0.0
    before, after = (
        load_file(tiny_model_dir / "model.safetensors"),
        load_file(tmp_path / "run" / "grpo" / "model.safetensors"),
    )
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing to learn from: nothing moved
