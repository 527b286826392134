"""Adaptive sampling on the fake backend: the same SFT set as fixed n for fewer samples, resume, checks, cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakes import make_problems

import factory.run as factory_run
from factory.adaptive import StopRule, Tally
from factory.backends import Request
from factory.errors import RecipeError
from factory.recipe import AdaptiveConfig, SelectConfig, parse_recipe
from factory.stages.base import StageStats


def recipe(tmp_path: Path, name: str, adaptive: dict[str, Any] | None, **generate: Any) -> Any:
    problems = tmp_path / "p.jsonl"
    if not problems.exists():
        make_problems(problems, 20)
    return parse_recipe(
        {
            "name": name,
            "run_dir": str(tmp_path / name),
            "source": {"path": str(problems), "fields": {"prompt": "problem", "gold": "answer"}, "shard_size": 6},
            "generate": {"n": 16, "backend": "fake", **({"adaptive": adaptive} if adaptive else {}), **generate},
            "verify": {"math": {}, "format": {}},
            "select": {"k": 2, "strategy": "first"},
        }
    )


def sft(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "export/sft").sort_values("trace_id").reset_index(drop=True)


def test_adaptive_draws_a_prefix_of_fixed_n_and_exports_the_same_sft_set(tmp_path):
    fixed = factory_run.run_recipe(recipe(tmp_path, "fixed", None), progress=False)
    adaptive = factory_run.run_recipe(recipe(tmp_path, "adaptive", {"first": 2, "passes": 2}), progress=False)
    # every adaptive trace is the fixed run's trace of the same index: a prefix per problem
    a = pd.read_parquet(tmp_path / "adaptive/traces").set_index("trace_id")
    f = pd.read_parquet(tmp_path / "fixed/traces").set_index("trace_id")
    assert set(a.index) < set(f.index)
    assert a.completion.equals(f.completion.loc[a.index])
    for _, group in a.groupby("problem_id"):
        assert sorted(group.sample_index) == list(range(len(group)))
    # the SFT sets are the same rows; only the pass rate (an estimate under a stopping rule) may differ
    left, right = sft(tmp_path / "fixed"), sft(tmp_path / "adaptive")
    assert len(left) == fixed.kept == adaptive.kept > 0
    pd.testing.assert_frame_equal(left.drop(columns="pass_rate"), right.drop(columns="pass_rate"))
    # cost: fewer samples and tokens, what was not drawn is counted, each problem says why it stopped
    assert adaptive.traces < fixed.traces / 2
    assert adaptive.cost.samples == adaptive.traces
    assert adaptive.cost.samples_saved == fixed.traces - adaptive.traces
    assert adaptive.cost.completion_tokens == adaptive.completion_tokens < fixed.completion_tokens
    assert adaptive.cost.tokens_per_kept_row == round(adaptive.completion_tokens / adaptive.kept, 1)
    assert sum(adaptive.cost.stopped.values()) == 20 and adaptive.cost.later_rounds > 0
    assert fixed.cost.samples_saved == 0 and fixed.cost.stopped == {}
    # samples drawn per problem: the difficulty table's traces column, and the pass rate over them
    scored = pd.read_parquet(tmp_path / "adaptive/problems_scored").set_index("problem_id")
    assert scored.traces.to_dict() == a.groupby("problem_id").size().to_dict()
    assert "estimate" in (tmp_path / "adaptive/README.md").read_text()


def test_a_run_killed_mid_round_resumes_to_the_same_data_without_redrawing_finished_shards(tmp_path):
    whole = factory_run.run_recipe(recipe(tmp_path, "whole", {"first": 2, "passes": 2}), progress=False)
    killed = recipe(tmp_path, "killed", {"first": 2, "passes": 2}, engine={"crash_after_samples": 60})
    with pytest.raises(KeyboardInterrupt):
        factory_run.run_recipe(killed, progress=False)
    done = sorted((tmp_path / "killed/_markers/generate").glob("shard-*.json"))
    assert 0 < len(done) < 4  # killed in the middle: some shards written, a later round of another in flight
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "killed/traces").glob("shard-*.parquet")}
    resumed = factory_run.run_recipe(recipe(tmp_path, "killed", {"first": 2, "passes": 2}), progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "killed/traces").glob("shard-*.parquet")}
    assert all(after[name] == mtime for name, mtime in before.items())  # finished shards were not redrawn
    pd.testing.assert_frame_equal(sft(tmp_path / "whole"), sft(tmp_path / "killed"))
    assert resumed.traces == whole.traces and resumed.cost.samples_saved == whole.cost.samples_saved


def test_a_changed_adaptive_section_is_refused_by_name(tmp_path):
    factory_run.run_recipe(recipe(tmp_path, "r", {"first": 2, "passes": 2}), progress=False)
    with pytest.raises(RecipeError, match=r"generate\.adaptive"):
        factory_run.run_recipe(recipe(tmp_path, "r", {"first": 4, "passes": 2}), progress=False)


@pytest.mark.parametrize(
    ("adaptive", "extra", "message"),
    [
        ({"first": 0, "passes": 2}, {}, r"generate\.adaptive\.first"),
        ({"first": 17, "passes": 2}, {}, r"generate\.adaptive\.first"),
        ({"first": 2}, {}, r"set passes"),
        ({"first": 2, "passes": 20}, {}, r"generate\.adaptive\.passes"),
        ({"first": 4, "passes": 2, "hopeless": 2}, {}, r"generate\.adaptive\.hopeless"),
        ({"first": 2, "passes": 2, "typo": 1}, {}, r"generate\.adaptive\.typo: unknown key"),
        ({"first": 2, "passes": 2}, {"vote": {}}, r"cannot be used with vote"),
    ],
)
def test_adaptive_settings_are_checked_when_the_recipe_loads(tmp_path, adaptive, extra, message):
    raw = {
        "name": "x",
        "source": {"path": "p.jsonl"},
        "generate": {"n": 16, "backend": "fake", "adaptive": adaptive},
        "verify": {"math": {}},
        **extra,
    }
    with pytest.raises(RecipeError, match=message):
        parse_recipe(raw)


def rows(passed: list[bool], first: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "trace_id": f"p/{first + i}",
            "problem_id": "p",
            "sample_index": first + i,
            "domain": "math",
            "gold": "4",
            "completion": f"<think>\nok\n</think>\nThe answer is \\boxed{{{4 if ok else 5}}}.",
            "answer": f"The answer is \\boxed{{{4 if ok else 5}}}.",
            "finish_reason": "stop",
            "completion_tokens": 10,
            "tests": None,
        }
        for i, ok in enumerate(passed)
    ]


def test_the_stop_rule_uses_the_verifiers_and_select_requirement_and_sizes_rounds_by_the_rate_seen():
    rule = StopRule(AdaptiveConfig(first=2, passes=2, fails=1), 16, {"math": {}}, SelectConfig())
    request = Request(problem={"id": "p"}, messages=[], prompt="", n=2, seed=7)
    stats = StageStats()
    # one pass, one fail: a pass is missing; the rate seen (smoothed 2/4) says 2 more, at most doubling
    assert rule.round_done(request, False, rows([True, False]), stats) == 2
    later = Request(problem={"id": "p"}, messages=[], prompt="", n=2, seed=7, first=2)
    assert later.first_seed == 9
    assert rule.round_done(later, False, rows([True, True], first=2), stats) == 0
    assert stats.counters == {"later_rounds": 1, "stopped_enough": 1, "samples_saved": 12, "tokens_saved_estimate": 120}
    # nothing passes yet: the next round is capped by what was drawn (a round at most doubles)
    assert rule.next_round(Tally(drawn=2, passes=0, fails=2)) == 2
    assert rule.next_round(Tally(drawn=14, passes=0, fails=14)) == 2  # only n - drawn left
    hopeless = StopRule(AdaptiveConfig(first=4, passes=2, hopeless=8), 16, {"math": {}})
    assert hopeless.stop(Tally(drawn=8, passes=0, fails=8)) == "hopeless"
    assert hopeless.stop(Tally(drawn=8, passes=1, fails=7)) is None


def test_summary_json_holds_the_cost(tmp_path):
    factory_run.run_recipe(recipe(tmp_path, "r", {"first": 2, "passes": 2}), progress=False)
    cost = json.loads((tmp_path / "r/summary.json").read_text())["cost"]
    assert cost["samples_saved"] > 0 and cost["tokens_saved_estimate"] > 0 and cost["money"] is None
