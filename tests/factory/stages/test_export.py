"""The exported SFT set opens in pandas, `datasets` and TRL's SFTTrainer with no glue code."""

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fakes import recipe_for

import factory.run as factory_run
from factory.recipe import ExportConfig, SelectConfig
from factory.records import LenientRow, sft_row
from factory.report import write_report
from factory.stages.base import StageStats
from factory.stages.export import PairWriter
from verifiers import VERIFIERS


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    factory_run.run_recipe(recipe_for(tmp), progress=False)
    return tmp / "run" / "export" / "sft"


def test_pandas(sft_dir):
    df = pd.read_parquet(sft_dir)
    assert len(df) > 0 and df.messages.map(len).eq(2).all()


def test_sft_rows_carry_the_reasoning_and_the_answer_apart(sft_dir):
    df = pd.read_parquet(sft_dir)
    for row in df.itertuples():
        assert row.reasoning.startswith("Let me work it out") and row.answer.startswith("The answer is \\boxed{")
        assert row.completion[0]["content"] == f"<think>\n{row.reasoning}\n</think>\n\n{row.answer}"
    # a turn without a think block: no reasoning, the whole turn is the answer
    chat = [{"role": "user", "content": "q"}]
    trace = LenientRow(prompt_messages=chat, few_shot_turns=0, reasoning=None, answer="42")
    assert {k: sft_row(trace)[k] for k in ("reasoning", "answer")} == {"reasoning": None, "answer": "42"}


def test_datasets(sft_dir):
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(sft_dir / "*.parquet"), split="train")
    assert ds.num_rows == len(pd.read_parquet(sft_dir))
    assert ds[0]["completion"][0]["role"] == "assistant"
    assert ds[0]["messages"][-1]["content"] == ds[0]["completion"][0]["content"]


@pytest.mark.slow
def test_trl_sft_trainer_trains_on_the_completion_only(sft_dir, tiny_model_dir, tmp_path):
    import datasets
    from trl import SFTConfig, SFTTrainer

    ds = datasets.load_dataset("parquet", data_files=str(sft_dir / "*.parquet"), split="train")
    trainer = SFTTrainer(
        model=str(tiny_model_dir),
        train_dataset=ds,
        args=SFTConfig(
            output_dir=str(tmp_path / "out"),
            max_steps=2,
            per_device_train_batch_size=2,
            report_to="none",
            use_cpu=True,
            logging_steps=1,
            save_strategy="no",
        ),
    )
    batch = trainer.data_collator([trainer.train_dataset[0]])
    labels = batch["labels"][0]
    assert (labels == -100).any() and (labels != -100).any()  # prompt masked, completion trained
    result = trainer.train()
    assert result.training_loss == result.training_loss and result.training_loss > 0  # finite


# -- preference pairs (export.pairs) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def paired_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pairs")
    recipe = recipe_for(tmp)
    recipe = dataclasses.replace(
        recipe,
        generate=dataclasses.replace(recipe.generate, n=8),
        export=ExportConfig(pairs=True, max_pairs_per_problem=2),
    )
    summary = factory_run.run_recipe(recipe, progress=False)
    return summary, tmp / "run"


def test_each_chosen_passes_the_verifiers_and_each_rejected_fails_them(paired_run):
    summary, run = paired_run
    pairs = pd.read_parquet(run / "export" / "pairs")
    assert len(pairs) == summary.pairs > 0
    for row in pairs.itertuples():
        chosen, rejected = row.chosen[0]["content"], row.rejected[0]["content"]
        assert row.chosen[0]["role"] == row.rejected[0]["role"] == "assistant"
        assert VERIFIERS["math"]({"completion": chosen, "gold": row.gold}).passed
        assert VERIFIERS["format"]({"completion": chosen}).passed
        assert not VERIFIERS["math"]({"completion": rejected, "gold": row.gold}).passed
        assert row.rejected_reason == "math:wrong_answer" and chosen != rejected
        assert row.prompt[-1]["role"] == "user" and row.problem_id in row.chosen_trace_id


def test_pairs_follow_the_policy(paired_run):
    _, run = paired_run
    pairs = pd.read_parquet(run / "export" / "pairs")
    traces = pd.read_parquet(run / "selected")
    passing = traces[traces.math_passed & traces.format_passed]
    wrong = traces[~traces.math_passed & (traces.finish_reason != "length")]
    expected = {  # min(passing, wrong, cap) for each problem: a pair only where both sides exist
        pid: min(len(passing[passing.problem_id == pid]), len(wrong[wrong.problem_id == pid]), 2)
        for pid in traces.problem_id.unique()
    }
    assert pairs.groupby("problem_id").size().to_dict() == {p: n for p, n in expected.items() if n}
    assert any(n == 2 for n in expected.values())
    truncated = set(traces[traces.finish_reason == "length"].trace_id)
    assert truncated and not truncated & set(pairs.rejected_trace_id)  # cut off is not wrong
    for pid, group in pairs.groupby("problem_id"):  # the shortest passing traces, in order; each trace once
        shortest = passing[passing.problem_id == pid].sort_values(["completion_tokens", "sample_index"])
        assert list(group.chosen_trace_id) == list(shortest.trace_id[: len(group)])
        assert list(group.pair_index) == list(range(len(group)))
        assert group.rejected_trace_id.is_unique


def test_the_card_lists_the_pairs_as_a_config_of_their_own(paired_run):
    summary, run = paired_run
    card = Path(write_report(run))
    head = yaml.safe_load(card.read_text().split("---")[1])
    assert head["configs"][1] == {
        "config_name": "pairs",
        "data_files": [{"split": "train", "path": "export/pairs/*.parquet"}],
    }
    assert f"{summary.pairs} preference pairs" in card.read_text()


def test_only_answer_verdicts_make_negatives():
    writer = PairWriter(SelectConfig(), ["math", "format"], max_pairs=3)

    def trace(i, math, fmt=True, finish="stop", problem="p"):
        kept = math and fmt and i != 1
        return LenientRow(
            {"trace_id": f"{problem}/{i}", "problem_id": problem, "sample_index": i, "completion_tokens": 10 - i},
            finish_reason=finish,
            prompt_messages=[{"role": "user", "content": "q"}],
            few_shot_turns=0,
            reasoning="r",
            answer=f"a{i}",
            math_passed=math,
            math_reason="ok" if math else "wrong_answer",
            format_passed=fmt,
            format_reason="ok" if fmt else "missing_think",
            keep=kept,
            reject_reason=None if kept else "over_k",
        )

    rows = [
        trace(0, True),
        trace(1, True),  # over k: still a chosen side
        trace(2, True, fmt=False),  # a right answer badly written: neither side
        trace(3, False, finish="length"),  # cut off: not a negative
        trace(4, False, fmt=False),  # wrong, whatever its format
        trace(0, True, problem="q"),  # no wrong trace: no pair
        trace(1, False, finish="length", problem="q"),
    ]
    pairs = list(writer.run(rows, stats := StageStats()))
    assert [(p["chosen_trace_id"], p["rejected_trace_id"]) for p in pairs] == [("p/1", "p/4")]
    assert stats.rows_out == 1 and stats.counters["problems_with_pairs"] == 1 and stats.counters["no_rejected"] == 1


@pytest.mark.slow
def test_trl_dpo_trainer_reads_the_pairs_and_moves_the_weights(paired_run, tiny_model_dir, tmp_path):
    import datasets
    from safetensors.torch import load_file
    from trl import DPOConfig, DPOTrainer

    _, run = paired_run
    ds = datasets.load_dataset("parquet", data_files=str(run / "export" / "pairs" / "*.parquet"), split="train")
    trainer = DPOTrainer(
        model=str(tiny_model_dir),
        train_dataset=ds,
        args=DPOConfig(
            output_dir=str(tmp_path / "out"),
            max_steps=3,
            per_device_train_batch_size=4,
            learning_rate=5e-3,
            report_to="none",
            use_cpu=True,
            logging_steps=1,
            save_strategy="no",
            dataloader_num_workers=0,
        ),
    )
    result = trainer.train()
    assert result.training_loss == result.training_loss  # finite
    trainer.save_model(str(tmp_path / "dpo"))
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(tmp_path / "dpo" / "model.safetensors")
    assert any(not (before[k] == after[k]).all() for k in before)
