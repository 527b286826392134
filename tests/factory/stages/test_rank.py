"""select.rank: a tiny random-weight reward model (made here, nothing downloaded) scores the traces
that passed the filters, and exactly the top k per problem by score are kept."""

import json

import pandas as pd
import pytest
from fakes import recipe_for

import factory.run as factory_run
from factory.errors import RecipeError
from factory.recipe import parse_recipe
from factory.stages.base import StageStats
from factory.stages.select import KeepK


@pytest.fixture(scope="module")
def reward_model(tiny_model_dir, tmp_path_factory):
    """A random Qwen2ForSequenceClassification with one label, on the tiny model's local tokenizer."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, Qwen2ForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-rm")
    config = AutoConfig.from_pretrained(tiny_model_dir)
    config.num_labels = 1
    torch.manual_seed(1)
    model = Qwen2ForSequenceClassification(config)
    torch.nn.init.normal_(model.score.weight, std=1.0)  # scores that differ between traces
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    return folder


def ranked_recipe(tmp_path, reward_model, k=2, **rank):
    recipe = recipe_for(tmp_path)
    raw = json.loads(json.dumps(recipe.to_dict(), default=str))
    raw["select"] = {"k": 3, "rank": {"reward_model": str(reward_model), "k": k, "batch_size": 3, **rank}}
    for key in ("train", "eval", "judge", "refine"):
        raw.pop(key, None)
    return parse_recipe(raw)


def test_the_top_k_by_reward_score_are_kept(tmp_path, reward_model):
    summary = factory_run.run_recipe(ranked_recipe(tmp_path, reward_model, k=1), progress=False)
    sel = pd.read_parquet(tmp_path / "run/selected")
    scored = sel[sel.reward_score.notna()]
    # only traces that passed the filters are scored (cost): nothing the filters had rejected
    assert set(sel[sel.reward_score.isna()].reject_reason) <= {
        "math:wrong_answer",
        "format:truncated",
        "math:no_final_answer_after_think",
    }
    assert not scored.reject_reason.isin(["math:wrong_answer", "format:truncated"]).any()
    assert scored.reward_score.nunique() > 1
    for _, group in scored.groupby("problem_id"):
        top = group.sort_values(["reward_score", "sample_index"], ascending=[False, True]).head(1)
        assert set(group[group.keep].trace_id) == set(top.trace_id)  # exactly the top k
        assert set(group[~group.keep].reject_reason) <= {"over_k"}
    assert summary.rank.scored == len(scored)
    sft = pd.read_parquet(tmp_path / "run/export/sft")
    assert sft.reward_score.notna().all() and len(sft) == sel.keep.sum()  # the score is a column of the export
    assert "## Reward ranking" in (tmp_path / "run/README.md").read_text()


def test_scores_are_the_models_own_batched_or_not(tmp_path, reward_model):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from factory.records import assistant_content

    factory_run.run_recipe(ranked_recipe(tmp_path, reward_model, k=2), progress=False)
    sel = pd.read_parquet(tmp_path / "run/selected")
    row = sel[sel.reward_score.notna()].iloc[0]
    tok = AutoTokenizer.from_pretrained(reward_model)
    model = AutoModelForSequenceClassification.from_pretrained(reward_model).eval()
    chat = [dict(m) for m in row.prompt_messages] + [{"role": "assistant", "content": assistant_content(row.to_dict())}]
    text = tok.apply_chat_template(chat, tokenize=False)  # the SFT chat as exported
    with torch.no_grad():
        alone = float(model(**tok(text, return_tensors="pt", add_special_tokens=False)).logits[0, 0])
    assert row.reward_score == pytest.approx(alone, abs=1e-4)  # scored in a padded batch of 3, same score


def test_keep_k_by_reward_breaks_ties_by_sample_index_and_puts_unscored_last():
    rows = [
        {
            "problem_id": "p",
            "sample_index": i,
            "reward_score": s,
            "keep": True,
            "reject_reason": None,
            "reject_details": None,
        }
        for i, s in enumerate([0.5, 0.9, None, 0.9, 0.1])
    ]
    out = list(KeepK(3, "reward").run(rows, StageStats()))
    assert [r["sample_index"] for r in out if r["keep"]] == [0, 1, 3]
    out = list(KeepK(4, "reward").run([dict(r, keep=True) for r in rows], StageStats()))
    assert [r["sample_index"] for r in out if not r["keep"]] == [2]


def test_rank_settings_are_checked(tmp_path, reward_model):
    base = {"name": "t", "source": {"path": "x"}, "verify": {"math": {}}}
    with pytest.raises(RecipeError, match=r"select\.rank\.reward_model: .* is not a local model folder"):
        parse_recipe({**base, "select": {"rank": {"reward_model": str(tmp_path / "nope")}}})
    with pytest.raises(RecipeError, match=r"select\.rank\.reward_model: judge needs a judge section"):
        parse_recipe({**base, "select": {"rank": {"reward_model": "judge"}}})
    with pytest.raises(RecipeError, match=r"select\.rank\.size: unknown key"):
        parse_recipe({**base, "select": {"rank": {"reward_model": str(reward_model), "size": 1}}})
    with pytest.raises(RecipeError, match=r"select\.strategy: select\.rank keeps the top-k"):
        parse_recipe({**base, "select": {"strategy": "shortest", "rank": {"reward_model": str(reward_model)}}})


def test_the_judges_graded_score_ranks_when_asked(tmp_path):
    recipe = recipe_for(tmp_path)
    raw = json.loads(json.dumps(recipe.to_dict(), default=str))
    # the judge grades sample 2 highest; the problem's gold-matching traces pass math first
    raw["judge"] = {"backend": "fake", "audit": 0.0, "engine": {"replies": {"RESPONSE": "SCORE: 4\nVERDICT: CORRECT"}}}
    raw["select"] = {"rank": {"reward_model": "judge", "k": 1}}
    for key in ("train", "eval", "refine"):
        raw.pop(key, None)
    summary = factory_run.run_recipe(parse_recipe(raw), progress=False)
    sel = pd.read_parquet(tmp_path / "run/selected")
    scored = sel[sel.reward_score.notna()]
    assert len(scored) and (scored.reward_score == 0.4).all()  # the judge's SCORE / 10
    assert summary.rank.judge_calls == len(scored)  # judged here: the judge step had only undecided (none) to see
    for _, group in scored.groupby("problem_id"):  # all tied: the lowest sample index wins
        assert group[group.keep].sample_index.tolist() == [group.sample_index.min()]
