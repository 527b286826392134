"""Errors are not verdicts: what the machinery failed to make is counted, never marked done, and redone
by the next run, which then ends with the dataset an uninterrupted run makes."""

from __future__ import annotations

import dataclasses
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
from factory.cli import main
from factory.failures import ERRORS, EXIT_ERRORS, VERDICTS, is_error
from factory.summary import RunSummary
from verifiers import VERIFIERS

TIMING = ("generate_seconds", "tokens_per_second", "run_dir", "sft_dir", "rejected_dir", "card", "redone")


def comparable(summary: RunSummary) -> dict[str, Any]:
    """A summary without what differs between two correct runs (timings, folders)."""
    return {k: v for k, v in summary.to_dict().items() if k not in TIMING}


def export(run: Path) -> list[tuple[str, str]]:
    sft = pd.read_parquet(run / "export/sft")
    return sorted(zip(sft.trace_id, sft.completion, strict=True))


def test_the_line_between_errors_and_verdicts_is_drawn_once():
    assert not set(ERRORS) & set(VERDICTS)
    assert is_error("generate:request_failed:http_503") and is_error("code:sandbox_error")
    assert is_error("verifier_error") and is_error("refine:request_failed")
    assert not is_error("generate:prompt_too_long") and not is_error("code:compile_error") and not is_error(None)


# -- the teacher fails ----------------------------------------------------------------------------


def test_a_failed_request_is_an_error_and_the_next_run_asks_only_that_problem_again(tmp_path):
    stub = Stub()
    try:
        stub.behave = lambda body, i: (503, {}, b"down") if "What is 3 + 3?" in json.dumps(body) else solve(body, i)
        recipe = openai_recipe(tmp_path / "a", stub.url, 6, 2)
        first = factory_run.run_recipe(recipe, progress=False)
        run = tmp_path / "a/run"
        assert first.errors == {"generate:request_failed:http_503": 1} and first.failed_problems == {}
        marker = json.loads((run / "_markers/generate/shard-00001.json").read_text())
        assert marker["errors"] == {"generate:request_failed:http_503": 1}
        # no step from generate on is done: the hole in the data is not final
        assert not list((run / "_markers").glob("*/_done.json"))[1:] and (run / "_markers/read/_done.json").exists()
        assert "p03" not in set(pd.read_parquet(run / "export/sft").problem_id)

        stub.behave, sent = solve, len(stub.bodies)  # the server is back
        second = factory_run.run_recipe(recipe, progress=False)
        retried = stub.bodies[sent:]
        assert retried and all("What is 3 + 3?" in json.dumps(b) for b in retried)  # that problem only
        assert second.errors == {} and (run / "_markers/export_sft/_done.json").exists()

        reference = factory_run.run_recipe(openai_recipe(tmp_path / "b", stub.url, 6, 2), progress=False)
        assert export(run) == export(tmp_path / "b/run")
        assert comparable(second) == comparable(reference)
        traces = pd.read_parquet(run / "traces")
        assert list(traces.trace_id) == list(pd.read_parquet(tmp_path / "b/run/traces").trace_id)  # same order
    finally:
        stub.close()


# -- a verifier crashes ---------------------------------------------------------------------------


def crash_on(monkeypatch: pytest.MonkeyPatch, problem: str) -> None:
    math = VERIFIERS["math"]

    def one(row, config):
        if row["problem_id"] == problem:
            raise RuntimeError("the verifier's worker died")
        return math.one(row, config)

    monkeypatch.setitem(VERIFIERS, "math", dataclasses.replace(math, one=one, batch=None))


def test_a_crashed_verifier_is_an_error_retried_with_every_step_after_it(tmp_path, monkeypatch):
    recipe = recipe_for(tmp_path)
    with monkeypatch.context() as m:
        crash_on(m, "p04")
        first = factory_run.run_recipe(recipe, progress=False)
    assert first.errors == {"verify:math:verifier_error": 4}
    run = tmp_path / "run"
    assert (run / "_markers/generate/_done.json").exists() and not (run / "_markers/verify/_done.json").exists()
    traces = {p: p.stat().st_mtime_ns for p in (run / "traces").iterdir()}

    second = factory_run.run_recipe(recipe, progress=False)
    assert second.errors == {} and (run / "_markers/export_sft/_done.json").exists()
    assert {p: p.stat().st_mtime_ns for p in (run / "traces").iterdir()} == traces  # nothing regenerated
    (tmp_path / "b").mkdir()
    reference = factory_run.run_recipe(recipe_for(tmp_path / "b"), progress=False)
    assert export(run) == export(tmp_path / "b/run") and comparable(second) == comparable(reference)


def test_factory_run_says_what_failed_and_how_to_retry_with_its_own_exit_status(tmp_path, monkeypatch, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe_for(tmp_path).to_dict()))
    with monkeypatch.context() as m:
        crash_on(m, "p04")
        assert main(["run", str(path), "-q", "--set", "select.k=2"]) == EXIT_ERRORS == 3
    out = capsys.readouterr().out
    assert "NOT FINISHED: 4 traces" in out and "verify:math:verifier_error" in out
    assert f"factory run {path} --set select.k=2" in out
    assert main(["run", str(path), "-q", "--set", "select.k=2"]) == 0
    assert "NOT FINISHED" not in capsys.readouterr().out


# -- the environment ------------------------------------------------------------------------------


def code_recipe(tmp_path: Path) -> Path:
    data = recipe_for(tmp_path).to_dict()
    data["verify"]["code"] = {}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("bwrap"), reason="needs root")
def test_a_machine_without_a_working_sandbox_is_refused_in_one_line_before_anything_runs(tmp_path):
    bwrap = shutil.which("bwrap")
    command = f"mount --bind /dev/null {bwrap} && exec {sys.executable} -m factory.cli run {code_recipe(tmp_path)} -q"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True, text=True, env=env)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("factory: error: verify.code: the code sandbox cannot run here")
    assert "apt-get install bubblewrap" in line
    assert not (tmp_path / "run").exists()  # refused before the run folder, the engine or a sample
    ok = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(tmp_path / "r.yaml"), "-q"], env=env)
    assert ok.returncode == 0  # the sandbox back: the same command runs


def test_the_temporary_files_a_killed_run_leaves_are_removed_by_the_next_run(tmp_path):
    script = Path(__file__).parent / "kill_run.py"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    crash = subprocess.run([sys.executable, str(script), str(tmp_path), "crash"], capture_output=True, env=env)
    assert crash.returncode == 17, crash.stderr
    assert list((tmp_path / "run").rglob(".*.tmp-*"))  # killed in the middle of a write
    subprocess.run([sys.executable, str(script), str(tmp_path), "finish"], check=True, env=env)
    assert not list((tmp_path / "run").rglob(".*.tmp-*"))


# -- inputs ---------------------------------------------------------------------------------------


def test_a_read_that_failed_resumes_with_other_source_settings(tmp_path, capsys):
    data = recipe_for(tmp_path).to_dict()
    source = Path(data["source"]["path"])
    source.write_bytes(source.read_bytes() + b'{"id": "bad", "problem": "\xff", "answer": "1"}\n')
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "-q"]) == 2
    assert "p.jsonl:row 11: not valid UTF-8" in capsys.readouterr().err
    assert main(["run", str(path), "-q", "--set", "source.on_bad_row=skip"]) == 0  # not "sections changed"
    assert "(1 bad rows skipped)" in capsys.readouterr().out
    # a read that finished is protected as before
    assert main(["run", str(path), "-q", "--set", "source.on_bad_row=fail"]) == 2
    assert "sections changed: source" in capsys.readouterr().err


def test_a_missing_local_source_is_one_line_naming_it_at_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = recipe_for(tmp_path).to_dict()
    data["source"]["path"] = "inputs/nope.jsonl"
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    assert main(["run", "r.yaml", "-q"]) == 2
    assert (
        capsys.readouterr().err
        == f"factory: error: source.path: file not found: inputs/nope.jsonl (relative to {tmp_path})\n"
    )


def test_blank_gold_and_oversized_problems_are_rejected_at_read_into_problems_rejected(tmp_path):
    recipe = recipe_for(tmp_path)
    recipe = dataclasses.replace(recipe, source=dataclasses.replace(recipe.source, max_prompt_chars=100))
    source = Path(recipe.source.path)
    rows = source.read_text().splitlines()
    rows[2] = json.dumps({"id": "p02", "problem": "What is 2 + 2?", "answer": ""})
    rows[5] = json.dumps({"id": "p05", "problem": "What is 5 + 5?" + " " * 200, "answer": "10"})
    source.write_text("\n".join(rows) + "\n")
    summary = factory_run.run_recipe(recipe, progress=False)
    rejected = pd.read_parquet(tmp_path / "run/problems_rejected")
    assert dict(zip(rejected.id, rejected.reject_reason, strict=True)) == {
        "p02": "empty_gold",
        "p05": "prompt_too_long_chars",
    }
    assert summary.problems == 8 and summary.problems_filtered == {"empty_gold": 1, "prompt_too_long_chars": 1}
    assert not {"p02", "p05"} & set(pd.read_parquet(tmp_path / "run/traces").problem_id)


# -- the machine: one line naming the path, a traceback only with -v --------------------------------


def machine_recipe(tmp_path: Path, run_dir: Path) -> Path:
    data = recipe_for(tmp_path).to_dict()
    data["run_dir"] = str(run_dir)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def as_root_in_a_mount_namespace(mounts: str, recipe: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``factory run`` behind ``mounts`` (shell commands run first), which vanish when it ends."""
    command = f"{mounts} && exec {sys.executable} -m factory.cli run {recipe} -q {' '.join(args)}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True, text=True, env=env)


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")


@pytest.mark.parametrize("where", ["file", "below_a_file"])
def test_a_run_dir_that_is_a_file_is_one_line_naming_it(tmp_path, capsys, where):
    (tmp_path / "f").write_text("not a folder")
    run_dir = tmp_path / "f" if where == "file" else tmp_path / "f/run"
    recipe = machine_recipe(tmp_path, run_dir)
    assert main(["run", str(recipe), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"factory: error: {tmp_path / 'f'}") and "a file is where a folder must be" in err
    assert len(err.splitlines()) == 1 and "-v shows the traceback" in err
    assert main(["-v", "run", str(recipe), "-q"]) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


@needs_root
def test_a_run_folder_that_cannot_be_written_is_one_line_naming_it(tmp_path):
    (tmp_path / "ro").mkdir()
    recipe = machine_recipe(tmp_path, tmp_path / "ro/run")
    proc = as_root_in_a_mount_namespace(f"mount --bind -o ro {tmp_path / 'ro'} {tmp_path / 'ro'}", recipe)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"factory: error: {tmp_path / 'ro/run'}: Read-only file system"), line


@needs_root
def test_a_full_disk_is_one_line_naming_the_file(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = as_root_in_a_mount_namespace(f"mount -t tmpfs -o size=16k tmpfs {run}", machine_recipe(tmp_path, run))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("factory: error: ") and str(run) in line and "the disk is full" in line, line


def test_an_override_that_is_not_yaml_is_one_line_naming_it(tmp_path, capsys):
    recipe = machine_recipe(tmp_path, tmp_path / "run")
    assert main(["run", str(recipe), "--set", "generate.sampling={temperature: [1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("factory: error: override 'generate.sampling={temperature: [1': the value is not valid YAML")
    assert len(err.splitlines()) == 1
