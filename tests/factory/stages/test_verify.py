"""Verify and export stages alone, on small lists."""

import pytest

from factory.records import PROVENANCE, sft_row
from factory.stages.base import StageStats
from factory.stages.verify import TraceVerifier


def trace(i, completion, gold="4", finish="stop"):
    return {"trace_id": f"p/{i}", "problem_id": "p", "completion": completion, "gold": gold, "finish_reason": finish}


def test_verify_stage_adds_columns_and_counts_reasons():
    rows = [
        trace(0, "<think>\n2+2\n</think>\n\\boxed{4}"),
        trace(1, "<think>\n2+2\n</think>\n\\boxed{5}"),
        trace(2, "<think>\n2+2 is", finish="length"),
    ]
    stats = StageStats()
    out = list(TraceVerifier({"math": {}, "format": {}}, chunk_size=2).run(rows, stats))
    assert [r["math_passed"] for r in out] == [True, False, False]
    assert [r["math_reason"] for r in out] == ["ok", "wrong_answer", "no_final_answer_after_think"]
    assert [r["format_reason"] for r in out] == ["ok", "ok", "truncated"]
    assert out[0]["math_extracted"] == "4" and out[0]["math_score"] == 1.0
    assert stats.parts["math"].rows_out == 1 and stats.parts["format"].dropped == {"truncated": 1}
    assert stats.rows_in == stats.rows_out == 3


def test_verify_stage_names_the_trace_of_a_bad_problem():
    rows = [trace(0, "```python\nprint(4)\n```"), {**trace(1, "```python\nprint(4)\n```"), "tests": '[{"nope": 1}]'}]
    with pytest.raises(ValueError, match=r"verify\.code: trace 'p/1'.*needs 'output'"):
        list(TraceVerifier({"code": {}}).run(rows, StageStats()))


def test_a_verifier_judges_only_the_traces_it_applies_to():
    rows = [
        {**trace(0, "<think>\nok\n</think>\n\\boxed{4}"), "domain": "math"},
        {
            **trace(1, "<think>\nok\n</think>\n\\boxed{4}", gold=None),
            "domain": "code",
            "tests": '[{"input": "", "output": "4"}]',
        },
        {**trace(2, "<think>\nok\n</think>\n\\boxed{4}"), "domain": "stem"},
    ]
    stats = StageStats()
    out = list(TraceVerifier({"math": {"domains": ["math"]}, "format": {}}).run(rows, stats))
    assert [r["math_reason"] for r in out] == ["ok", "not_applicable", "not_applicable"]  # no gold; not a math domain
    assert [r["math_passed"] for r in out] == [True, None, None] and all(r["format_passed"] for r in out)
    math = stats.parts["math"]
    assert (math.rows_in, math.rows_out, math.counters["not_applicable"]) == (1, 1, 2)
    assert {d: p.rows_in for d, p in stats.parts["format"].parts.items()} == {"math": 1, "code": 1, "stem": 1}


def test_unknown_verifier_options_name_their_key_path():
    from factory.errors import RecipeError

    with pytest.raises(RecipeError, match=r"verify\.math\.timeuot_s: unknown key \(known: domains, timeout_s"):
        TraceVerifier({"math": {"timeuot_s": 3}})
    with pytest.raises(RecipeError, match=r"verify\.math\.extract: 'loose' is not one of boxed, bare, auto"):
        TraceVerifier({"math": {"extract": "loose"}})


def test_sft_row_drops_few_shot_turns_and_keeps_the_think_block():
    chat = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "1+1?"},
        {"role": "assistant", "content": "<think>\n1+1=2\n</think>\n\\boxed{2}"},
        {"role": "user", "content": "2+2?"},
    ]
    row = {
        "prompt_messages": chat,
        "few_shot_turns": 2,
        "reasoning": "2+2=4",
        "answer": "\\boxed{4}",
        **{name: None for name, _ in PROVENANCE},
    }
    out = sft_row(row)
    assert [m["content"] for m in out["prompt"]] == ["S", "2+2?"]
    assert out["completion"] == [{"role": "assistant", "content": "<think>\n2+2=4\n</think>\n\n\\boxed{4}"}]
    assert out["messages"] == out["prompt"] + out["completion"]
    assert [m["content"] for m in sft_row(row, keep_system=False, keep_few_shot=True)["prompt"]] == [
        "1+1?",
        chat[2]["content"],
        "2+2?",
    ]


def test_verify_stage_stops_on_a_broken_install(monkeypatch):
    import verifiers

    def broken(row, config):
        raise ImportError("cannot import name 'match_brace'")

    monkeypatch.setitem(verifiers.VERIFIERS, "format", verifiers.Verifier(broken, verifiers.FormatConfig))
    with pytest.raises(ImportError):
        list(TraceVerifier({"format": {}}).run([trace(0, "x")], StageStats()))
