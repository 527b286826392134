"""The refine step: kept traces rewritten by a (fake, scripted) rewriter and verified again; a
rewrite that changes the answer or breaks the format is refused with a reason, both versions kept."""

import json

import pandas as pd
import pytest
from fakes import recipe_for

import factory.run as factory_run
from factory.errors import RecipeError
from factory.recipe import parse_recipe

RIGHT = "<think>\nDouble it: {a}.\n</think>\nSo the answer is \\boxed{{{a}}}."


def refined_recipe(tmp_path, replies, **refine):
    recipe = recipe_for(tmp_path, k=1)
    raw = json.loads(json.dumps(recipe.to_dict(), default=str))
    raw["refine"] = {"backend": "fake", "engine": {"replies": replies}, **refine}
    raw["select"] = {k: v for k, v in raw["select"].items() if v is not None}
    for key in ("train", "eval", "judge"):
        raw.pop(key, None)
    return parse_recipe(raw)


def replies_for(answers):
    """The rewriter's reply per problem: its prompt holds the problem's text."""
    return {f"What is {i} + {i}?": text for i, text in answers.items()}


def test_a_rewrite_that_keeps_the_answer_replaces_the_trace_in_the_export(tmp_path):
    summary = factory_run.run_recipe(
        refined_recipe(tmp_path, replies_for({i: RIGHT.format(a=2 * i) for i in range(10)})), progress=False
    )
    sft = pd.read_parquet(tmp_path / "run/export/sft")
    refined = pd.read_parquet(tmp_path / "run/refined")
    assert len(sft) == summary.kept > 0 and summary.refine.refined == len(sft)
    assert summary.problems_with_kept == sft.problem_id.nunique()
    for _, r in sft.iterrows():
        i = int(r.problem_id[1:])
        assert (
            r.completion[0]["content"]
            == f"<think>\nDouble it: {2 * i}.\n</think>\n\nSo the answer is \\boxed{{{2 * i}}}."
        )
        assert r.original_completion.startswith("<think>\nLet me work it out")  # the sampled version travels with it
    kept = refined[refined.keep]
    assert (kept.refine_reason == "ok").all() and (kept.refined_completion == kept.completion).all()
    assert (kept.refine_model == "fake").all() and kept.refine_prompt_hash.str.len().eq(12).all()
    assert refined[~refined.keep].refined_completion.isna().all()  # only kept traces are sent


def test_a_rewrite_that_changes_the_answer_is_rejected_with_both_versions(tmp_path):
    replies = replies_for({i: RIGHT.format(a=2 * i + 1) for i in range(10)})  # every rewrite is off by one
    summary = factory_run.run_recipe(refined_recipe(tmp_path, replies), progress=False)
    assert summary.kept == 0 and len(pd.read_parquet(tmp_path / "run/export/sft")) == 0
    assert summary.problems_with_kept == 0
    rejected = pd.read_parquet(tmp_path / "run/export/rejected")
    changed = rejected[rejected.reject_reason == "refine:answer_changed"]
    assert len(changed) == summary.refine.refused["answer_changed"] > 0
    for _, r in changed.iterrows():
        i = int(r.problem_id[1:])
        assert r.original_completion == r.completion and r.completion.endswith(f"\\boxed{{{2 * i}}}.")  # as sampled
        assert r.refined_completion.endswith(f"\\boxed{{{2 * i + 1}}}.")  # the refused rewrite
        details = json.loads(r.refine_details)
        assert (
            details["verifier"] == "math"
            and details["reason"] == "wrong_answer"
            and details["extracted"] == str(2 * i + 1)
        )
    assert summary.reject_reasons["refine:answer_changed"] == len(changed)
    assert "## Refinement" in (tmp_path / "run/README.md").read_text()


def test_a_rewrite_that_breaks_the_format_is_rejected_or_the_original_kept(tmp_path):
    broken = replies_for({i: f"The answer is \\boxed{{{2 * i}}}." for i in range(10)})  # right answer, no think block
    summary = factory_run.run_recipe(refined_recipe(tmp_path, broken), progress=False)
    rejected = pd.read_parquet(tmp_path / "run/export/rejected")
    formats = rejected[rejected.reject_reason == "refine:format_broken"]
    assert len(formats) > 0 and summary.kept == 0
    assert {json.loads(d)["verifier"] for d in formats.refine_details} == {"format"}

    other = tmp_path / "keep"
    other.mkdir()
    summary = factory_run.run_recipe(refined_recipe(other, broken, on_failure="keep_original"), progress=False)
    sft = pd.read_parquet(other / "run/export/sft")
    assert len(sft) == summary.kept == len(formats) and summary.refine.kept_original == len(sft)
    assert sft.completion.map(lambda c: c[0]["content"].startswith("<think>\nLet me work it out")).all()
    assert sft.original_completion.isna().all()  # the exported completion is the sampled one


def test_a_changed_refine_redoes_only_refine_and_export(tmp_path):
    factory_run.run_recipe(refined_recipe(tmp_path, replies_for({0: RIGHT.format(a=0)})), progress=False)
    summary = factory_run.run_recipe(
        refined_recipe(tmp_path, replies_for({0: RIGHT.format(a=0)}), form="cot"), progress=False
    )
    assert summary.redone == ["refine", "export_sft", "export_rejected"]


def test_refine_keys_are_checked(tmp_path):
    base = {"name": "t", "source": {"path": "x"}, "verify": {"math": {}}}
    with pytest.raises(RecipeError, match=r"refine\.style: unknown key"):
        parse_recipe({**base, "refine": {"backend": "fake", "style": "r1"}})
    with pytest.raises(RecipeError, match=r"refine\.form: 'long' is not one of r1, cot"):
        parse_recipe({**base, "refine": {"backend": "fake", "form": "long"}})
    with pytest.raises(RecipeError, match=r"refine\.prompt: 'response' is not a field"):
        parse_recipe({**base, "refine": {"backend": "fake", "prompt": "Rewrite {response}"}})
    with pytest.raises(RecipeError, match=r"refine\.sampling\.temprature: not an argument of the installed vLLM"):
        parse_recipe({**base, "refine": {"sampling": {"temprature": 0}}})


def test_where_the_judge_decided_the_rewrite_must_keep_the_final_answer():
    from factory.stages.base import StageStats
    from factory.stages.refine import TraceRefiner

    recipe = parse_recipe(
        {
            "name": "t",
            "source": {"path": "x"},
            "verify": {"math": {}, "format": {}},
            "refine": {
                "backend": "fake",
                "engine": {
                    "replies": {
                        # the same answer, boxed
                        "even number": "<think>\n12 is even.\n</think>\nSo the answer is \\boxed{12}.",
                        "prime": "<think>\n91 = 7 x 13.\n</think>\nThe answer is \\boxed{no}.",  # a different one
                    }
                },
            },
        }
    )
    stage = TraceRefiner(recipe.refine, recipe.verify)

    def row(i, question, completion):
        return {
            "trace_id": f"o{i}/0",
            "problem_id": f"o{i}",
            "domain": "open",
            "gold": None,
            "tests": None,
            "prompt_messages": [{"role": "user", "content": question}],
            "completion": completion,
            "reasoning": "r",
            "answer": completion.split("</think>")[-1],
            "finish_reason": "stop",
            "completion_tokens": 9,
            "math_passed": None,
            "math_reason": "not_applicable",
            "math_details": None,
            "format_passed": True,
            "format_reason": "ok",
            "judge_passed": True,
            "judge_reason": "ok",
            "judge_role": "undecided",
            "keep": True,
            "reject_reason": None,
            "reject_details": None,
        }

    rows = [
        row(0, "Name an even number between 11 and 15.", "<think>\nTwelve.\n</think>\n12"),
        row(1, "Is 91 a prime number?", "<think>\n91 = 7 x 13.\n</think>\nThe answer is \\boxed{yes}."),
    ]
    stats = StageStats()
    same, changed = stage.run(rows, stats)
    assert same["keep"] and same["refine_reason"] == "ok" and same["completion"].endswith("\\boxed{12}.")
    assert not changed["keep"] and changed["reject_reason"] == "refine:answer_changed"
    assert json.loads(changed["refine_details"]) == {"verifier": None, "before": "yes", "after": "no"}
    assert stats.counters["refined"] == 1 and stats.counters["refused_answer_changed"] == 1
