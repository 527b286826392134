from pathlib import Path

import pytest

from factory.errors import RecipeError
from factory.recipe import apply_override, load_recipe, parse_recipe

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = {"name": "t", "source": {"path": "data/math/train.jsonl"}, "verify": {"math": {}}}


def test_demo_recipe_parses_into_frozen_dataclasses():
    recipe = load_recipe(ROOT / "recipes/demo/math.yaml")
    assert recipe.generate.n == 4
    assert recipe.generate.prefill == "<think>\n"
    assert recipe.generate.few_shot[0].assistant.startswith("<think>")
    assert recipe.generate.sampling["max_tokens"] == 192  # passed through unchanged
    assert recipe.select.require == ["math", "format"]
    with pytest.raises(AttributeError):
        recipe.generate.n = 3  # frozen


def test_unknown_key_names_its_path():
    raw = {**MINIMAL, "generate": {"n": 2, "sampling_parms": {}}}
    with pytest.raises(RecipeError, match=r"generate\.sampling_parms: unknown key"):
        parse_recipe(raw)
    with pytest.raises(RecipeError, match=r"^colour: unknown key"):
        parse_recipe({**MINIMAL, "colour": 1})
    with pytest.raises(RecipeError, match=r"generate\.few_shot\[0\]\.asistant: unknown key"):
        parse_recipe({**MINIMAL, "generate": {"few_shot": [{"user": "a", "asistant": "b"}]}})


def test_wrong_types_and_choices_are_errors():
    with pytest.raises(RecipeError, match=r"generate\.n: expected int"):
        parse_recipe({**MINIMAL, "generate": {"n": "four"}})
    with pytest.raises(RecipeError, match=r"select\.strategy: 'longest' is not one of"):
        parse_recipe({**MINIMAL, "select": {"strategy": "longest"}})
    with pytest.raises(RecipeError, match=r"source\.path: required key is missing"):
        parse_recipe({"name": "t", "source": {}})
    with pytest.raises(RecipeError, match=r"verify\.maths: unknown verifier"):
        parse_recipe({**MINIMAL, "verify": {"maths": {}}})
    with pytest.raises(RecipeError, match=r"select\.require: 'format' is not configured"):
        parse_recipe({**MINIMAL, "select": {"require": ["format"]}})


def test_a_field_of_two_types_takes_either_and_names_both_when_neither_fits():
    assert parse_recipe({**MINIMAL, "train": {"data": "a/sft"}}).train.data == "a/sft"
    assert parse_recipe({**MINIMAL, "train": {"data": ["a/sft", "b/sft"]}}).train.data == ["a/sft", "b/sft"]
    for bad in (3, ["a/sft", 3], {"path": "a"}):
        with pytest.raises(RecipeError, match=r"train\.data: expected str or a list of str, got"):
            parse_recipe({**MINIMAL, "train": {"data": bad}})


def test_overrides_are_typed_and_checked(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: t\nsource: {path: x.jsonl}\nverify: {math: {}}\n")
    recipe = load_recipe(path, ["generate.n=8", "generate.sampling.temperature=0.2", "select.k=1"])
    assert recipe.generate.n == 8 and recipe.generate.sampling == {"temperature": 0.2} and recipe.select.k == 1
    with pytest.raises(RecipeError, match=r"generate\.nn: unknown key"):
        load_recipe(path, ["generate.nn=8"])
    with pytest.raises(RecipeError, match="not of the form"):
        load_recipe(path, ["generate.n"])
    raw = {"name": "t"}
    with pytest.raises(RecipeError, match="name is not a section"):
        apply_override(raw, "name.x=1")


def test_exponent_floats_are_numbers_in_files_and_overrides(tmp_path):
    # YAML 1.1 reads 1e-5 as a string; Python and JSON write a small float so (a chain passes a
    # phase's `set` values on as JSON), and trl.GRPOConfig would get "1e-05"
    path = tmp_path / "r.yaml"
    path.write_text("name: t\nsource: {path: x.jsonl}\nverify: {math: {}}\ngrpo: {config: {learning_rate: 1e-5}}\n")
    assert load_recipe(path).grpo.config["learning_rate"] == 1e-5
    recipe = load_recipe(path, ["grpo.config.learning_rate=3E-06", "grpo.config.beta=4e-2", "name=1e"])
    assert recipe.grpo.config == {"learning_rate": 3e-6, "beta": 0.04} and recipe.name == "1e"
    assert load_recipe(path, ['grpo.config.run_name="1e-5"']).grpo.config["run_name"] == "1e-5"  # quoted: a string


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)


def test_sampling_and_engine_keys_are_checked_against_the_installed_vllm_at_load():
    import time

    base = {"name": "t", "source": {"path": "x.jsonl"}}
    start = time.perf_counter()
    with pytest.raises(
        RecipeError,
        match=r"generate\.sampling\.temprature: not an argument of the installed vLLM \(did you mean temperature",
    ):
        parse_recipe({**base, "generate": {"sampling": {"temprature": 0.6}}})
    with pytest.raises(RecipeError, match=r"generate\.engine\.gpu_memory_utilisation: not an argument"):
        parse_recipe({**base, "generate": {"engine": {"gpu_memory_utilisation": 0.9}}})
    with pytest.raises(RecipeError, match=r"generate\.sampling: set n and seed as generate\.n and generate\.seed"):
        parse_recipe({**base, "generate": {"sampling": {"n": 4}}})
    assert time.perf_counter() - start < 1.0  # read from vLLM's source, not by importing it
    r = parse_recipe(
        {
            **base,
            "generate": {
                "sampling": {"temperature": 0.6, "stop": ["</s>"], "min_p": 0.05},
                "engine": {"gpu_memory_utilization": 0.9, "max_model_len": 4096},
            },
        }
    )
    assert r.generate.engine["max_model_len"] == 4096
    with pytest.raises(RecipeError, match=r"generate\.engine\.crash_after: not an option of the fake backend"):
        parse_recipe({**base, "generate": {"backend": "fake", "engine": {"crash_after": 3}}})
    with pytest.raises(RecipeError, match=r"generate\.backend: 'sglang' is not one of vllm, fake"):
        parse_recipe({**base, "generate": {"backend": "sglang"}})


def test_a_missing_model_folder_is_named_before_any_engine_starts(tmp_path, capsys):
    import json
    import time

    from factory.cli import main

    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "a", "problem": "1+1?", "answer": "2"}) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: t\nrun_dir: {tmp_path / 'run'}\n"
        f"source: {{path: {tmp_path / 'p.jsonl'}, fields: {{prompt: problem, gold: answer}}}}\n"
        f"generate: {{model: {tmp_path / 'no-such-model'}}}\nverify: {{math: {{}}}}\n"
    )
    start = time.perf_counter()
    assert main(["run", str(recipe), "-q"]) == 2
    assert (
        f"generate.model: {tmp_path / 'no-such-model'} is not a model folder (no such directory)"
        in capsys.readouterr().err
    )
    assert time.perf_counter() - start < 10  # vLLM was never imported


def test_executor_section_defaults_to_local_and_is_checked():
    assert parse_recipe(MINIMAL).executor.kind == "local"
    ray = parse_recipe(
        {**MINIMAL, "executor": {"kind": "ray", "address": "auto", "replicas": 4, "gpus_per_replica": 1}}
    )
    assert (ray.executor.address, ray.executor.replicas, ray.executor.gpus_per_replica) == ("auto", 4, 1.0)
    with pytest.raises(RecipeError, match=r"executor\.kind: 'slurm' is not one of local, ray"):
        parse_recipe({**MINIMAL, "executor": {"kind": "slurm"}})
    with pytest.raises(RecipeError, match=r"executor\.replica: unknown key"):
        parse_recipe({**MINIMAL, "executor": {"kind": "ray", "replica": 2}})
    with pytest.raises(RecipeError, match=r"executor\.replicas: only for kind ray"):
        parse_recipe({**MINIMAL, "executor": {"replicas": 2}})
    with pytest.raises(RecipeError, match=r"executor\.replicas: must be at least 1"):
        parse_recipe({**MINIMAL, "executor": {"kind": "ray", "replicas": 0}})
