"""The teacher's chat template, checked before anything is sent (on the fake backend's renderer)."""

import logging

import pandas as pd
import pytest
from fakes import recipe_for

import factory.run as factory_run
from factory.errors import RecipeError

# as the DeepSeek-R1-Distill templates do: the generation prompt opens the think block, and earlier
# assistant turns lose everything up to </think>
R1_DISTILL_LIKE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}<A>{{ m['content'].split('</think>')[-1] }}<E>"
    "{% else %}<{{ m['role'] }}>{{ m['content'] }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<A><think>\n{% endif %}"
)


def with_generate(tmp_path, **generate):
    recipe = recipe_for(tmp_path)
    import dataclasses

    return dataclasses.replace(recipe, generate=dataclasses.replace(recipe.generate, **generate))


def test_a_prefill_the_template_already_adds_is_not_doubled(tmp_path, caplog):
    recipe = with_generate(tmp_path, chat_template=R1_DISTILL_LIKE, prefill="<think>\n")
    with caplog.at_level(logging.WARNING):
        factory_run.run_recipe(recipe, progress=False)
    traces = pd.read_parquet(tmp_path / "run/traces")
    assert traces.prompt_text.str.endswith("<A><think>\n").all()
    assert not traces.prompt_text.str.contains("<think>\n<think>").any()
    assert traces.completion.str.startswith("<think>\n").all()  # the stored turn still starts inside the block
    assert "already ends the generation prompt with it" in caplog.text


def test_few_shot_reasoning_the_template_drops_is_refused(tmp_path):
    from factory.recipe import FewShot

    shot = FewShot(user="What is 1 + 1?", assistant="<think>\n1 + 1 = 2\n</think>\nThe answer is \\boxed{2}.")
    recipe = with_generate(tmp_path, chat_template=R1_DISTILL_LIKE, few_shot=[shot])
    with pytest.raises(
        RecipeError, match=r"generate\.few_shot\[0\]\.assistant: the chat template does not keep this turn"
    ):
        factory_run.run_recipe(recipe, progress=False)
    assert not list((tmp_path / "run/traces").glob("shard-*"))  # refused before anything was generated


def test_few_shot_turns_a_template_keeps_are_sent_whole(tmp_path):
    from factory.recipe import FewShot

    shot = FewShot(user="What is 1 + 1?", assistant="<think>\n1 + 1 = 2\n</think>\nThe answer is \\boxed{2}.")
    factory_run.run_recipe(with_generate(tmp_path, few_shot=[shot]), progress=False)  # ChatML keeps every turn
    assert pd.read_parquet(tmp_path / "run/traces").prompt_text.str.contains("1 + 1 = 2\n</think>", regex=False).all()


def test_each_domain_gets_its_own_prompt(tmp_path):
    import json

    from factory.recipe import DomainPrompt, FewShot

    src = tmp_path / "two-domains.jsonl"
    src.write_text(
        json.dumps({"id": "m", "problem": "What is 2 + 2?", "answer": "4"})
        + "\n"
        + json.dumps({"id": "c", "problem": "Print 4.", "answer": None, "domain": "code"})
        + "\n"
    )
    code = DomainPrompt(system_prompt="Write Python.", few_shot=[FewShot("Print 1.", "```python\nprint(1)\n```")])
    recipe = with_generate(tmp_path, system_prompt="Box the answer.", domains={"code": code})
    import dataclasses

    recipe = dataclasses.replace(recipe, source=dataclasses.replace(recipe.source, path=str(src)))
    factory_run.run_recipe(recipe, progress=False)
    traces = pd.read_parquet(tmp_path / "run/traces").drop_duplicates("problem_id").set_index("problem_id")
    assert (
        traces.loc["m", "prompt_messages"][0]["content"] == "Box the answer." and traces.loc["m", "few_shot_turns"] == 0
    )
    assert [m["content"] for m in traces.loc["c", "prompt_messages"]] == [
        "Write Python.",
        "Print 1.",
        "```python\nprint(1)\n```",
        "Print 4.",
    ]
    assert traces.loc["c", "few_shot_turns"] == 2
    sft = pd.read_parquet(tmp_path / "run/export/sft")
    assert all(len(m) == 3 for m in sft[sft.problem_id == "c"].messages)  # system, problem, answer: few-shot dropped
