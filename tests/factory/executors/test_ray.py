"""The Ray executor on a real local Ray: the same data as the local executor, and nothing lost
or duplicated when a generation replica dies in the middle of a shard."""

import dataclasses
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from fakes import recipe_for
from s3_server import CREDENTIALS, s3_location, s3_server

import factory.run as factory_run
from factory.recipe import ExecutorConfig, parse_recipe
from factory.stages.base import StageStats

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

# run-wide trace dedup: select's rejects depend on shard order (the fake traces are near-duplicates)
DEDUP = {"trace_dedup": {"scope": "run", "threshold": 0.8, "ngram": 5}}


@pytest.fixture(scope="module")
def ray_cluster():
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are length-limited
    # the workers' object-store credentials (for a run folder on the test's S3 server),
    # as a cluster's nodes have their own
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp,
        runtime_env={"env_vars": CREDENTIALS},
    )
    yield
    ray.shutdown()


def on_ray(recipe, **settings):
    return dataclasses.replace(
        recipe, executor=ExecutorConfig(kind="ray", cpus_per_replica=0.25, cpus_per_task=0.5, **settings)
    )


def frame(path: Path, key: str = "trace_id") -> pd.DataFrame:
    return pd.read_parquet(path).sort_values(key).reset_index(drop=True)


def assert_same_data(local: Path, remote: Path) -> None:
    """The exported SFT and rejected sets, the per-problem scores and the stage counts are the same."""
    for folder, key in (("export/sft", "trace_id"), ("export/rejected", "trace_id"), ("problems_scored", "problem_id")):
        pd.testing.assert_frame_equal(frame(local / folder, key), frame(remote / folder, key))
    for stage in ("generate", "verify", "select", "export_sft"):
        a, b = (json.loads((run / f"stats/{stage}.json").read_text()) for run in (local, remote))
        a.pop("seconds", None), b.pop("seconds", None)
        assert a == b, stage


def test_ray_run_equals_local_run(tmp_path, ray_cluster):
    (tmp_path / "local").mkdir(), (tmp_path / "ray").mkdir()
    factory_run.run_recipe(recipe_for(tmp_path / "local", **DEDUP), progress=False)
    summary = factory_run.run_recipe(on_ray(recipe_for(tmp_path / "ray", **DEDUP), replicas=2), progress=False)
    local, remote = tmp_path / "local/run", tmp_path / "ray/run"
    assert summary.traces == 40 and summary.kept > 0
    rejected = pd.read_parquet(remote / "export/rejected")
    assert (rejected.reject_reason == "near_duplicate_trace").any()  # run-wide dedup rejected some: order mattered
    assert_same_data(local, remote)


def test_replica_killed_mid_shard_loses_and_duplicates_nothing(tmp_path, ray_cluster, caplog):
    (tmp_path / "local").mkdir(), (tmp_path / "ray").mkdir()
    factory_run.run_recipe(recipe_for(tmp_path / "local", **DEDUP), progress=False)
    # ~0.1 s a sample, 12 samples a shard: a replica is always in the middle of one
    recipe = on_ray(recipe_for(tmp_path / "ray", engine={"seconds_per_token": 0.01}, **DEDUP), replicas=2)
    markers = tmp_path / "ray/run/_markers/generate"
    killed: list[str] = []

    def kill_a_replica() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(markers.glob("shard-*.json")):
            time.sleep(0.02)
        names = sorted(n for n in ray.util.list_named_actors() if n.startswith("factory-generate-0-"))
        if names and len(list(markers.glob("shard-*.json"))) < 4:
            ray.kill(ray.get_actor(names[0]), no_restart=False)
            killed.append(names[0])

    killer = threading.Thread(target=kill_a_replica)
    killer.start()
    with caplog.at_level("WARNING", logger="factory.executors.ray"):
        summary = factory_run.run_recipe(recipe, progress=False)
    killer.join()
    assert killed, "the replica was not killed while shards were left"
    assert "a replica died during shard" in caplog.text
    remote = tmp_path / "ray/run"
    traces = pd.read_parquet(remote / "traces")
    assert len(traces) == summary.traces == 40 and traces.trace_id.is_unique
    assert sorted(p.name for p in markers.glob("shard-*.json")) == [f"shard-{i:05d}.json" for i in range(4)]
    assert_same_data(tmp_path / "local/run", remote)


def test_ray_run_on_an_object_store_equals_local_run(tmp_path, ray_cluster):
    """Every task opens the run folder from its URI: nothing is shared but the S3 server."""
    pytest.importorskip("moto", reason="the test extra is not installed")
    import pyarrow.fs as pafs

    from factory.shards import open_location

    with s3_server(tmp_path) as query:
        location = s3_location(query, "runs/ray")
        factory_run.run_recipe(recipe_for(tmp_path, **DEDUP), progress=False)
        summary = factory_run.run_recipe(
            on_ray(dataclasses.replace(recipe_for(tmp_path, **DEDUP), run_dir=location), replicas=2), progress=False
        )
        assert summary.traces == 40 and summary.kept > 0
        fs, root = open_location(location)
        copy = tmp_path / "copy"
        pafs.copy_files(root, str(copy), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    assert_same_data(tmp_path / "run", copy)


def test_a_replica_streams_its_shards_through_one_engine_stream(tmp_path):
    """Shards sent to one replica share one stream (the engine never drains between them) and
    come back as the stage makes them shard by shard."""
    from concurrent.futures import ThreadPoolExecutor

    from factory.executors.ray import _Replica
    from factory.plan import build_plan
    from factory.shards import read_shard

    recipe = recipe_for(tmp_path)
    factory_run.run_recipe(recipe, progress=False, stop_after="read")
    step = next(s for s in build_plan(recipe).steps if s.name == "generate")
    shards = [list(read_shard(tmp_path / f"run/problems/shard-0000{i}.parquet")) for i in range(4)]
    replica, streams = _Replica(step), []
    stream = replica.stage.stream
    replica.stage.stream = lambda feed, **kw: (streams.append(1), stream(feed, **kw))[1]
    with ThreadPoolExecutor(2) as pool:  # as Ray runs a threaded actor's calls
        results = list(pool.map(lambda i: replica.generate(i, shards[i]), range(4)))
    assert streams == [1]
    alone = next(s for s in build_plan(recipe).steps if s.name == "generate").stages[0]
    for i, (index, rows, stats) in enumerate(results):
        expected = list(alone.run(shards[i], StageStats()))
        assert index == i and stats["rows_out"] == len(rows) == len(expected) == 4 * len(shards[i])
        assert [(r["trace_id"], r["completion"]) for r in rows] == [(r["trace_id"], r["completion"]) for r in expected]


def test_a_replica_whose_engine_fails_fails_its_shards_and_starts_again(tmp_path):
    from factory.executors.ray import _Replica
    from factory.plan import build_plan
    from factory.shards import read_shard

    recipe = recipe_for(tmp_path, engine={"crash_after_samples": 2})
    factory_run.run_recipe(recipe, progress=False, stop_after="read")
    step = next(s for s in build_plan(recipe).steps if s.name == "generate")
    replica = _Replica(step)
    with pytest.raises(KeyboardInterrupt, match="simulated kill"):
        replica.generate(0, list(read_shard(tmp_path / "run/problems/shard-00000.parquet")))
    assert not replica.streaming and not replica.waiting


def test_executor_section_never_blocks_a_resume(tmp_path, ray_cluster):
    recipe = recipe_for(tmp_path)
    factory_run.run_recipe(recipe, progress=False, stop_after="generate")
    traces = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run/traces").glob("shard-*.parquet")}
    summary = factory_run.run_recipe(on_ray(recipe), progress=False)
    assert summary.redone == [] and summary.kept > 0
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run/traces").glob("shard-*.parquet")} == traces


@pytest.mark.slow
def test_tiny_vllm_model_on_one_replica_equals_local(tmp_path, ray_cluster, tiny_model_dir):
    pytest.importorskip("vllm", reason="vLLM is not installed")
    problems = tmp_path / "p.jsonl"
    problems.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n" for i in range(6)
        )
    )
    raw = {
        "name": "tiny",
        "source": {"path": str(problems), "fields": {"prompt": "problem", "gold": "answer"}, "shard_size": 2},
        "generate": {
            "model": str(tiny_model_dir),
            "n": 3,
            "prefill": "<think>\n",
            "seed": 1,
            "sampling": {"temperature": 1.0, "max_tokens": 12},
            "engine": {"max_model_len": 512, "enforce_eager": True, "dtype": "float32"},
        },
        "verify": {"math": {}, "format": {}},
        "select": {"k": 1},
    }
    from factory.recipe import parse_recipe

    factory_run.run_recipe(parse_recipe({**raw, "run_dir": str(tmp_path / "local")}), progress=False)
    summary = factory_run.run_recipe(
        parse_recipe(
            {
                **raw,
                "run_dir": str(tmp_path / "ray"),
                "executor": {"kind": "ray", "replicas": 1, "cpus_per_replica": 1, "cpus_per_task": 0.5},
            }
        ),
        progress=False,
    )
    assert summary.traces == 18
    assert_same_data(tmp_path / "local", tmp_path / "ray")


def test_ray_is_imported_only_by_a_run_on_it():
    code = "import sys, factory.run, factory.cli; assert 'ray' not in sys.modules, 'ray was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])


def adaptive_recipe(tmp_path: Path):
    """The fake-backend recipe with n=8 drawn in rounds: 2 first, stopped at 2 passes."""
    tmp_path.mkdir()
    raw = recipe_for(tmp_path).to_dict()
    raw["generate"] = {**raw["generate"], "n": 8, "adaptive": {"first": 2, "passes": 2}}
    return parse_recipe(raw)


def test_adaptive_sampling_on_ray_equals_the_local_adaptive_run(tmp_path, ray_cluster):
    """Rounds run inside the replicas' one stream: the same samples, the same SFT set, the same cost."""
    local = factory_run.run_recipe(adaptive_recipe(tmp_path / "local"), progress=False)
    remote = factory_run.run_recipe(on_ray(adaptive_recipe(tmp_path / "ray"), replicas=2), progress=False)
    assert local.cost.later_rounds > 0 and local.cost.samples_saved > 0
    assert remote.traces < 10 * 8 and remote.cost.later_rounds == local.cost.later_rounds
    assert (remote.traces, remote.kept, remote.cost.samples) == (local.traces, local.kept, local.cost.samples)
    a, b = (frame(tmp_path / side / "run/traces") for side in ("local", "ray"))
    pd.testing.assert_frame_equal(a[["trace_id", "completion"]], b[["trace_id", "completion"]])
    assert_same_data(tmp_path / "local/run", tmp_path / "ray/run")
