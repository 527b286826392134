"""Training a student: the render check's refusals, and a real SFT run on the tiny model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.recipe import GenerateConfig, TrainConfig
from factory.records import MESSAGES
from factory.train import RenderCheckError, render_check, train

SYSTEM = "You are a careful math tutor."

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# DeepSeek-R1 style: keeps only what follows </think> in an assistant turn (DeepSeek-R1 issue 633).
STRIPS_THINK = CHATML.replace(
    "message['content'] + '<|im_end|>'",
    "(message['content'].split('</think>')[-1] if message['role'] == 'assistant' else message['content'])"
    " + '<|im_end|>'",
)
# Closes the assistant turn with <|endoftext|> instead of the EOS <|im_end|>.
WRONG_EOS = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' + message['content'] + '<|endoftext|>' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def sft_rows(count: int = 8) -> list[dict]:
    rows = []
    for i in range(count):
        a, b = i + 2, 7
        prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"What is {a} + {b}?"}]
        answer = f"<think>\n{a} plus {b} is {a + b}.\n</think>\n\nThe answer is \\boxed{{{a + b}}}."
        completion = [{"role": "assistant", "content": answer}]
        rows.append(
            {"trace_id": f"p{i}/0", "prompt": prompt, "completion": completion, "messages": prompt + completion}
        )
    return rows


def write_sft(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [("trace_id", pa.string()), ("prompt", MESSAGES), ("completion", MESSAGES), ("messages", MESSAGES)]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "shard-00000.parquet")
    return folder


@pytest.fixture
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_render_check_passes_a_template_that_keeps_the_turn(tokenizer) -> None:
    report = render_check(tokenizer, sft_rows(), max_length=512)
    assert report.ok, report.message()
    assert report.checked == 8 and report.longest > 20


def test_render_check_refuses_without_chat_template(tokenizer) -> None:
    tokenizer.chat_template = None
    report = render_check(tokenizer, sft_rows(), max_length=512)
    assert not report.ok and report.no_chat_template
    assert "no chat template" in report.message()


def test_render_check_refuses_a_template_that_drops_the_reasoning(tokenizer) -> None:
    tokenizer.chat_template = STRIPS_THINK
    report = render_check(tokenizer, sft_rows(), max_length=512)
    assert not report.ok
    assert len(report.lost_reasoning) == 8
    assert "lost their reasoning" in report.message() and "issue 633" in report.message()


def test_render_check_refuses_a_turn_that_does_not_end_in_eos(tokenizer) -> None:
    tokenizer.chat_template = WRONG_EOS
    report = render_check(tokenizer, sft_rows(), max_length=512)
    assert not report.ok and not report.lost_reasoning
    assert len(report.missing_eos) == 8
    assert "<|im_end|>" in report.message()
    # The same template passes when the model's generation config names <|endoftext|> as an EOS too.
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert render_check(tokenizer, sft_rows(), max_length=512, generation_eos=[eot]).ok


def test_render_check_counts_every_row_over_max_length(tokenizer) -> None:
    rows = sft_rows(6)
    rows[2]["completion"] = [
        {"role": "assistant", "content": rows[2]["completion"][0]["content"] + " 1 2 3 4 5 6 7 8 9" * 20}
    ]
    rows[4]["completion"] = [{"role": "assistant", "content": rows[4]["completion"][0]["content"] + " 9 8 7" * 40}]
    short = max(
        len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True, return_dict=True)["input_ids"])
        for r in sft_rows(6)
    )
    report = render_check(tokenizer, rows, max_length=short, sample_rows=1)  # lengths: every row, not the sample
    assert report.too_long == ["p2/0", "p4/0"]
    assert report.longest > short
    assert "2 of 6 rows are longer than train.max_length" in report.message()


def test_train_refuses_before_training(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = write_sft(tmp_path / "sft", sft_rows())
    config = TrainConfig(chat_template=STRIPS_THINK, sft={"max_steps": 1})
    with pytest.raises(RenderCheckError, match="lost their reasoning"):
        train(config, student=str(tiny_model_dir), data=data, output_dir=tmp_path / "student")
    with pytest.raises(RenderCheckError, match="longer than train.max_length=8"):
        train(TrainConfig(max_length=8), student=str(tiny_model_dir), data=data, output_dir=tmp_path / "student")
    empty = write_sft(tmp_path / "empty", [])
    with pytest.raises(ValueError, match="holds no rows"):
        train(TrainConfig(), student=str(tiny_model_dir), data=empty, output_dir=tmp_path / "student")
    assert not (tmp_path / "student").exists()


def test_train_on_a_list_of_sets_takes_their_rows_in_order(tiny_model_dir: Path, tmp_path: Path) -> None:
    first = write_sft(tmp_path / "cold_start", sft_rows(8))
    second = write_sft(tmp_path / "rejection_sample", [{**r, "trace_id": f"q{i}/0"} for i, r in enumerate(sft_rows(4))])
    config = TrainConfig(
        max_length=256, sft={"max_steps": 1, "per_device_train_batch_size": 4, "dataloader_num_workers": 0}
    )
    summary = train(config, student=str(tiny_model_dir), data=[first, second], output_dir=tmp_path / "student")
    assert summary["rows"] == 12 and summary["settings"]["data"] == [str(first), str(second)]
    with pytest.raises(ValueError, match="an empty list"):
        train(config, student=str(tiny_model_dir), data=[], output_dir=tmp_path / "other")
    with pytest.raises(FileNotFoundError, match="nowhere"):  # the missing set is named, before training
        train(config, student=str(tiny_model_dir), data=[first, tmp_path / "nowhere"], output_dir=tmp_path / "other")
    assert not (tmp_path / "other").exists()


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


@pytest.mark.parametrize(
    "lora", [None, {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}], ids=["full", "lora"]
)
def test_train_changes_weights_and_the_student_generates_in_vllm(tiny_model_dir: Path, tmp_path: Path, lora) -> None:
    data = write_sft(tmp_path / "sft", sft_rows())
    config = TrainConfig(
        max_length=256,
        lora=lora,
        sft={"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 5e-3, "dataloader_num_workers": 0},
    )
    out = tmp_path / "student"
    summary = train(config, student=str(tiny_model_dir), data=data, output_dir=out)
    assert summary["steps"] == 4 and summary["rows"] == 8
    assert summary["losses"] and all(math.isfinite(x) for x in summary["losses"])
    assert math.isfinite(summary["train_loss"])
    assert summary["sft_config"]["completion_only_loss"] is True

    before, after = _weights(tiny_model_dir), _weights(out)
    changed = [k for k in before if not (before[k] == after[k]).all()]
    if lora is None:
        assert len(changed) == len(before)  # full fine-tuning moves every tensor
    else:  # the merged adapter moves exactly the targeted projections
        assert changed and all(("q_proj" in k or "v_proj" in k) for k in changed)
    assert json.loads((out / "factory_train.json").read_text())["rows"] == 8
    # A second call with the same rows and settings reuses the student instead of training again.
    assert train(config, student=str(tiny_model_dir), data=data, output_dir=out)["train_loss"] == summary["train_loss"]

    if lora is not None:
        return  # one vLLM start is enough
    from factory.stages.generate import TraceGenerator

    gen = TraceGenerator(
        GenerateConfig(
            model=str(out),
            n=2,
            sampling={"max_tokens": 8, "temperature": 1.0},
            engine={"enforce_eager": True, "max_model_len": 256, "enable_prefix_caching": False},
        )
    )
    try:
        problem = {
            "id": "q1",
            "source": "t",
            "prompt": "What is 3 + 4?",
            "messages": None,
            "gold": "7",
            "tests": None,
            "domain": "math",
            "language": "en",
            "metadata": "{}",
        }
        traces = list(gen.generate([problem]))
    finally:
        gen.close()
    assert len(traces) == 2
    assert all(t["completion_tokens"] > 0 and t["model"] == str(out) for t in traces)


def test_recipes_with_train_and_eval_sections_parse_and_check_keys() -> None:
    from factory.errors import RecipeError
    from factory.recipe import load_recipe

    root = Path(__file__).resolve().parents[2]
    recipe = load_recipe(root / "recipes" / "demo" / "loop.yaml")
    assert recipe.train.student == "embedded:smollm2" and recipe.train.sft["num_train_epochs"] == 2
    assert (
        recipe.eval.problems.path == "data/arith/test.jsonl"
        and recipe.source.path == "data/arith/train.jsonl"
        and recipe.eval.k == [1, 4]
    )
    assert load_recipe(root / "recipes" / "distill" / "r1_qwen_math.yaml").train.student.startswith("Qwen/")
    with pytest.raises(RecipeError, match="train.sft_args: unknown key"):
        load_recipe(root / "recipes" / "demo" / "loop.yaml", ["train.sft_args.x=1"])
    with pytest.raises(RecipeError, match=r"eval.k: 8 is outside 1..eval.n \(4\)"):
        load_recipe(root / "recipes" / "demo" / "loop.yaml", ["eval.k=[1, 8]"])
    with pytest.raises(RecipeError, match="eval.correct"):
        load_recipe(root / "recipes" / "demo" / "loop.yaml", ["eval.correct=[code]"])


def test_sft_arguments_pass_through_with_defaults_only_for_missing_keys(tmp_path: Path) -> None:
    from factory.errors import RecipeError
    from factory.train import sft_arguments

    args = sft_arguments(
        TrainConfig(max_length=300, sft={"learning_rate": 1e-4, "logging_steps": 7}), tmp_path / "student"
    )
    assert args["learning_rate"] == 1e-4 and args["logging_steps"] == 7  # unchanged
    assert args["max_length"] == 300 and args["completion_only_loss"] is True and args["report_to"] == "none"
    assert args["output_dir"] == str(tmp_path / "student-trainer")
    with pytest.raises(RecipeError, match="set train.max_length"):
        sft_arguments(TrainConfig(max_length=300, sft={"max_length": 100}), tmp_path / "student")
