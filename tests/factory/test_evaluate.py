"""Evaluation: the estimators against hand-computed values, metrics on fixed traces, and one real
evaluation of the tiny model through the factory's generator and verifiers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.evaluate import compute_metrics, evaluate, guess_fields, majority_correct, markdown_report, pass_at_k
from factory.recipe import EvalConfig, GenerateConfig, SourceConfig
from verifiers.configs import MathConfig


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (4, 0, 1, 0.0),
        (4, 1, 1, 1 / 4),
        (4, 3, 1, 3 / 4),
        (4, 1, 2, 1 - 3 / 6),  # C(3,2)/C(4,2) = 3/6
        (4, 2, 2, 1 - 1 / 6),  # C(2,2)/C(4,2) = 1/6
        (5, 2, 3, 1 - 1 / 10),  # C(3,3)/C(5,3) = 1/10
        (10, 3, 5, 1 - 21 / 252),  # C(7,5)/C(10,5) = 21/252
        (4, 3, 2, 1.0),  # n - c < k: some correct sample is always drawn
        (4, 4, 4, 1.0),
        (4, 1, 4, 1.0),
        (4, 0, 4, 0.0),
    ],
)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_rejects_impossible_arguments() -> None:
    with pytest.raises(ValueError, match="k=5"):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError, match="c=5"):
        pass_at_k(4, 5, 1)


def test_majority_vote() -> None:
    assert majority_correct([("1/2", True), ("1/2", True), ("3", False)])
    assert not majority_correct([("3", False), ("1/2", True), ("3", False)])
    assert majority_correct([(None, False), (None, False), ("7", True)])  # no-answers do not vote
    assert not majority_correct([("3", False), ("7", True)])  # a tie goes to the answer reached first
    assert majority_correct([("7", True), ("3", False)])
    assert not majority_correct([(None, False), (None, False)])


def _sample(
    pid: str,
    i: int,
    correct: bool,
    vote: str | None,
    *,
    source: str = "s",
    level: str = "1",
    fmt: bool = True,
    reasoning: int | None = 10,
    tokens: int = 20,
    finish: str = "stop",
) -> dict:
    return {
        "problem_id": pid,
        "sample_index": i,
        "source": source,
        "difficulty": level,
        "correct": correct,
        "vote": vote,
        "math_passed": correct,
        "math_reason": "ok" if correct else "wrong_answer",
        "format_passed": fmt,
        "format_reason": "ok" if fmt else "missing_think",
        "reasoning_tokens": reasoning,
        "completion_tokens": tokens,
        "finish_reason": finish,
    }


def fixed_traces() -> list[dict]:
    # p1: 1 of 4 correct; p2: 3 of 4; p3: 0 of 4 (another source and level, one truncated)
    rows = [
        _sample("p1", 0, False, "5"),
        _sample("p1", 1, True, "6"),
        _sample("p1", 2, False, "5"),
        _sample("p1", 3, False, None, fmt=False, reasoning=None),
        _sample("p2", 3, True, "2"),
        _sample("p2", 0, True, "2"),
        _sample("p2", 1, False, "3"),
        _sample("p2", 2, True, "2"),
    ]
    rows += [_sample("p3", i, False, "9", source="t", level="2", reasoning=30, tokens=40) for i in range(3)]
    rows.append(
        _sample("p3", 3, False, None, source="t", level="2", fmt=False, reasoning=None, tokens=192, finish="length")
    )
    return rows


def test_metrics_on_fixed_traces() -> None:
    m = compute_metrics(fixed_traces(), ks=[1, 2, 4], verifiers=["math", "format"])
    assert m["problems"] == 3 and m["samples"] == 12
    assert m["pass@1"] == pytest.approx((1 / 4 + 3 / 4 + 0) / 3)
    assert m["pass@2"] == pytest.approx(((1 - 3 / 6) + 1.0 + 0.0) / 3)
    assert m["pass@4"] == pytest.approx(2 / 3)
    # maj@4: p1 votes 5,6,5 -> 5 (wrong); p2 votes 2,3,2,2 -> 2 (right); p3 -> 9 (wrong)
    assert m["maj@4"] == pytest.approx(1 / 3)
    # maj@1 is the first sample (by sample_index): p1 wrong, p2 right, p3 wrong
    assert m["maj@1"] == pytest.approx(1 / 3)
    assert m["format"] == pytest.approx(10 / 12)
    assert m["reasoning_tokens_mean"] == pytest.approx((7 * 10 + 3 * 30) / 10)
    assert m["samples_with_reasoning"] == 10
    assert m["truncated"] == pytest.approx(1 / 12)
    assert m["verifiers"]["math"]["reasons"] == {"wrong_answer": 8, "ok": 4}
    assert set(m["by_source"]) == {"s", "t"}
    assert m["by_source"]["s"]["pass@1"] == pytest.approx(0.5)
    assert m["by_difficulty"]["2"]["pass@1"] == 0.0 and m["by_difficulty"]["2"]["problems"] == 1
    assert m["per_problem"]["p2"] == {"n": 4, "correct": 3, "source": "s"}
    report = markdown_report(m)
    assert "| all | 3 | 12 | 33.3 |" in report and "## By difficulty" in report


def test_report_leaves_out_the_difficulty_table_when_no_problem_has_one() -> None:
    rows = [dict(r, difficulty="unknown") for r in fixed_traces()]
    m = compute_metrics(rows, ks=[1], verifiers=["math"])
    assert set(m["by_difficulty"]) == {"unknown"}
    report = markdown_report(m)
    assert "## By difficulty" not in report and "## By source" in report


def test_guess_fields(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"id": "a", "problem": "1+1?", "answer": "2"}) + "\n")
    assert guess_fields(f) == {"prompt": "problem", "gold": "answer"}
    f.write_text(json.dumps({"id": "a", "prompt": "1+1?", "gold": "2"}) + "\n")
    assert guess_fields(f) == {}


def test_evaluate_the_tiny_model_end_to_end(tiny_model_dir: Path, tmp_path: Path) -> None:
    problems = tmp_path / "held_out.jsonl"
    rows = [{"id": f"q{i}", "problem": f"What is {i} + 1?", "answer": str(i + 1), "level": 1 + i % 2} for i in range(3)]
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    generate = GenerateConfig(
        system_prompt="Think, then answer.",
        prefill="<think>\n",
        seed=1,
        sampling={"max_tokens": 12, "temperature": 1.0},
        engine={"enforce_eager": True, "max_model_len": 256, "enable_prefix_caching": False},
    )
    config = EvalConfig(
        problems=SourceConfig(path=str(problems), fields={"prompt": "problem", "gold": "answer"}), n=3, k=[1, 3]
    )
    out = tmp_path / "eval"
    m = evaluate(
        str(tiny_model_dir), generate=generate, config=config, verify={"math": {}, "format": {}}, output_dir=out
    )
    assert m["problems"] == 3 and m["samples"] == 9
    assert 0.0 <= m["pass@1"] <= m["pass@3"] <= 1.0
    assert set(m["by_difficulty"]) == {"1", "2"}
    assert m["settings"]["n"] == 3 and m["settings"]["generate"]["prefill"] == "<think>\n"
    import pandas as pd

    samples = pd.read_parquet(out / "samples.parquet")
    assert len(samples) == 9 and {"correct", "math_reason", "format_reason", "prompt_text"} <= set(samples.columns)
    assert samples["prompt_text"].str.endswith("<think>\n").all()  # the generator's rendering, prefill included
    assert "pass@3" in (out / "report.md").read_text()
    # Same settings: read back, not regenerated.
    (out / "samples.parquet").unlink()
    assert (
        evaluate(
            str(tiny_model_dir), generate=generate, config=config, verify={"math": {}, "format": {}}, output_dir=out
        )
        == m
    )
    assert not (out / "samples.parquet").exists()


def test_loop_comparison_is_paired_over_problems() -> None:
    from factory.loop import compare, loop_markdown

    before = compute_metrics(fixed_traces(), ks=[1, 4], verifiers=["math", "format"])
    improved = [dict(r, correct=True, vote="ok") if r["problem_id"] == "p3" else r for r in fixed_traces()]
    after = compute_metrics(improved, ks=[1, 4], verifiers=["math", "format"])
    settings = {
        "model": "m",
        "n": 4,
        "problems": {"path": "held_out.jsonl"},
        "generate": {"sampling": {"max_tokens": 8}},
    }
    before["settings"], after["settings"] = settings, settings
    result = compare(before, after)
    assert result["problems"] == 3 and result["samples_before"] == result["samples_after"] == 12
    # p3 went from 0/4 to 4/4, the others did not move: mean paired difference 1/3
    assert result["delta_pass@1"] == pytest.approx(1 / 3)
    # sample stdev of [0, 0, 1] is sqrt(1/3); over sqrt(3) problems that is 1/3
    assert result["delta_pass@1_stderr"] == pytest.approx((1 / 3) ** 0.5 / 3**0.5)
    assert result["problems_improved"] == 1 and result["problems_worse"] == 0
    result.update(
        recipe="r",
        data={"kept": 5, "problems_with_kept": 2, "problems": 3, "traces": 12},
        train={"steps": 2, "train_loss": 1.0},
    )
    md = loop_markdown(result, before, after)
    assert "| pass@1 | 33.3 | 66.7 | +33.3 |" in md and "+33.3 points" in md
    assert "| t | 1 | 0.0 | 100.0 |" in md  # by source: p3 is source t
    assert "| 2 | 1 | 0.0 | 100.0 |" in md  # by difficulty: p3 is level 2


def test_eval_command_maps_its_arguments(tmp_path: Path, capsys, monkeypatch) -> None:
    import yaml

    import factory.cli
    from factory.cli import main

    calls = []

    def fake_evaluate(model, *, generate, config, verify, output_dir, reuse):  # the engine is tested above
        calls.append(dict(model=model, generate=generate, config=config, verify=verify, output_dir=output_dir))
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_dir) / "report.md").write_text("pass@1 42")
        return {}

    monkeypatch.setattr(factory.cli, "evaluate", fake_evaluate)  # the name the command calls
    problems = tmp_path / "held_out.jsonl"
    problems.write_text(json.dumps({"id": "q0", "question": "1 + 1?", "answer": "2"}) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "t",
                "source": {"path": str(problems)},
                "run_dir": str(tmp_path / "run"),
                "generate": {"prefill": "<think>\n", "sampling": {"max_tokens": 6, "temperature": 0.7}},
                "verify": {"math": {}},
                "eval": {"n": 4, "k": [1, 4], "sampling": {"temperature": 0.6}},
            }
        )
    )
    # --problems without --field: `question`/`answer` are recognised; --n 2 replaces the k=4 it drops by k=2
    args = [
        "eval",
        "--recipe",
        str(recipe),
        "--model",
        "m",
        "--problems",
        str(problems),
        "--n",
        "2",
        "--max-tokens",
        "9",
    ]
    assert main(args) == 0
    call = calls[-1]
    assert call["config"].n == 2 and call["config"].k == [1, 2]
    assert call["config"].problems.fields == {"prompt": "question", "gold": "answer"}
    assert call["config"].sampling == {"temperature": 0.6, "max_tokens": 9}
    assert call["generate"].prefill == "<think>\n" and call["verify"] == {"math": MathConfig()}
    assert Path(call["output_dir"]) == tmp_path / "run" / "eval" / "m"
    assert "pass@1 42" in capsys.readouterr().out
    # Without a recipe: default verifiers; explicit --field mapping wins over guessing.
    assert (
        main(
            [
                "eval",
                "--model",
                "m",
                "--problems",
                str(problems),
                "--field",
                "prompt=question",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert calls[-1]["verify"] == {"math": {}, "format": {}} and calls[-1]["config"].problems.fields == {
        "prompt": "question"
    }
    # --limit also cuts the recipe's own eval.problems (it was ignored there once)
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "t",
                "source": {"path": str(problems)},
                "run_dir": str(tmp_path / "run"),
                "verify": {"math": {}},
                "eval": {"problems": {"path": str(problems), "limit": 50}},
            }
        )
    )
    assert main(["eval", "--recipe", str(recipe), "--model", "m", "--limit", "3"]) == 0
    assert calls[-1]["config"].problems.limit == 3 and calls[-1]["config"].problems.path == str(problems)


def test_evaluate_refuses_bad_settings(tmp_path: Path) -> None:
    kwargs = dict(generate=GenerateConfig(), verify={"math": {}}, output_dir=tmp_path)
    with pytest.raises(ValueError, match="eval.problems"):
        evaluate("m", config=EvalConfig(), **kwargs)
    problems = SourceConfig(path=str(tmp_path / "p.jsonl"))
    with pytest.raises(ValueError, match="eval.correct: 'format'"):
        evaluate("m", config=EvalConfig(problems=problems, correct=["math", "format"]), **kwargs)
    with pytest.raises(ValueError, match="eval.k"):
        evaluate("m", config=EvalConfig(problems=problems, n=2, k=[4]), **kwargs)
