"""Run folders on an object store: a real S3-compatible server on 127.0.0.1 (moto's, in its own
process) holds the run; the data is the same as on a local disk, and the run resumes there."""

import dataclasses

import pandas as pd
import pyarrow.fs as pafs
import pytest
from fakes import recipe_for

import factory.run as factory_run
from factory.errors import RecipeError
from factory.shards import RunDir, open_location, redact

pytest.importorskip("moto", reason="the test extra is not installed (pip install -e '.[test]')")
from s3_server import s3_location, s3_server  # noqa: E402

DEDUP = {"trace_dedup": {"scope": "run", "threshold": 0.8, "ngram": 5}}  # select's rejects depend on shard order


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with s3_server(tmp_path_factory.mktemp("s3")) as query:
        yield query


def on_store(recipe, location):
    return dataclasses.replace(recipe, run_dir=location)


def frame(location: str, folder: str, key: str) -> pd.DataFrame:
    fs, root = open_location(location)
    return pd.read_parquet(f"{root}/{folder}", filesystem=fs).sort_values(key).reset_index(drop=True)


def assert_same_data(local: str, remote: str) -> None:
    for folder, key in (("export/sft", "trace_id"), ("export/rejected", "trace_id"), ("problems_scored", "problem_id")):
        pd.testing.assert_frame_equal(frame(local, folder, key), frame(remote, folder, key))
    for stage in ("generate", "verify", "select", "export_sft"):
        a, b = (RunDir(run).read_json("stats", f"{stage}.json") for run in (local, remote))
        a.pop("seconds", None), b.pop("seconds", None)
        assert a == b, stage


def test_a_run_on_s3_equals_a_run_on_disk(tmp_path, s3):
    location = s3_location(s3, "runs/same")
    local = factory_run.run_recipe(recipe_for(tmp_path, **DEDUP), progress=False)
    remote = factory_run.run_recipe(on_store(recipe_for(tmp_path, **DEDUP), location), progress=False)
    assert remote.traces == local.traces == 40 and remote.kept == local.kept > 0
    assert (frame(location, "export/rejected", "trace_id").reject_reason == "near_duplicate_trace").any()
    assert_same_data(str(tmp_path / "run"), location)
    run = RunDir(location)
    assert remote.sft_dir == f"s3://factory-test/runs/same/export/sft?{s3}"
    assert remote.card == f"s3://factory-test/runs/same/README.md?{s3}"
    assert "configs:" in run.read_text("README.md")
    assert [p.rpartition("/")[2] for p in run.files("plots", suffix=".png")] == [
        "length.png",
        "pass_rate.png",
        "sources.png",
    ]
    assert not [p for p in run.files("export/sft") if ".tmp" in p]  # nothing half-written was left behind


def test_a_run_on_s3_resumes_and_redoes_only_what_changed(tmp_path, s3):
    location = s3_location(s3, "runs/resume")
    recipe = on_store(recipe_for(tmp_path), location)
    factory_run.run_recipe(recipe, progress=False, stop_after="verify")
    run = RunDir(location)
    assert run.exists("_markers/verify/_done.json") and not run.exists("selected")
    generated = [(i.path, i.mtime_ns) for i in run.fs.get_file_info(run.shards("traces"))]
    summary = factory_run.run_recipe(recipe, progress=False)
    assert summary.redone == [] and summary.kept > 0
    assert [(i.path, i.mtime_ns) for i in run.fs.get_file_info(run.shards("traces"))] == generated
    changed = on_store(recipe_for(tmp_path, k=1), location)
    summary = factory_run.run_recipe(changed, progress=False)
    assert summary.redone == ["select", "difficulty", "export_sft", "export_rejected"]
    assert [(i.path, i.mtime_ns) for i in run.fs.get_file_info(run.shards("traces"))] == generated
    assert summary.problems_with_kept == summary.kept  # k=1: one trace a problem, from the same traces
    direct = factory_run.run_recipe(on_store(recipe_for(tmp_path, k=1), s3_location(s3, "runs/direct")), progress=False)
    assert_same_data(s3_location(s3, "runs/direct"), location)
    assert direct.kept == summary.kept


def test_a_second_run_on_the_same_s3_folder_is_refused(tmp_path, s3):
    recipe = on_store(recipe_for(tmp_path), s3_location(s3, "runs/locked"))
    with (
        factory_run._lock(RunDir(recipe.run_location)),
        pytest.raises(RecipeError, match="being written by another factory run"),
    ):
        factory_run.run_recipe(recipe, progress=False)


def test_an_fsspec_protocol_pyarrow_lacks_is_opened_through_fsspec(tmp_path):
    location = f"memory://factory/{tmp_path.name}"  # fsspec's in-process store: one per test
    fs, path = open_location(location)
    assert isinstance(fs, pafs.PyFileSystem) and path == f"/factory/{tmp_path.name}"
    summary = factory_run.run_recipe(on_store(recipe_for(tmp_path), location), progress=False)
    local = factory_run.run_recipe(recipe_for(tmp_path), progress=False)
    assert summary.kept == local.kept > 0
    assert_same_data(str(tmp_path / "run"), location)


def test_an_unknown_protocol_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"run_dir: cannot open 'nope://bucket/run'"):
        RunDir("nope://bucket/run")


def test_secrets_in_a_location_are_not_shown():
    assert redact("s3://key:secret@bucket/run?scheme=http") == "s3://key:***@bucket/run?scheme=http"
    assert str(RunDir("/tmp/x")) == "/tmp/x"


def test_train_and_eval_name_an_object_store_run_dir(tmp_path, s3):
    recipe = on_store(recipe_for(tmp_path), s3_location(s3, "runs/train"))
    with pytest.raises(RecipeError, match=r"run_dir: s3://factory-test/runs/train is not a local folder"):
        _ = recipe.output_dir
