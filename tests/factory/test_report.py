"""The dataset card: rendered for a small run, its numbers checked against the data on disk."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from fakes import recipe_for

import factory.run as factory_run
from factory.cli import main
from factory.report import write_report


@pytest.fixture
def run_dir(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "b-3", "problem": "What is 3 + 3?"}) + "\n")
    src = tmp_path / "p.jsonl"
    recipe = recipe_for(
        tmp_path,
        max_pass_rate=0.9,
        trace_dedup={"scope": "problem"},
        problem_dedup={},
        decontaminate={"benchmarks": [{"path": str(bench), "name": "tiny-bench"}]},
    )
    with src.open("a") as f:
        f.write(json.dumps({"id": "copy5", "problem": "What is 5 + 5?", "answer": "10", "source": "other"}) + "\n")
        f.write(json.dumps({"id": "x1", "problem": "What is 21 + 21?", "answer": "42", "source": "other"}) + "\n")
    factory_run.run_recipe(recipe, progress=False)
    return tmp_path / "run"


def table(readme: str, heading: str) -> list[list[str]]:
    """The first Markdown table after ``heading``, without its header rows."""
    section = readme.split(heading, 1)[1]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    rows, started = [], False
    for ln in section.splitlines():
        if ln.startswith("|"):
            started = True
            rows.append([c.strip().strip("`") for c in ln.strip("|").split("|")])
        elif started:
            break
    assert lines, heading
    return rows[2:]


def test_report_numbers_match_the_data(run_dir):
    assert main(["report", str(run_dir)]) == 0
    readme = (run_dir / "README.md").read_text()
    sel = pd.read_parquet(run_dir / "selected")
    sft = pd.read_parquet(run_dir / "export/sft")

    head = yaml.safe_load(readme.split("---")[1])
    assert head["configs"][0]["data_files"][0]["path"] == "export/sft/*.parquet"
    assert head["size_categories"] == ["n<1K"] and head["pretty_name"] == "t"

    stages = {r[0]: r for r in table(readme, "## Counts at every stage")}
    assert int(stages["select"][1]) == len(sel) and int(stages["select"][2]) == int(sel.keep.sum()) == len(sft)
    # the read step: the reader, then each problem filter on what the one before it kept
    assert [list(map(int, stages[s][1:3])) for s in ("read", "problem_check", "decontaminate", "problem_dedup")] == [
        [12, 12],
        [12, 12],
        [12, 11],
        [11, 10],
    ]
    assert int(stages["problem_dedup"][2]) == len(pd.read_parquet(run_dir / "problems"))
    assert stages["decontaminate"][3] == "contaminated 1" and stages["problem_dedup"][3] == "duplicate_problem 1"
    assert list(stages) == [
        "read",
        "problem_check",
        "decontaminate",
        "problem_dedup",
        "generate",
        "verify",
        "select",
        "difficulty",
        "export_sft",
        "export_rejected",
    ]  # the plan's order

    reasons = {r[0]: int(r[1]) for r in table(readme, "## Drop reasons")}
    assert reasons == sel[~sel.keep].reject_reason.value_counts().to_dict()
    assert f"{len(sft)} of {len(sel)} traces kept" in readme

    hits = table(readme, "## Problem filters")
    assert [(h[0], h[1], h[2]) for h in hits] == [("p03", "tiny-bench", "b-3")]

    per_problem = sel.groupby("problem_id").pass_rate.first()
    hist = [int(r[1]) for r in table(readme, "## Pass-rate distribution")]
    assert hist == np.histogram(per_problem, bins=np.linspace(0, 1, 11))[0].tolist()
    assert sum(hist) == sel.problem_id.nunique()

    lengths = {r[0]: r for r in table(readme, "## Length distribution")}
    assert int(lengths["kept"][1]) == len(sft)
    assert int(lengths["kept"][6]) == sel[sel.keep].completion_tokens.max()
    assert float(lengths["rejected"][2]) == pytest.approx(sel[~sel.keep].completion_tokens.mean(), abs=0.05)

    sources = {r[0]: [int(x) for x in r[1:]] for r in table(readme, "## Per-source counts")}
    expected = {
        s: [g.problem_id.nunique(), len(g), int(g.keep.sum()), g[g.keep].problem_id.nunique()]
        for s, g in sel.groupby("source")
    }
    assert sources == expected and set(sources) == {"p", "other"}

    for name in ("pass_rate", "length", "sources"):
        png = run_dir / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plots/{name}.png" in readme
    assert re.search(r"```yaml\nname: t\n", readme)


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ValueError, match="not a run folder"):
        write_report(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
