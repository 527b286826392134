"""Markers are checked, not trusted: a shard deleted or damaged behind its marker is found (by
``factory check`` and by the next run) and redone, with every step after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakes import recipe_for

import factory.run as factory_run
from factory.cli import main
from factory.executors.base import check_run
from factory.shards import RunDir

TIMING = ("generate_seconds", "tokens_per_second", "run_dir", "sft_dir", "rejected_dir", "card", "redone")


def outcome(run: Path, summary: Any) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    sft = pd.read_parquet(run / "export/sft")
    return sorted(zip(sft.trace_id, sft.completion, strict=True)), {
        k: v for k, v in summary.to_dict().items() if k not in TIMING
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("reference")
    return outcome(tmp / "run", factory_run.run_recipe(recipe_for(tmp), progress=False))


@pytest.mark.parametrize("how", ["delete", "truncate"])
@pytest.mark.parametrize("folder", ["problems", "traces", "traces_failed", "verified", "selected", "export/sft"])
def test_a_damaged_shard_is_found_and_redone_with_every_step_after_it(tmp_path, reference, folder, how, capsys):
    recipe = recipe_for(tmp_path)
    factory_run.run_recipe(recipe, progress=False)
    shard = tmp_path / "run" / folder / "shard-00001.parquet"
    if how == "delete":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    (line,) = check_run(RunDir(tmp_path / "run"))
    assert f"{folder}/shard-00001.parquet" in line and ("missing" if how == "delete" else "bytes") in line
    assert main(["check", str(tmp_path / "run")]) == 1 and "damaged:" in capsys.readouterr().out

    summary = factory_run.run_recipe(recipe, progress=False)
    assert check_run(RunDir(tmp_path / "run")) == []
    assert main(["check", str(tmp_path / "run")]) == 0
    assert outcome(tmp_path / "run", summary) == reference
