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


# -- the prompts that can teach (grpo.prompts) and zero-variance groups ---------------------------------


def write_scores(run: Path, rates: dict[str, float]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (run / "problems_scored").mkdir(parents=True)
    table = pa.Table.from_pylist([{"problem_id": p, "pass_rate": r} for p, r in rates.items()])
    pq.write_table(table, run / "problems_scored" / "shard-00000.parquet")
    return run


def test_prompts_are_chosen_by_their_measured_pass_rate(tmp_path: Path) -> None:
    from factory.grpo import select_prompts

    run = write_scores(tmp_path / "scored", {"p0": 0.0, "p1": 0.25, "p2": 0.75, "p3": 1.0})
    rows = [{"problem_id": f"p{i}", "prompt": "q"} for i in range(5)]  # p4 was not scored
    chosen, counts = select_prompts(rows, run, [0.25, 0.75])
    assert [r["problem_id"] for r in chosen] == ["p1", "p2"]  # the band is inclusive
    assert {k: counts[k] for k in ("problems", "selected", "below", "above", "unscored")} == {
        "problems": 5,
        "selected": 2,
        "below": 1,
        "above": 1,
        "unscored": 1,
    }
    with pytest.raises(ValueError, match=r"no problem of 5 has a pass rate within \[0.3, 0.7\]"):
        select_prompts(rows, run, [0.3, 0.7])


def test_prompt_selection_is_checked_when_the_recipe_loads(tmp_path: Path) -> None:
    r = recipe(tmp_path, prompts={"pass_rate": [0.1, 0.9], "from": "somewhere"}, zero_variance="filter")
    assert r.grpo.prompts.from_ == "somewhere" and r.grpo.prompts.pass_rate == [0.1, 0.9]
    with pytest.raises(RecipeError, match=r"grpo.prompts.pass_rate: 0.9 is above 0.1"):
        recipe(tmp_path, prompts={"pass_rate": [0.9, 0.1]})
    with pytest.raises(RecipeError, match=r"grpo.prompts.pass_rate\[1\]: 2.0 is outside 0..1"):
        recipe(tmp_path, prompts={"pass_rate": [0, 2]})
    with pytest.raises(RecipeError, match=r"grpo.prompts.form: unknown key \(known: pass_rate, from\)"):
        recipe(tmp_path, prompts={"form": "x"})
    with pytest.raises(RecipeError, match="grpo.zero_variance: 'drop' is not one of keep, filter"):
        recipe(tmp_path, zero_variance="drop")


def test_scoring_first_is_a_data_run_of_the_student(tmp_path: Path) -> None:
    import dataclasses

    from factory.grpo import grpo_paths, scored_run, select_prompts
    from factory.recipe import GrpoPrompts

    r = recipe(tmp_path, problems=10, prompts={"pass_rate": [0.25, 0.75]})
    r = dataclasses.replace(r, generate=dataclasses.replace(r.generate, backend="fake", n=4))
    config, _, problems, out = grpo_paths(r)
    run = scored_run(r, config.prompts, "student-folder", problems, out)
    assert run == tmp_path / "run" / "grpo-scored"
    assert json.loads((run / "recipe.json").read_text())["generate"]["model"] == "student-folder"
    rows = [{"problem_id": f"p{i}"} for i in range(10)]
    chosen, counts = select_prompts(rows, run, [0.25, 0.75])
    assert 0 < counts["selected"] < 10 and counts["unscored"] == 0
    with pytest.raises(RecipeError, match="is not a finished data run"):
        scored_run(r, GrpoPrompts(from_=str(tmp_path / "nowhere")), "student-folder", problems, out)


@pytest.mark.slow
def test_grpo_on_chosen_prompts_filters_zero_variance_groups_with_kl_to_the_start(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    import torch
    from trl import GRPOTrainer

    import factory.grpo

    seen: list[str] = []

    def flat_on_p0(completions, problem_id, **kwargs):  # p0's group: all equal; p1's: told apart by length
        seen.extend(problem_id)
        return [0.0 if p == "p0" else len(c) / 100 for c, p in zip(completions, problem_id, strict=True)]

    monkeypatch.setattr(factory.grpo, "build_rewards", lambda *a, **k: ([flat_on_p0], [1.0]))
    masked = []
    real = GRPOTrainer._compute_loss

    def record(self, model, inputs):
        masked.append(int((inputs["completion_mask"].sum(dim=1) == 0).sum()))
        return real(self, model, inputs)

    monkeypatch.setattr(GRPOTrainer, "_compute_loss", record)
    run = write_scores(tmp_path / "scored", {"p0": 0.5, "p1": 0.25, "p2": 0.0, "p3": 1.0})
    config = {"max_steps": 2, "per_device_train_batch_size": 8, "num_generations": 4, "beta": 0.04}
    torch.manual_seed(0)
    r = recipe(
        tmp_path,
        model=str(tiny_model_dir),
        config=config,
        prompts={"pass_rate": [0.2, 0.8], "from": str(run)},
        zero_variance="filter",
    )
    summary = factory.grpo.grpo_recipe(r)
    assert set(seen) == {"p0", "p1"}  # only the prompts the student solves sometimes
    assert summary["prompt_selection"]["selected"] == 2 and summary["prompts"] == 2
    assert summary["groups"] == 4 and summary["zero_variance_groups"] == 2  # p0's group in each step
    assert sum(masked) == 2 * 4  # and its 4 completions were out of the loss, each time
    assert summary["beta"] == 0.04 and summary["reference_model"] == str(tiny_model_dir)
    steps = [json.loads(line) for line in (tmp_path / "run" / "grpo" / "rewards.jsonl").read_text().splitlines()]
    assert all("kl" in s and math.isfinite(s["kl"]) for s in steps)
