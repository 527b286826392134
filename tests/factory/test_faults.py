"""Fault injection on the real pipeline (issue 24): kill it, damage it, take its teacher, its sandbox or
its disk away; once the fault is fixed, a rerun of the same recipe ends with the export an
uninterrupted run makes: the same trace_ids, the same completions, the same summary (0 rows lost,
0 duplicated). The fault table in docs/failures.md lists these cases.

Run it alone: ``pytest tests/factory/test_faults.py``. The cases that need root (a mount namespace)
are skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from fakes import openai_recipe, recipe_for
from openai_stub import Stub, solve

import factory.run as factory_run
from factory.recipe import parse_recipe
from factory.summary import RunSummary

HERE = Path(__file__).parent
ROOT = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TIMING = ("generate_seconds", "tokens_per_second", "run_dir", "sft_dir", "rejected_dir", "card", "redone")

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")


def outcome(run: Path, summary: RunSummary | dict[str, Any]) -> dict[str, Any]:
    """What two correct runs share: the exported rows (trace_id, completion) and the summary less timings.
    Asserts that no row is duplicated."""
    sft, rejected = pd.read_parquet(run / "export/sft"), pd.read_parquet(run / "export/rejected")
    rows = pd.concat([sft.trace_id, rejected.trace_id])
    assert rows.is_unique, "a row was duplicated"
    data = summary if isinstance(summary, dict) else summary.to_dict()
    return {
        "sft": sorted(zip(sft.trace_id, sft.completion, strict=True)),
        "rejected": sorted(zip(rejected.trace_id, rejected.completion, strict=True)),
        "summary": {k: v for k, v in data.items() if k not in TIMING},
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Any]:
    """An uninterrupted run of the fake-backend recipe."""
    tmp = tmp_path_factory.mktemp("reference")
    out = outcome(tmp / "run", factory_run.run_recipe(recipe_for(tmp), progress=False))
    assert len(out["sft"]) + len(out["rejected"]) == 40  # 10 problems x 4 samples: none lost
    return out


def rerun(tmp: Path) -> dict[str, Any]:
    """The fault fixed: the same recipe again, in this process."""
    return outcome(tmp / "run", factory_run.run_recipe(recipe_for(tmp), progress=False))


# -- kills -----------------------------------------------------------------------------------------

# (where, n): die at the n-th batch written into a temporary shard file (mid-write), the n-th shard
# renamed into place (before its marker), or the n-th JSON file written (markers, stats, the recipe).
# 4 shards x (read: problems + rejects; generate: traces + failed; verify; select; difficulty; export x 2)
KILLS = [
    ("write", 1),  # read, the first shard
    ("write", 5),  # generate
    ("write", 9),  # verify
    ("write", 14),  # select
    ("write", 22),  # export_sft
    ("shard", 1),  # read: problems written, its rejects not
    ("shard", 9),  # generate: traces written, traces_failed not
    ("shard", 30),  # export_sft, before its marker
    ("json", 1),  # the recipe recorded, nothing else
    ("json", 6),  # read's last shard marker, before its _done
    ("json", 20),  # a later step's marker
    ("json", 40),  # near the end
]


@pytest.mark.parametrize(("at", "n"), KILLS, ids=[f"{at}-{n}" for at, n in KILLS])
def test_a_run_killed_at_any_point_then_rerun_equals_an_uninterrupted_one(tmp_path, reference, at, n):
    killed = subprocess.run(
        [sys.executable, str(HERE / "kill_run.py"), str(tmp_path), "kill", at, str(n)], capture_output=True, env=ENV
    )
    assert killed.returncode == 17, killed.stderr  # it died where it was told to
    assert rerun(tmp_path) == reference


@pytest.mark.slow
def test_a_run_through_the_tiny_vllm_model_killed_mid_generation_then_rerun_equals_an_uninterrupted_one(
    tmp_path, tiny_model_dir
):
    problems = tmp_path / "p.jsonl"
    problems.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n" for i in range(6)
        )
    )

    def recipe_file(name: str) -> Path:
        raw = {
            "name": name,
            "run_dir": str(tmp_path / name),
            "source": {"path": str(problems), "fields": {"prompt": "problem", "gold": "answer"}, "shard_size": 2},
            "generate": {
                "model": str(tiny_model_dir),
                "n": 3,
                "prefill": "<think>\n",
                "seed": 1,
                "sampling": {"temperature": 1.0, "max_tokens": 12},
                "engine": {"max_model_len": 512, "enforce_eager": True},
            },
            "verify": {"math": {}, "format": {}},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    clean = factory_run.run_recipe(parse_recipe(yaml.safe_load(recipe_file("clean").read_text())), progress=False)
    expected = outcome(tmp_path / "clean", clean)
    killed_recipe = recipe_file("killed")
    # 3 read shards (problems + rejects each), then the first generate shard (traces + failed), before its marker
    killed = subprocess.run(
        [sys.executable, str(HERE / "kill_run.py"), str(tmp_path), "kill", "shard", "8", str(killed_recipe)],
        capture_output=True,
        env=ENV,
    )
    assert killed.returncode == 17, killed.stderr[-2000:]
    assert not (tmp_path / "killed/export").exists()  # it died before the end
    again = factory_run.run_recipe(parse_recipe(yaml.safe_load(killed_recipe.read_text())), progress=False)
    got = outcome(tmp_path / "killed", again)
    assert got["sft"] == expected["sft"] and got["rejected"] == expected["rejected"]
    assert {k: v for k, v in got["summary"].items() if k != "recipe"} == {
        k: v for k, v in expected["summary"].items() if k != "recipe"
    }


# -- damage behind a marker ------------------------------------------------------------------------
# problems, traces, traces_failed, verified, selected and export/sft: tests/factory/executors/test_base.py
# (test_a_damaged_shard_is_found_and_redone_with_every_step_after_it). The others here:


@pytest.mark.parametrize("how", ["delete", "truncate"])
@pytest.mark.parametrize("folder", ["problems_rejected", "problems_scored", "export/rejected"])
def test_a_deleted_or_truncated_shard_of_every_other_step_is_redone(tmp_path, reference, folder, how):
    factory_run.run_recipe(recipe_for(tmp_path), progress=False)
    shard = tmp_path / "run" / folder / "shard-00002.parquet"
    if how == "delete":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert rerun(tmp_path) == reference
    assert shard.exists()


# -- the teacher server down, then back ------------------------------------------------------------


def test_the_teacher_server_down_mid_run_then_back(tmp_path):
    stub = Stub()
    try:
        stub.behave = lambda body, i: solve(body, i) if i < 3 else (503, {}, b"down")  # answers 3, then goes down
        first = factory_run.run_recipe(openai_recipe(tmp_path / "a", stub.url, 8, 3), progress=False)
        assert sum(first.errors.values()) == 5 and first.kept < 16  # 8 problems, 3 answered
        stub.behave = solve
        second = factory_run.run_recipe(openai_recipe(tmp_path / "a", stub.url, 8, 3), progress=False)
        assert second.errors == {}
        reference = factory_run.run_recipe(openai_recipe(tmp_path / "b", stub.url, 8, 3), progress=False)
        assert outcome(tmp_path / "a/run", second) == outcome(tmp_path / "b/run", reference)
    finally:
        stub.close()


# -- a broken sandbox, a disk that fails -----------------------------------------------------------


def cli_in_a_mount_namespace(tmp: Path, mounts: str, data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """``factory run`` of ``data`` as a recipe, behind ``mounts`` (gone when it ends)."""
    (tmp / "r.yaml").write_text(yaml.safe_dump(data, sort_keys=False))  # verify's order decides first reasons
    command = f"{mounts} && exec {sys.executable} -m factory.cli run {tmp / 'r.yaml'} -q"
    return subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True, text=True, env=ENV)


@needs_root
@pytest.mark.skipif(not shutil.which("bwrap"), reason="needs bubblewrap")
def test_a_broken_sandbox_then_fixed(tmp_path):
    data = recipe_for(tmp_path).to_dict()
    data["verify"]["code"] = {}
    broken = cli_in_a_mount_namespace(tmp_path, f"mount --bind /dev/null {shutil.which('bwrap')}", data)
    assert broken.returncode == 2 and "the code sandbox cannot run here" in broken.stderr
    fixed = factory_run.run_recipe(parse_recipe(data), progress=False)
    (tmp_path / "b").mkdir()
    reference = dict(data, run_dir=str(tmp_path / "b/run"))
    assert outcome(tmp_path / "run", fixed) == outcome(
        tmp_path / "b/run", factory_run.run_recipe(parse_recipe(reference), progress=False)
    )


@needs_root
@pytest.mark.parametrize(
    ("folder", "mount"),
    [
        ("export", "mount --bind -o ro {path} {path}"),  # a read-only folder: the export step cannot write
        ("traces", "mount -t tmpfs -o size=4k tmpfs {path}"),  # a full disk; what it held is gone afterwards
    ],
    ids=["read-only", "full"],
)
def test_a_disk_that_fails_mid_run(tmp_path, reference, folder, mount):
    path = tmp_path / "run" / folder
    path.mkdir(parents=True)
    failed = cli_in_a_mount_namespace(tmp_path, mount.format(path=path), recipe_for(tmp_path).to_dict())
    assert failed.returncode == 2, failed.stderr
    (line,) = failed.stderr.strip().splitlines()
    assert line.startswith(f"factory: error: {path}"), line
    assert rerun(tmp_path) == reference
