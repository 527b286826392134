"""The pipeline on a fake generator: selection, export, resume after a kill (no engine needed)."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from fakes import recipe_for

import factory.run as factory_run

HERE = Path(__file__).parent


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("shard-*.parquet"))}


def frame(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("trace_id").reset_index(drop=True)


def test_run_exports_kept_and_rejected_with_reasons(tmp_path):
    summary = factory_run.run_recipe(recipe_for(tmp_path), progress=False)
    run = tmp_path / "run"
    sft, rejected = frame(run / "export/sft"), frame(run / "export/rejected")
    assert summary.problems == 10 and summary.traces == 40
    assert len(sft) + len(rejected) == 40
    assert len(sft) == summary.kept > 0
    assert sft.groupby("problem_id").size().max() <= 2  # k per problem
    # every kept row is right; every reject says why
    assert all(r["completion"][0]["content"].endswith(f"\\boxed{{{r['gold']}}}.") for _, r in sft.iterrows())
    assert rejected.reject_reason.notna().all()
    assert set(rejected.reject_reason) <= {
        "math:wrong_answer",
        "math:no_final_answer_after_think",
        "format:truncated",
        "math:no_answer",
        "over_k",
    }
    assert "over_k" in set(rejected.reject_reason)
    # shortest strategy: no over_k reject is shorter than a kept trace of the same problem
    for pid, group in rejected[rejected.reject_reason == "over_k"].groupby("problem_id"):
        assert group.completion_tokens.min() >= sft[sft.problem_id == pid].completion_tokens.max()
    # stats on disk agree with the data
    stats = json.loads((run / "stats/select.json").read_text())
    assert stats["rows_out"] == len(sft) and sum(stats["dropped"].values()) == len(rejected)
    assert summary.pass_rate["math"] == pytest.approx(pd.read_parquet(run / "verified").math_passed.mean(), abs=1e-4)


def test_export_columns_are_chat_lists(tmp_path):
    factory_run.run_recipe(recipe_for(tmp_path), progress=False)
    sft = pd.read_parquet(tmp_path / "run/export/sft")
    row = sft.iloc[0]
    assert [m["role"] for m in row.messages] == ["user", "assistant"]
    assert list(row.prompt) == list(row.messages[:1]) and list(row.completion) == list(row.messages[1:])
    assert row.completion[0]["content"].startswith("<think>\n")
    assert {"trace_id", "model", "sampling_params", "seed", "chat_template_hash", "pass_rate"} <= set(sft.columns)


def test_rerun_skips_finished_shards(tmp_path):
    recipe = recipe_for(tmp_path)
    factory_run.run_recipe(recipe, progress=False)
    before, traces = frame(tmp_path / "run/export/sft"), mtimes(tmp_path / "run/traces")
    factory_run.run_recipe(recipe, progress=False)
    assert mtimes(tmp_path / "run/traces") == traces  # the second run generated nothing
    pd.testing.assert_frame_equal(before, frame(tmp_path / "run/export/sft"))


def test_interrupted_run_resumes_to_the_same_dataset(tmp_path):
    clean_dir, broken_dir = tmp_path / "clean", tmp_path / "broken"
    clean_dir.mkdir(), broken_dir.mkdir()
    factory_run.run_recipe(recipe_for(clean_dir), progress=False)

    # killed in the middle of the third shard (after 2 full shards of 3 problems x 4 samples)
    with pytest.raises(KeyboardInterrupt):
        factory_run.run_recipe(recipe_for(broken_dir, engine={"crash_after_samples": 2 * 12 + 6}), progress=False)
    traces = broken_dir / "run/traces"
    assert len(list(traces.glob("shard-*.parquet"))) == 2
    assert not list(traces.glob(".*tmp*"))  # the half-written shard left nothing behind

    # the kill switch is a runtime option of the backend: the same folder resumes without it
    factory_run.run_recipe(recipe_for(broken_dir), progress=False)
    for part in ("export/sft", "export/rejected"):
        a, b = frame(clean_dir / "run" / part), frame(broken_dir / "run" / part)
        assert a.trace_id.is_unique
        pd.testing.assert_frame_equal(a.drop(columns=["metadata"]), b.drop(columns=["metadata"]))


def test_hard_kill_leaves_a_resumable_run(tmp_path):
    """SIGKILL-like exit (os._exit, no cleanup) halfway through writing a shard, then a rerun."""
    script = HERE / "kill_run.py"
    for attempt in ("crash", "finish"):
        proc = subprocess.run([sys.executable, str(script), str(tmp_path), attempt], capture_output=True, text=True)
        if attempt == "crash":
            assert proc.returncode == 17, proc.stderr
        else:
            assert proc.returncode == 0, proc.stderr
    sft = pd.read_parquet(tmp_path / "run/export/sft")
    rejected = pd.read_parquet(tmp_path / "run/export/rejected")
    assert len(sft) + len(rejected) == 40
    assert pd.concat([sft.trace_id, rejected.trace_id]).is_unique


def test_a_recipe_with_other_traces_cannot_resume_a_run_folder(tmp_path):
    factory_run.run_recipe(recipe_for(tmp_path), progress=False)
    with pytest.raises(ValueError, match=r"holds a run of a different recipe \(sections changed: generate\)"):
        factory_run.run_recipe(
            dataclasses.replace(recipe_for(tmp_path), generate=dataclasses.replace(recipe_for(tmp_path).generate, n=2)),
            progress=False,
        )


def test_a_changed_select_redoes_select_and_after_and_keeps_every_trace(tmp_path):
    first = factory_run.run_recipe(recipe_for(tmp_path), progress=False)
    assert first.redone == []
    traces, verified = mtimes(tmp_path / "run/traces"), mtimes(tmp_path / "run/verified")
    summary = factory_run.run_recipe(recipe_for(tmp_path, k=1), progress=False)
    assert summary.redone == ["select", "difficulty", "export_sft", "export_rejected"]
    assert mtimes(tmp_path / "run/traces") == traces and mtimes(tmp_path / "run/verified") == verified
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    factory_run.run_recipe(recipe_for(fresh, k=1), progress=False)
    for part in ("selected", "export/sft", "export/rejected"):
        pd.testing.assert_frame_equal(frame(tmp_path / "run" / part), frame(fresh / "run" / part))
    assert summary.kept < first.kept


def test_a_changed_verifier_redoes_verify_without_regenerating(tmp_path):
    factory_run.run_recipe(recipe_for(tmp_path), progress=False)
    traces = mtimes(tmp_path / "run/traces")
    recipe = recipe_for(tmp_path)
    lenient = dataclasses.replace(
        recipe, verify={"math": {}}, select=dataclasses.replace(recipe.select, require=["math"])
    )
    summary = factory_run.run_recipe(lenient, progress=False)
    assert summary.redone[:2] == ["verify", "select"] and mtimes(tmp_path / "run/traces") == traces
    assert "format_passed" not in pd.read_parquet(tmp_path / "run/verified").columns


def test_a_second_run_on_a_held_folder_is_refused(tmp_path):
    recipe = recipe_for(tmp_path)
    with factory_run._lock(factory_run.RunDir(recipe.output_dir)):
        with pytest.raises(ValueError, match=r"is being written by another factory run \(pid \d+\)"):
            factory_run.run_recipe(recipe, progress=False)
    factory_run.run_recipe(recipe, progress=False)  # released: it runs


def test_changing_only_train_settings_resumes_the_data_run(tmp_path):
    from factory.recipe import TrainConfig

    recipe = recipe_for(tmp_path)
    factory_run.run_recipe(recipe, progress=False)
    traces = mtimes(tmp_path / "run/traces")
    factory_run.run_recipe(dataclasses.replace(recipe, train=TrainConfig(max_length=512)), progress=False)
    assert mtimes(tmp_path / "run/traces") == traces  # nothing regenerated


def test_verification_overlaps_generation(tmp_path):
    """Shard 0 is verified, selected and exported while later shards are still being generated."""
    recipe = recipe_for(tmp_path, engine={"seconds_per_token": 0.003})  # the fake 'GPU' sleeps, the CPU is free
    factory_run.run_recipe(recipe, progress=False)
    markers = tmp_path / "run/_markers"
    last_generated = max(p.stat().st_mtime for p in (markers / "generate").glob("shard-*.json"))
    assert (markers / "export_sft/shard-00000.json").stat().st_mtime < last_generated


def test_a_failure_downstream_stops_the_run_and_keeps_what_was_generated(tmp_path):
    recipe = recipe_for(tmp_path)
    recipe = dataclasses.replace(recipe, verify={**recipe.verify, "code": {}})
    src = tmp_path / "p.jsonl"
    with src.open("a") as f:  # a problem whose tests are malformed: the code verifier refuses it, naming the trace
        f.write(json.dumps({"id": "zz", "problem": "Print x.", "answer": "", "tests": [{"nope": 1}]}) + "\n")
    with pytest.raises(ValueError, match=r"verify\.code: trace 'zz/0'"):
        factory_run.run_recipe(recipe, progress=False)
    assert len(list((tmp_path / "run/_markers/generate").glob("shard-*.json"))) == 4  # every shard generated, kept


def test_a_folder_recorded_with_only_the_options_set_resumes(tmp_path):
    """recipe.json from before verifier configs held {"math": {}}; the same recipe still resumes."""
    recipe = recipe_for(tmp_path)
    factory_run.run_recipe(recipe, progress=False)
    path = tmp_path / "run/recipe.json"
    recorded = json.loads(path.read_text())
    recorded["verify"] = {"math": {}, "format": {}}
    path.write_text(json.dumps(recorded))
    assert factory_run.run_recipe(recipe, progress=False).redone == []
