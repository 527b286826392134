"""Stages chained in one recipe: the plan's command lines, the checks before anything runs, the
report, and a real chain on the tiny model that is killed between jobs and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from factory.chain import (
    LOOP,
    assign_keys,
    chain_markdown,
    chain_report,
    comparison_markdown,
    paired,
    plan_jobs,
    run_chain,
)
from factory.errors import RecipeError
from factory.recipe import ChainConfig, load_recipe

ROOT = Path(__file__).resolve().parents[2]


def test_factory_loop_is_the_default_chain_eval_run_train_eval() -> None:
    path = ROOT / "recipes" / "demo" / "loop.yaml"
    steps = plan_jobs(path, ["generate.n=2"], load_recipe(path, ["generate.n=2"]), LOOP)
    assert [(s.name, s.args[0]) for s in steps] == [
        ("base", "eval"),
        ("rejection_sample", "run"),
        ("sft", "train"),
        ("sft/eval", "eval"),
    ]
    root = Path("runs/demo-loop/chain")
    assert steps[0].args[-4:] == ["--model", "embedded:smollm2", "--out", str(root / "00-base" / "eval")]
    run = steps[1].args
    assert f"run_dir={root / '01-rejection_sample' / 'run'}" in run and "generate.model=embedded:smollm2" in run
    assert "generate.n=2" in run  # the command line's overrides reach every step
    train = steps[2].args
    assert f"train.data={root / '01-rejection_sample' / 'run' / 'export' / 'sft'}" in train
    assert f"train.output_dir={root / '02-sft' / 'model'}" in train and "train.student=embedded:smollm2" in train
    assert steps[3].args[steps[3].args.index("--model") + 1] == str(root / "02-sft" / "model")


def test_the_r1_recipes_chain_their_phases() -> None:
    for name in ("cpu", "gpu"):
        path = ROOT / "recipes" / "r1" / f"{name}.yaml"
        recipe = load_recipe(path)
        steps = plan_jobs(path, [], recipe, recipe.chain)
        kinds = [s.kind for s in steps]
        assert kinds == [
            "eval",
            "rejection_sample",
            "sft",
            "eval",
            "rejection_sample",
            "grpo",
            "eval",
            "rejection_sample",
            "sft",
            "eval",
        ], name
        cold, sft_cold, score, grpo, rs, sft = (s for s in steps if s.kind != "eval")
        # GRPO of checkpoint 1 on the prompts checkpoint 1 solves only sometimes, as the score phase measured
        assert f"generate.model={sft_cold.model}" in score.args
        assert f"grpo.prompts.from={score.folder / 'run'}" in grpo.args and grpo.inputs == ["sft_cold_start", "score"]
        assert grpo.recipe["grpo"]["zero_variance"] == "filter"
        assert "generate.model=" + recipe.generate.model in cold.args  # the model prompts itself
        assert any(a.startswith("generate.few_shot=") for a in cold.args)  # its own long-CoT demonstrations
        assert f"grpo.student={sft_cold.model}" in grpo.args  # checkpoint 1 -> GRPO
        assert f"generate.model={grpo.model}" in rs.args  # checkpoint 2 samples the data
        assert f"train.student={recipe.train.student}" in sft.args  # the base + SFT on the samples and the cold start
        assert sft.data == [cold.data, rs.data] and f"train.data={json.dumps(sft.data)}" in sft.args
        # every evaluation runs the recipe as written, whatever a phase's own `set` changed
        evals = [s for s in steps if s.kind == "eval"]
        assert all(s.args == ["eval", "--recipe", str(path), "--model", s.model, "--out", str(s.folder)] for s in evals)
        assert all(s.recipe == evals[0].recipe for s in evals)


def test_an_sft_phase_trains_on_several_rejection_sample_phases(tmp_path: Path) -> None:
    raw = {
        "name": "t",
        "source": {"path": "p.jsonl"},
        "run_dir": str(tmp_path / "run"),
        "verify": {"math": {}},
        "chain": {
            "evaluate": False,
            "phases": [
                {"kind": "rejection_sample", "name": "cold"},
                {"kind": "sft", "name": "sft_cold", "data": "cold"},
                {"kind": "rejection_sample"},
                {"kind": "sft", "model": "base", "data": ["cold", "rejection_sample"]},
            ],
        },
    }
    path = _write(tmp_path, raw)
    recipe = load_recipe(path)
    cold, first, rs, last = assign_keys(plan_jobs(path, [], recipe, recipe.chain))
    assert f"train.data={cold.data}" in first.args  # one set: the path as it was
    assert last.data == [cold.data, rs.data]
    assert f"train.data={json.dumps([cold.data, rs.data])}" in last.args
    assert load_recipe(path, [a for a in last.args if a.startswith("train.data=")]).train.data == [cold.data, rs.data]
    assert last.inputs == ["cold", "rejection_sample"]  # the base is no step's; each set is
    raw["chain"]["phases"][-1]["data"] = ["rejection_sample"]
    path = _write(tmp_path, raw)
    changed = assign_keys(plan_jobs(path, [], load_recipe(path), load_recipe(path).chain))[-1]
    assert changed.key != last.key and changed.data == [rs.data]


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_chain_checks_fail_before_anything_runs(tmp_path: Path) -> None:
    base = {"name": "t", "source": {"path": "p.jsonl"}, "run_dir": str(tmp_path / "run"), "verify": {"math": {}}}
    bad = [
        ([{"kind": "sft"}], "needs an earlier rejection_sample phase"),
        ([{"kind": "grpo"}, {"kind": "grpo"}], "names two phases"),
        ([{"kind": "rejection_sample"}, {"kind": "sft", "model": "nope"}], "is not base, previous or an earlier"),
        ([{"kind": "grpo", "data": "x"}], "model and data are options of an sft phase only"),
        ([{"kind": "dpo"}], "is not one of"),
        ([{"kind": "rejection_sample"}, {"kind": "sft", "data": []}], "an empty list"),
        (
            [{"kind": "rejection_sample"}, {"kind": "grpo"}, {"kind": "sft", "data": ["rejection_sample", "grpo"]}],
            "'grpo' is not an earlier rejection_sample phase",
        ),
        (
            [{"kind": "rejection_sample"}, {"kind": "sft", "data": ["rejection_sample", "rejection_sample"]}],
            "named twice",
        ),
        ([], "list at least one phase"),
    ]
    for phases, message in bad:
        with pytest.raises(RecipeError, match=message):
            load_recipe(_write(tmp_path, {**base, "chain": {"phases": phases}}))
    # a phase's own overrides and its grpo.config keys are checked when the plan is made
    path = _write(tmp_path, {**base, "chain": {"phases": [{"kind": "grpo", "set": {"grpo.config.bogus_key": 1}}]}})
    with pytest.raises(RecipeError, match="grpo.config.bogus_key: not a trl.GRPOConfig field"):
        run_chain(path, chain=ChainConfig(phases=load_recipe(path).chain.phases, evaluate=False))
    path = _write(tmp_path, {**base, "chain": {"phases": [{"kind": "grpo", "set": {"generate.nn": 1}}]}})
    with pytest.raises(RecipeError, match=r"chain.phases\[0\].set: generate.nn: unknown key"):
        plan_jobs(path, [], load_recipe(path), load_recipe(path).chain)
    with pytest.raises(RecipeError, match="eval.problems"):
        run_chain(path)


def _metrics(rates: dict[str, tuple[int, int]]) -> dict:
    per = {p: {"n": n, "correct": c, "source": "ab" if p in "ab" else "c"} for p, (c, n) in rates.items()}
    values = [c / n for c, n in rates.values()]
    by_source = {
        src: {"pass@1": sum(per[p]["correct"] / per[p]["n"] for p in ps) / len(ps)}
        for src, ps in (("ab", [p for p in per if p in "ab"]), ("c", [p for p in per if p == "c"]))
    }
    return {
        "per_problem": per,
        "by_source": by_source,
        "pass@1": sum(values) / len(values),
        "pass@1_stderr": 0.1,
        "problems": len(per),
        "settings": {"problems": {"path": "held.jsonl"}, "n": 4, "generate": {"sampling": {"temperature": 0.6}}},
    }


def test_report_pairs_every_phase_with_the_first_and_the_previous(tmp_path: Path) -> None:
    from factory.chain import Job

    first = _metrics({"a": (0, 4), "b": (2, 4), "c": (4, 4)})
    second = _metrics({"a": (4, 4), "b": (2, 4), "c": (4, 4)})
    third = _metrics({"a": (4, 4), "b": (4, 4), "c": (2, 4)})
    assert paired(first, second)[:1] == (pytest.approx(1 / 3),) and paired(first, second)[2] == 3
    steps = []
    for i, (name, m) in enumerate((("base", first), ("grpo", second), ("sft", third))):
        folder = tmp_path / f"{i}" / "eval"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(m))
        steps.append(
            Job(name if i == 0 else f"{name}/eval", "eval", folder, [], {}, model=name, phase=None if i == 0 else name)
        )
    report = chain_report(load_recipe(ROOT / "recipes" / "demo" / "loop.yaml"), steps)
    assert report["pass@1"] == {"base": pytest.approx(0.5), "grpo": pytest.approx(5 / 6), "sft": pytest.approx(5 / 6)}
    last = report["jobs"][-1]
    assert last["delta_vs_first"] == pytest.approx(1 / 3) and last["delta_vs_previous"] == pytest.approx(0.0)
    md = chain_markdown(report)
    assert "| grpo | 83.3 | 10.0 | +33.3 ± 33.3 | +33.3 ± 33.3 |" in md
    assert "Held-out: 3 problems from `held.jsonl`, n=4" in md
    # per source, paired against the evaluation before: a went 0 -> 4 of 4, then b 2 -> 4 and c 4 -> 2
    assert last["by_source"]["c"]["delta_vs_previous"] == pytest.approx(-0.5)
    assert report["jobs"][1]["by_source"]["ab"]["delta_vs_previous"] == pytest.approx(0.5)
    assert report["jobs"][1]["by_source"]["ab"]["paired_problems"] == 2
    assert "| ab | 25.0 | 75.0 (+50.0 ± 50.0) | 100.0 (+25.0 ± 25.0) |" in md
    assert "| c | 100.0 | 100.0 (+0.0 ± -) | 50.0 (-50.0 ± -) |" in md


def test_two_evaluations_compare_paired_overall_and_per_source() -> None:
    before = _metrics({"a": (0, 4), "b": (2, 4), "c": (4, 4)})
    after = _metrics({"a": (4, 4), "b": (2, 4), "c": (2, 4)})
    for entry in before["per_problem"].values():  # an evaluation written before sources were recorded
        del entry["source"]
    md = comparison_markdown(before, after, ("base", "grpo"))
    assert md.startswith("pass@1 base 50.0 %, grpo 66.7 %: change +16.7 ± 44.1 points (paired over 3 problems)")
    assert "| ab | 25.0 | 75.0 (+50.0 ± 50.0) |" in md and "| c | 100.0 | 50.0 (-50.0 ± -) |" in md


@pytest.mark.slow
def test_a_chain_on_the_tiny_model_resumes_after_a_kill_between_jobs(tiny_model_dir: Path, tmp_path: Path) -> None:
    problems = tmp_path / "p.jsonl"
    problems.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n" for i in range(4)
        )
    )
    fields = {"prompt": "problem", "gold": "answer"}
    path = _write(
        tmp_path,
        {
            "name": "chain",
            "run_dir": str(tmp_path / "run"),
            "source": {"path": str(problems), "fields": fields},
            # the fake backend answers for rejection sampling and evaluation (no engine); GRPO and SFT train the model
            "generate": {
                "model": str(tiny_model_dir),
                "backend": "fake",
                "n": 4,
                "prefill": "<think>\n",
                "sampling": {"max_tokens": 8},
            },
            "verify": {"math": {}, "format": {}},
            "select": {"require": ["math", "format"], "k": 2},
            "train": {"max_length": 512, "sft": {"max_steps": 1, "per_device_train_batch_size": 2}},
            "grpo": {"config": {"max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 4}},
            "eval": {"problems": {"path": str(problems), "fields": fields, "limit": 3}, "n": 2},
            "chain": {"phases": [{"kind": "grpo"}, {"kind": "rejection_sample"}, {"kind": "sft"}]},
        },
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # killed right after the second step's marker: the base evaluation and GRPO are done
    killed = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "kill_chain.py"), str(path), "2"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == 17, killed.stdout + killed.stderr
    grpo_model = tmp_path / "run" / "chain" / "01-grpo" / "model"
    assert (grpo_model / "factory_grpo.json").exists() and not (grpo_model.parent / "eval").exists()
    stamp = (grpo_model / "model.safetensors").stat().st_mtime_ns

    report = run_chain(path, quiet=True)
    status = {s["job"]: s["status"] for s in report["jobs"]}
    assert status == {
        "base": "reused",
        "grpo": "reused",
        "grpo/eval": "ran",
        "rejection_sample": "ran",
        "sft": "ran",
        "sft/eval": "ran",
    }
    assert (grpo_model / "model.safetensors").stat().st_mtime_ns == stamp  # GRPO was not redone
    sft = next(s for s in report["jobs"] if s["job"] == "sft")
    assert sft["student"] == str(grpo_model) and sft["steps"] == 1  # it fine-tuned the GRPO model
    assert set(report["pass@1"]) == {"base", "grpo", "sft"}
    assert all((tmp_path / "run" / f"chain.{ext}").exists() for ext in ("json", "md", "png"))

    again = run_chain(path, quiet=True)  # everything done: nothing runs
    assert {s["status"] for s in again["jobs"]} == {"reused"} and again["pass@1"] == report["pass@1"]


@pytest.mark.slow
def test_factory_loop_on_the_tiny_model_writes_loop_and_chain_reports(tiny_model_dir: Path, tmp_path: Path) -> None:
    from factory.cli import main

    problems = tmp_path / "p.jsonl"
    problems.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "problem": f"What is {i} + 1?", "answer": str(i + 1)}) + "\n" for i in range(4)
        )
    )
    fields = {"prompt": "problem", "gold": "answer"}
    path = _write(
        tmp_path,
        {
            "name": "loop",
            "run_dir": str(tmp_path / "run"),
            "source": {"path": str(problems), "fields": fields},
            "generate": {"model": str(tiny_model_dir), "backend": "fake", "n": 4, "prefill": "<think>\n"},
            "verify": {"math": {}, "format": {}},
            "select": {"require": ["math", "format"]},
            "train": {"max_length": 512, "sft": {"max_steps": 1, "per_device_train_batch_size": 2}},
            "eval": {"problems": {"path": str(problems), "fields": fields}, "n": 2},
        },
    )
    assert main(["loop", str(path), "-q"]) == 0
    loop = json.loads((tmp_path / "run" / "loop.json").read_text())
    assert loop["problems"] == 4 and loop["train"]["steps"] == 1 and loop["data"]["kept"] > 0
    assert loop["models"]["after"] == str(tmp_path / "run" / "chain" / "02-sft" / "model")
    assert "pass@1 change" in (tmp_path / "run" / "loop.md").read_text()
    report = json.loads((tmp_path / "run" / "chain.json").read_text())
    assert [s["job"] for s in report["jobs"]] == ["base", "rejection_sample", "sft", "sft/eval"]


def test_a_step_is_redone_only_when_what_it_reads_or_its_inputs_change() -> None:
    from factory.chain import assign_keys

    path = ROOT / "recipes" / "r1" / "cpu.yaml"

    def keys(*overrides: str) -> dict[str, str]:
        recipe = load_recipe(path, overrides)
        return {s.name: s.key for s in assign_keys(plan_jobs(path, overrides, recipe, recipe.chain))}

    same = keys()
    assert keys() == same
    grpo = keys("grpo.config.max_steps=3")  # read by the GRPO phase only
    changed = {name for name in same if grpo[name] != same[name]}
    # GRPO and everything downstream of its model; not the cold start, its SFT or their evaluations
    assert changed == {"grpo", "grpo/eval", "rejection_sample", "sft", "sft/eval"}
    sft = keys("train.sft.learning_rate=1.0e-5")  # both SFT phases read it; every model after the first changes
    assert {n for n in same if sft[n] != same[n]} == set(same) - {"base", "cold_start"}
    sampling = keys("eval.sampling.temperature=0.8")  # only the evaluations read eval
    assert {n for n in same if sampling[n] != same[n]} == {"base", "sft_cold_start/eval", "grpo/eval", "sft/eval"}


def test_a_grpo_phase_reads_the_pass_rates_of_a_rejection_sample_phase(tmp_path: Path) -> None:
    base = {"name": "t", "source": {"path": "p.jsonl"}, "run_dir": str(tmp_path / "run"), "verify": {"math": {}}}
    phases = [
        {"kind": "rejection_sample", "name": "scores"},
        {"kind": "sft"},
        {"kind": "grpo", "set": {"grpo.prompts": {"pass_rate": [0.2, 0.8], "from": "scores"}}},
    ]
    path = _write(tmp_path, {**base, "chain": {"phases": phases, "evaluate": False}})
    recipe = load_recipe(path)
    jobs = assign_keys(plan_jobs(path, [], recipe, recipe.chain))
    scores, sft, grpo = jobs
    assert f"grpo.prompts.from={scores.folder / 'run'}" in grpo.args
    assert grpo.inputs == ["sft", "scores"]  # the student's maker and the pass rates'
    # the scored run is part of the GRPO job's identity, through its key (select: read by that run only)
    path = _write(tmp_path, {**base, "chain": {"phases": [phases[0], phases[2]], "evaluate": False}})
    keys = [j.key for j in assign_keys(plan_jobs(path, [], load_recipe(path), load_recipe(path).chain))]
    other = load_recipe(path, ["select.k=1"])
    assert [j.key for j in assign_keys(plan_jobs(path, ["select.k=1"], other, other.chain))][1] != keys[1]
    # scoring first (no `from`): the GRPO job makes a data run, so every data section is part of its key
    phases[2]["set"] = {"grpo.prompts": {"pass_rate": [0.2, 0.8]}}
    path = _write(tmp_path, {**base, "chain": {"phases": phases, "evaluate": False}})
    recipe = load_recipe(path)
    keys = [j.key for j in assign_keys(plan_jobs(path, [], recipe, recipe.chain))]
    other = load_recipe(path, ["select.k=1"])
    assert [j.key for j in assign_keys(plan_jobs(path, ["select.k=1"], other, other.chain))][2] != keys[2]
    for wrong in ("sft", "grpo", "base"):  # not an earlier rejection_sample phase
        phases[2]["set"] = {"grpo.prompts": {"from": wrong}}
        path = _write(tmp_path, {**base, "chain": {"phases": phases, "evaluate": False}})
        recipe = load_recipe(path)
        with pytest.raises(RecipeError, match=rf"grpo.prompts.from: '{wrong}' is not an earlier rejection_sample"):
            plan_jobs(path, [], recipe, recipe.chain)


def test_the_chain_report_says_how_grpo_chose_its_prompts_and_what_it_filtered() -> None:
    from factory.chain import _made

    row = {
        "kind": "grpo",
        "steps": 10,
        "prompts": 40,
        "prompts_seen": 20,
        "reward_first": 0.5,
        "reward_last": 0.7,
        "generation": "transformers generate",
        "prompt_selection": {"selected": 40, "problems": 100, "pass_rate": [0.1, 0.9]},
        "groups": 20,
        "zero_variance_groups": 6,
        "zero_variance": "filter",
        "beta": 0.04,
    }
    made = _made(row)
    assert "prompts: 40 of 100 with pass rate in [0.1, 0.9]" in made
    assert "zero-variance groups 6 of 20 (filter)" in made and "β 0.04" in made
