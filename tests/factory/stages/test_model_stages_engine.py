"""The judge and the rewriter on a real vLLM engine (the tiny random-weight model), after the
teacher's engine on the same machine: the local executor runs them once generation is done."""

import json

import pandas as pd
import pytest

from factory.recipe import parse_recipe
from factory.run import run_recipe

pytestmark = pytest.mark.slow


def test_generate_judge_refine_through_vllm(tiny_model_dir, tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": None if i % 2 else str(2 * i)})
            + "\n"
            for i in range(4)
        )
    )
    engine = {"max_model_len": 1024, "enforce_eager": True}
    model = {"model": str(tiny_model_dir), "sampling": {"max_tokens": 8}, "engine": engine}
    raw = {
        "name": "tiny-judge",
        "run_dir": str(tmp_path / "run"),
        "source": {"path": str(problems), "fields": {"prompt": "problem", "gold": "answer"}, "shard_size": 2},
        "generate": {
            "model": str(tiny_model_dir),
            "n": 2,
            "sampling": {"temperature": 1.0, "max_tokens": 8},
            "engine": engine,
        },
        "verify": {"math": {}, "judge": {**model, "audit": 1.0}},  # every trace is judged: undecided or audit
        "select": {"require": ["math"], "k": 2},
        "refine": {**model, "on_failure": "keep_original"},
    }
    summary = run_recipe(parse_recipe(raw), progress=False)
    judged = pd.read_parquet(tmp_path / "run/judged")
    assert len(judged) == 8 and judged.judge_role.notna().all()
    assert set(judged[judged.gold.isna()].judge_role) == {"undecided"} and set(
        judged[judged.gold.notna()].judge_role
    ) == {"audit"}
    assert (judged.judge_model == str(tiny_model_dir)).all() and judged.judge_raw.notna().all()
    # random weights never write a verdict: never passed, so nothing stands in for the rules
    assert set(judged.judge_reason) <= {"unparseable", "ambiguous"} and not judged.judge_passed.any()
    assert summary.judge.sent == 8 and summary.judge.no_verdict == 4
    refined = pd.read_parquet(tmp_path / "run/refined")
    assert refined[refined.keep].refined_completion.notna().all()
