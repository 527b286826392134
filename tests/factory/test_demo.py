"""The demo recipe (math and code in one run) on the embedded SmolLM2-135M-Instruct, cut to a handful of problems."""

from pathlib import Path

import pandas as pd
import pytest

from factory.models import prepare_embedded
from factory.recipe import load_recipe
from factory.run import run_recipe
from verifiers.sandbox import bwrap_path

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bwrap_path() is None, reason="the code verifier needs bubblewrap")]


def test_demo_recipe_on_smollm2(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the recipe's data path is relative to the repository
    model = prepare_embedded("smollm2")  # converted once, cached under ~/.cache/factory
    assert (model / "config.json").exists()
    recipe = load_recipe(
        ROOT / "recipes/demo/mixed.yaml",
        [
            f"run_dir={tmp_path / 'run'}",
            "source.limit=4",
            "source.shard_size=2",
            "generate.n=3",
            "generate.sampling.max_tokens=96",
            "generate.engine.enforce_eager=true",
        ],
    )
    summary = run_recipe(recipe, progress=False)
    assert summary.problems == 4 and summary.traces == 12
    assert summary.tokens_per_second > 0
    traces = pd.read_parquet(tmp_path / "run/traces")
    # the few-shot format takes: a real chat model closes its think block and boxes an answer
    closed = traces.reasoning.notna().mean()
    assert closed > 0.5, traces.completion.tolist()
    verified = pd.read_parquet(tmp_path / "run/verified")
    assert set(verified.domain) == {"math", "code"}  # the file alternates: two of each
    assert verified[verified.domain == "math"].math_extracted.notna().any()
    assert (verified[verified.domain == "code"].code_reason != "not_applicable").all()
    sft = pd.read_parquet(tmp_path / "run/export/sft")
    rejected = pd.read_parquet(tmp_path / "run/export/rejected")
    assert len(sft) + len(rejected) == 12 and len(sft) == summary.kept
    for _, row in sft.iterrows():  # what is kept is right, by the verifier of its domain
        assert row.completion[0]["content"].startswith("<think>\n")
        assert verified.set_index("trace_id").loc[row.trace_id, f"{row.domain}_passed"]
