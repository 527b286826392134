"""One run, many domains: the shipped code and mixed recipes, and routing through the pipeline."""

import json
from pathlib import Path

import pandas as pd
import pytest

import factory.run as factory_run
from factory.recipe import load_recipe, parse_recipe
from verifiers.sandbox import bwrap_path

ROOT = Path(__file__).resolve().parents[2]
needs_sandbox = pytest.mark.skipif(
    bwrap_path() is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)

RIGHT_MATH = "<think>\n26 + 8 = 34.\n</think>\nThe answer is \\boxed{34}."
RIGHT_CODE = "<think>\nAdd the two numbers.\n</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```"


@needs_sandbox
def test_a_mixed_file_becomes_one_sft_set_with_each_trace_judged_by_its_verifier(tmp_path):
    rows = [json.loads(line) for line in (ROOT / "data/mixed/train.jsonl").read_text().splitlines()[:2]]
    assert [r["id"] for r in rows] == ["add_teen-001", "stdio-sum_two"]  # 26 + 8, and a + b from stdin
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = parse_recipe(
        {
            "name": "mixed",
            "run_dir": str(tmp_path / "run"),
            "source": {"path": str(src), "fields": {"prompt": "problem", "gold": "answer"}},
            # every problem gets both answers: the one its verifier can judge is right, the other does not apply
            "generate": {"n": 2, "backend": "fake", "engine": {"completions": [RIGHT_MATH, RIGHT_CODE]}},
            "verify": {"math": {}, "code": {}, "format": {}},
        }
    )
    summary = factory_run.run_recipe(recipe, progress=False)
    sel = pd.read_parquet(tmp_path / "run/selected").set_index("trace_id")
    assert (
        sel.loc["add_teen-001/0", "math_reason"] == "ok"
        and sel.loc["add_teen-001/0", "code_reason"] == "not_applicable"
    )
    assert (
        sel.loc["stdio-sum_two/1", "code_reason"] == "ok"
        and sel.loc["stdio-sum_two/1", "math_reason"] == "not_applicable"
    )
    assert sel.loc["stdio-sum_two/0", "reject_reason"] == "code:no_code"  # a boxed number is no program
    assert sel.loc["add_teen-001/1", "reject_reason"] == "math:no_final_answer_after_think"
    sft = pd.read_parquet(tmp_path / "run/export/sft")
    assert sorted(sft.trace_id) == ["add_teen-001/0", "stdio-sum_two/1"] and set(sft.domain) == {"math", "code"}
    assert summary.pass_rate_by_domain["math"] == {"math": 0.5} and summary.pass_rate_by_domain["code"] == {"code": 0.5}
    assert summary.not_applicable == {"math": 2, "code": 2, "format": 0}


def test_a_trace_no_answer_verifier_applies_to_is_a_visible_reject(tmp_path):
    src = tmp_path / "stem.jsonl"
    src.write_text(json.dumps({"id": "s1", "problem": "Why is the sky blue?", "domain": "stem"}) + "\n")
    recipe = parse_recipe(
        {
            "name": "stem",
            "run_dir": str(tmp_path / "run"),
            "source": {"path": str(src), "fields": {"prompt": "problem"}},
            "generate": {
                "n": 2,
                "backend": "fake",
                "engine": {"completions": ["<think>\nRayleigh.\n</think>\nScattering."]},
            },
            "verify": {"math": {}, "format": {}},
        }
    )
    summary = factory_run.run_recipe(recipe, progress=False)
    assert summary.kept == 0 and summary.reject_reasons == {"no_answer_verifier": 2}


@needs_sandbox
@pytest.mark.slow
@pytest.mark.parametrize("name", ["code", "mixed"])
def test_the_shipped_recipe_runs_through_the_engine(name, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the recipe's data path is relative to the repository
    recipe = load_recipe(
        ROOT / f"recipes/demo/{name}.yaml",
        [
            f"generate.model={tiny_model_dir}",
            "generate.n=2",
            "generate.sampling.max_tokens=16",
            "source.limit=4",
            f"run_dir={tmp_path / 'run'}",
            "generate.engine.enforce_eager=true",
            "generate.engine.max_model_len=2048",
        ],
    )
    summary = factory_run.run_recipe(recipe, progress=False)
    assert summary.traces == 8 and summary.kept + summary.rejected == 8
    sel = pd.read_parquet(tmp_path / "run/selected")
    assert (sel[sel.domain == "code"].code_reason != "not_applicable").all()
    if name == "mixed":
        assert set(sel.domain) == {"math", "code"}
        assert (sel[sel.domain == "math"].code_reason == "not_applicable").all()
        assert (sel[sel.domain == "code"].math_reason == "not_applicable").all()
    assert (tmp_path / "run/README.md").exists()  # the dataset card is written at the end of every run
