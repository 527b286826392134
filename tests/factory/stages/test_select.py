"""Select policies: pass-rate band, keep-k strategies, majority vote, token-length limit, stats."""

import json

import pandas as pd
import pytest
from fakes import recipe_for

import factory.run as factory_run
from factory.errors import RecipeError
from factory.recipe import DedupConfig, LengthConfig, MajorityVoteConfig, SelectConfig, parse_recipe
from factory.stages.base import StageStats
from factory.stages.difficulty import ProblemScorer
from factory.stages.select import KeepK, LengthFilter, PassRateFilter, TraceSelector
from factory.stages.vote import MajorityVoter


def trace(pid: str, i: int, passed: bool = True, tokens: int = 10, completion: str | None = None, **extra) -> dict:
    row = {
        "trace_id": f"{pid}/{i}",
        "problem_id": pid,
        "sample_index": i,
        "source": "s",
        "domain": "math",
        "completion": completion or f"<think>\nwork {pid} {i}\n</think>\n\\boxed{{1}}",
        "reasoning": None,
        "answer": "",
        "completion_tokens": tokens,
        "math_passed": passed,
        "math_reason": "ok" if passed else "wrong_answer",
        "prompt_messages": [{"role": "user", "content": f"problem {pid}"}],
        "few_shot_turns": 0,
        "gold": "1",
    }
    row.update(extra)
    return row


def run(stage, rows):
    stats = StageStats()
    return list(stage.run(rows, stats)), stats


def test_pass_rate_is_written_on_every_trace_and_the_band_drops_always_solved():
    rows = (
        [trace("easy", i) for i in range(4)]
        + [trace("mid", i, passed=i < 2) for i in range(4)]
        + [trace("never", i, passed=False) for i in range(4)]
    )
    out, stats = run(PassRateFilter(["math"], 0.0, 0.9), rows)
    rates = {r["problem_id"]: r["pass_rate"] for r in out}
    assert rates == {"easy": 1.0, "mid": 0.5, "never": 0.0}
    assert all(r["pass_rate"] == rates[r["problem_id"]] for r in out)
    easy = [r for r in out if r["problem_id"] == "easy"]
    assert {r["reject_reason"] for r in easy} == {"pass_rate_above_max"} and not any(r["keep"] for r in easy)
    mid = [r for r in out if r["problem_id"] == "mid"]
    assert [r["keep"] for r in mid] == [True, True, False, False]
    assert mid[2]["reject_reason"] == "math:wrong_answer"  # a failing trace keeps its verifier reason
    assert stats.dropped == {"pass_rate_above_max": 4, "math:wrong_answer": 6}
    assert stats.part("difficulty").counters == {"solved": 1, "unsolved": 1, "medium": 1}


def test_pass_rate_band_minimum_drops_hard_problems():
    rows = [trace("hard", i, passed=i == 0) for i in range(4)] + [trace("mid", i, passed=i < 2) for i in range(4)]
    out, _ = run(PassRateFilter(["math"], 0.3, 1.0), rows)
    assert [r["reject_reason"] for r in out if r["problem_id"] == "hard"][0] == "pass_rate_below_min"
    assert sum(r["keep"] for r in out if r["problem_id"] == "mid") == 2


def test_keep_k_shortest_random_all():
    rows = [trace("p", i, tokens=t) for i, t in enumerate([30, 10, 20, 5, 40])]
    out, stats = run(KeepK(2, "shortest"), [dict(r) for r in rows])
    assert sorted(r["completion_tokens"] for r in out if r["keep"]) == [5, 10]
    assert stats.dropped == {"over_k": 3}
    picks = {
        seed: tuple(r["sample_index"] for r in run(KeepK(2, "random", seed), [dict(r) for r in rows])[0] if r["keep"])
        for seed in range(8)
    }
    assert picks[3] == tuple(
        r["sample_index"] for r in run(KeepK(2, "random", 3), [dict(r) for r in rows])[0] if r["keep"]
    )
    assert len(set(picks.values())) > 1  # the seed matters
    out, _ = run(KeepK(2, "all"), [dict(r) for r in rows])
    assert all(r["keep"] for r in out)


def test_keep_k_diverse_prefers_distinct_reasoning_paths():
    a = "first add the two numbers then multiply the sum by three and finally subtract four to get the answer"
    b = "draw a picture of the triangle, use the pythagorean theorem on both legs, and take the square root"
    rows = [
        trace("p", 0, tokens=10, reasoning=a),
        trace("p", 1, tokens=11, reasoning=a + " indeed"),
        trace("p", 2, tokens=12, reasoning=a.replace("three", "3")),
        trace("p", 3, tokens=30, reasoning=b),
    ]
    out, _ = run(KeepK(2, "diverse"), rows)
    assert [r["sample_index"] for r in out if r["keep"]] == [0, 3]
    # "shortest" would have taken two near-copies
    out, _ = run(KeepK(2, "shortest"), [dict(r, keep=True) for r in rows])
    assert [r["sample_index"] for r in out if r["keep"]] == [0, 1]


def boxed(ans: str) -> str:
    return f"<think>\nthinking\n</think>\nThe answer is \\boxed{{{ans}}}."


def test_majority_vote_labels_problems_without_gold():
    rows = [trace("q", i, completion=boxed(a), gold=None) for i, a in enumerate(["0.5", "\\frac{1}{2}", "1/2", "3"])]
    rows += [trace("g", i, completion=boxed("9"), gold="7") for i in range(2)]
    out, stats = run(MajorityVoter(MajorityVoteConfig(min_share=0.5, min_count=2)), rows)
    q = [r for r in out if r["problem_id"] == "q"]
    assert {r["gold"] for r in q} == {"0.5"}  # the first spelling of the winning answer
    assert all(r["pseudo_label"] and r["vote_share"] == 0.75 and r["vote_count"] == 3 for r in q)
    g = [r for r in out if r["problem_id"] == "g"]
    assert all(r["gold"] == "7" and not r["pseudo_label"] for r in g)  # a given gold is never replaced
    assert stats.counters["problems_pseudo_labelled"] == 1 and stats.rows_out == 6


@pytest.mark.parametrize(
    ("answers", "config", "reason"),
    [
        (["1", "2", "1", "2"], MajorityVoteConfig(), "vote_tie"),
        (["1", "2", "3", "1", "4"], MajorityVoteConfig(min_share=0.5), "vote_share_below_min"),
        (["5", None, None, None], MajorityVoteConfig(min_share=0.25, min_count=2), "vote_count_below_min"),
        ([None, None], MajorityVoteConfig(), "vote_no_answer"),
    ],
)
def test_majority_vote_failures_are_dropped_and_counted(answers, config, reason):
    rows = [
        trace("q", i, completion=boxed(a) if a else "<think>\nno idea\n</think>\nhmm", gold=None)
        for i, a in enumerate(answers)
    ]
    out, stats = run(MajorityVoter(config), rows)
    assert out == [] and stats.dropped == {reason: len(answers)}


def test_length_filter_uses_the_student_chat_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    short, long_ = (
        trace("p", 0, completion="<think>\nok\n</think>\n\\boxed{1}"),
        trace("p", 1, completion="word " * 300),
    )
    for r in (short, long_):
        r["reasoning"], r["answer"] = None, r["completion"]

    def tokens(r):
        chat = [*r["prompt_messages"], {"role": "assistant", "content": r["completion"]}]
        return len(tok(tok.apply_chat_template(chat, tokenize=False), add_special_tokens=False)["input_ids"])

    sizes = [tokens(short), tokens(long_)]
    limit = (sizes[0] + sizes[1]) // 2
    f = LengthFilter(LengthConfig(tokenizer=str(tiny_model_dir), max_tokens=limit))
    assert f.count([short, long_]) == sizes
    out, stats = run(f, [dict(short), dict(long_)])
    assert [r["keep"] for r in out] == [True, False] and out[1]["reject_reason"] == "too_long"
    assert stats.dropped == {"too_long": 1}
    out, _ = run(LengthFilter(LengthConfig(tokenizer=str(tiny_model_dir), max_tokens=sizes[1])), [dict(long_)])
    assert out[0]["keep"]  # exactly max_tokens fits


def test_length_filter_needs_a_local_tokenizer(tmp_path):
    f = LengthFilter(LengthConfig(tokenizer=str(tmp_path / "nope"), max_tokens=10))
    with pytest.raises(ValueError, match="select.max_length.tokenizer"):
        run(f, [trace("p", 0)])


def test_selector_chain_stats_add_up_and_reasons_are_first_policy():
    rows = []
    for p in range(6):
        rows += [
            trace(
                f"p{p}",
                i,
                passed=(i + p) % 3 != 0,
                tokens=10 + i,
                completion=f"<think>\nsolution {p} path {i % 2} " + "alpha beta gamma delta " * 3 + "\n</think>",
            )
            for i in range(6)
        ]
    sel = TraceSelector(
        SelectConfig(k=2, strategy="shortest", max_pass_rate=0.9, trace_dedup=DedupConfig(scope="problem")), ["math"]
    )
    out, stats = run(sel, rows)
    assert len(out) == len(rows) and stats.rows_out == sum(r["keep"] for r in out)
    assert stats.rows_in == stats.rows_out + sum(stats.dropped.values())
    assert dict(stats.dropped) == dict(pd.Series([r["reject_reason"] for r in out if not r["keep"]]).value_counts())
    p = stats.parts
    for a, b in [("pass_rate", "dedup_traces"), ("dedup_traces", "keep_k")]:
        assert p[a].rows_out == p[b].rows_in  # each policy sees what the previous one kept
    assert p["dedup_traces"].dropped["duplicate_trace"] > 0  # path 0 and path 1 repeat within a problem
    assert p["keep_k"].rows_out == stats.rows_out
    assert max(pd.Series([r["problem_id"] for r in out if r["keep"]]).value_counts()) <= 2


def test_problem_scorer_one_row_per_problem():
    rows = [dict(trace("a", i), pass_rate=0.5, keep=i == 0) for i in range(4)] + [
        dict(trace("b", 0), pass_rate=0.0, keep=False)
    ]
    out, _ = run(ProblemScorer(), rows)
    assert [(r["problem_id"], r["traces"], r["passed"], r["kept"], r["difficulty"]) for r in out] == [
        ("a", 4, 2, 1, "medium"),
        ("b", 1, 0, 0, "unsolved"),
    ]


def test_recipe_checks_select_keys():
    base = {"name": "t", "source": {"path": "x.jsonl"}, "verify": {"math": {}}}
    with pytest.raises(RecipeError, match="select.max_pass_rate"):
        parse_recipe({**base, "select": {"max_pass_rate": 1.5}})
    with pytest.raises(RecipeError, match="vote.min_shar"):
        parse_recipe({**base, "vote": {"min_shar": 0.5}})
    with pytest.raises(RecipeError, match="decontaminate.benchmarks"):
        parse_recipe({**base, "decontaminate": {}})
    r = parse_recipe({**base, "select": {"strategy": "diverse", "k": 2, "trace_dedup": {}}, "vote": {}})
    assert r.select.trace_dedup.threshold == 0.8 and r.vote.min_count == 2


def test_keys_that_moved_out_of_select_still_work_with_a_warning(caplog):
    base = {"name": "t", "source": {"path": "x.jsonl"}, "verify": {"math": {}}}
    with caplog.at_level("WARNING"):
        r = parse_recipe({**base, "select": {"k": 1, "majority_vote": {"min_count": 3}, "problem_dedup": {}}})
    assert r.vote.min_count == 3 and r.problem_dedup is not None and r.select.k == 1
    assert "select.majority_vote is now the top-level section vote" in caplog.text
    with pytest.raises(RecipeError, match="select.majority_vote: moved to vote; the recipe sets both"):
        parse_recipe({**base, "select": {"majority_vote": {}}, "vote": {}})


def test_pipeline_majority_vote_end_to_end(tmp_path):
    """Problems without gold: three of four samples agree (written differently), one does not."""
    src = tmp_path / "nogold.jsonl"
    src.write_text("".join(json.dumps({"id": f"n{i}", "problem": f"Compute {i} + 14 - {i}."}) + "\n" for i in range(3)))
    answers = [boxed(a) for a in ["14", "14.0", "\\frac{28}{2}", "13"]]
    recipe = parse_recipe(
        {
            "name": "vote",
            "run_dir": str(tmp_path / "run"),
            "source": {"path": str(src), "fields": {"prompt": "problem"}, "shard_size": 2},
            "generate": {"n": 4, "backend": "fake", "engine": {"completions": answers}},
            "verify": {"math": {}},
            "vote": {"min_share": 0.6},
        }
    )
    summary = factory_run.run_recipe(recipe, progress=False)
    sel = pd.read_parquet(tmp_path / "run/selected")
    assert len(sel) == 12 and sel.pseudo_label.all() and (sel.gold == "14").all() and (sel.vote_share == 0.75).all()
    assert sel.keep.sum() == summary.kept == 9  # "14", "14.0" and 28/2 verify against the pseudo-gold
    assert set(sel[~sel.keep].reject_reason) == {"math:wrong_answer"}
    scored = pd.read_parquet(tmp_path / "run/problems_scored")
    assert scored.pseudo_label.all() and (scored.pass_rate == 0.75).all()
    assert json.loads((tmp_path / "run/stats/vote.json").read_text())["counters"]["problems_pseudo_labelled"] == 3


def test_pipeline_default_recipe_still_selects(tmp_path):
    summary = factory_run.run_recipe(recipe_for(tmp_path, min_pass_rate=0.1, max_pass_rate=0.7), progress=False)
    sel = pd.read_parquet(tmp_path / "run/selected")
    kept = sel[sel.keep]
    assert len(kept) == summary.kept > 0
    assert kept.pass_rate.between(0.1, 0.7).all()
    assert set(sel[(sel.pass_rate > 0.7) & sel.math_passed & sel.format_passed].reject_reason) <= {
        "pass_rate_above_max"
    }


def test_default_requirement_is_the_verifiers_that_apply_and_one_must_judge_the_answer():
    na = {"math_passed": None, "math_reason": "not_applicable"}

    def rows():
        return [
            trace("m", 0, format_passed=True, format_reason="ok", code_passed=None, code_reason="not_applicable"),
            trace(
                "c", 0, **na, format_passed=True, format_reason="ok", code_passed=True, code_reason="ok", domain="code"
            ),
            trace(
                "s",
                0,
                **na,
                format_passed=True,
                format_reason="ok",
                code_passed=None,
                code_reason="not_applicable",
                domain="stem",
            ),
        ]

    out, stats = run(PassRateFilter(["math", "code", "format"]), rows())
    assert [r["keep"] for r in out] == [True, True, False]
    assert out[2]["reject_reason"] == "no_answer_verifier"  # format alone does not make a stem trace right
    out, _ = run(PassRateFilter(["format"]), rows())  # a format-only recipe judges format only
    assert all(r["keep"] for r in out)


def test_require_per_domain():
    rows = [
        trace("m", 0, format_passed=False, format_reason="unclosed_think"),
        trace(
            "c",
            0,
            math_passed=None,
            math_reason="not_applicable",
            format_passed=False,
            format_reason="unclosed_think",
            domain="code",
        ),
        trace("x", 0, domain="other", format_passed=True, format_reason="ok"),
    ]
    out, _ = run(PassRateFilter(["math", "format"], require={"math": ["math"], "code": ["format"]}), rows)
    assert [(r["keep"], r["reject_reason"]) for r in out] == [
        (True, None),
        (False, "format:unclosed_think"),
        (False, "no_requirement_for_domain"),
    ]
    code = trace(
        "c", 0, math_passed=None, math_reason="not_applicable", format_passed=True, format_reason="ok", domain="code"
    )
    out, _ = run(PassRateFilter(["math", "format"], require=["math", "format"]), [code])
    assert out[0]["reject_reason"] == "math:not_applicable"  # a listed verifier must pass, applicable or not


def test_require_is_checked_at_load():
    base = {"name": "t", "source": {"path": "x.jsonl"}, "verify": {"math": {}}}
    with pytest.raises(RecipeError, match=r"select\.require\.code: 'code' is not configured under verify"):
        parse_recipe({**base, "select": {"require": {"math": ["math"], "code": ["code"]}}})
    with pytest.raises(RecipeError, match=r"select\.require: expected a list of verifier names"):
        parse_recipe({**base, "select": {"require": "math"}})
