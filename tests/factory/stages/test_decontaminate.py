"""Decontamination: n-gram overlap with benchmark files, before generation, listed for the report."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import factory.run as factory_run
from factory.recipe import BenchmarkFile, DecontaminateConfig, parse_recipe
from factory.stages.base import StageStats
from factory.stages.decontaminate import BenchmarkIndex, ProblemDecontaminator, read_benchmark, words

ROOT = Path(__file__).parents[3]
BENCH = (
    "In triangle ABC, the angle bisector from A meets side BC at D. If AB equals 13, AC equals 15 and "
    "BC equals 14, find the length of the segment BD."
)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def check(index: BenchmarkIndex, *texts: str, min_matches: int = 1):
    return index.check(list(texts), min_matches)


def test_13_gram_overlap_is_found_with_benchmark_item_and_ngram():
    index = BenchmarkIndex(13)
    index.add("geo", [("g1", BENCH), ("g2", "Completely unrelated benchmark text about prime numbers and their sums.")])
    ws = words(BENCH)
    leaked = (
        "Homework: " + " ".join(ws[3:16]).upper() + "!!! then something else"
    )  # exactly 13 words, case and punctuation changed
    near_miss = "Homework: " + " ".join(ws[3:15]) + " then something else"  # 12 words
    hit, miss, clean = check(index, leaked, near_miss, "What is 2 + 2?")
    assert hit is not None and hit.benchmark == "geo" and hit.benchmark_id == "g1" and hit.matches == 1
    assert hit.ngram == " ".join(ws[3:16])
    assert miss is None and clean is None
    assert check(index, BENCH)[0].matches == len(ws) - 12  # every 13-gram of a verbatim copy


def test_ngram_size_and_min_matches_are_configurable():
    ws = words(BENCH)
    eight = "Rephrased: " + " ".join(ws[5:13]) + " in other words."
    index8, index13 = BenchmarkIndex(8), BenchmarkIndex(13)
    for idx in (index8, index13):
        idx.add("geo", [("g1", BENCH)])
    assert check(index8, eight)[0] is not None and check(index13, eight)[0] is None
    assert check(index8, eight, min_matches=2)[0] is None


def test_short_benchmark_items_match_whole():
    index = BenchmarkIndex(13)
    index.add("tiny", [("t1", "What is the sum of 17 and 25?")])
    assert check(index, "Quick one. What is the sum of 17 and 25? Show work.")[0].benchmark_id == "t1"
    assert check(index, "What is the sum of 17 and 26?")[0] is None


def test_benchmark_files_jsonl_parquet_and_field_detection(tmp_path):
    pq.write_table(pa.table({"Question": [BENCH], "qid": ["q-7"]}), tmp_path / "gpqa.parquet")
    name, items = read_benchmark(BenchmarkFile(path=str(tmp_path / "gpqa.parquet"), id_field="qid"))
    assert name == "gpqa" and items == [("q-7", BENCH)]
    write_jsonl(tmp_path / "lcb.jsonl", [{"question_content": "x"}])
    assert read_benchmark(BenchmarkFile(path=str(tmp_path / "lcb.jsonl"), name="lcb"))[1] == [("lcb:1", "x")]
    write_jsonl(tmp_path / "odd.jsonl", [{"statement": "x"}])
    with pytest.raises(ValueError, match="odd.jsonl:row 1"):
        read_benchmark(BenchmarkFile(path=str(tmp_path / "odd.jsonl")))
    assert read_benchmark(BenchmarkFile(path=str(tmp_path / "odd.jsonl"), field="statement"))[1] == [("odd:1", "x")]


def test_stage_marks_rows_and_counts_hits(tmp_path):
    bench = write_jsonl(tmp_path / "aime.jsonl", [{"id": "a1", "problem": BENCH}])
    stage = ProblemDecontaminator(DecontaminateConfig(benchmarks=[BenchmarkFile(path=str(bench))]))
    rows = [
        {"id": "p1", "prompt": "What is 2 + 2?"},
        {"id": "p2", "prompt": None, "messages": [{"role": "user", "content": "Solve: " + BENCH}]},
    ]
    stats = StageStats()
    out = list(stage.run(rows, stats))
    assert out[0].get("reject_reason") is None and out[1]["reject_reason"] == "contaminated"
    details = json.loads(out[1]["reject_details"])
    assert details["benchmark"] == "aime" and details["benchmark_id"] == "a1"
    aime = stats.parts["aime"]
    assert aime.dropped == {"contaminated": 1} and aime.counters["items"] == 1 and stats.rows_out == 1


def test_fixture_is_reproducible_and_the_pipeline_never_generates_for_contaminated_problems(tmp_path, monkeypatch):
    fixture = ROOT / "data/benchmarks/fixture.jsonl"
    before = fixture.read_bytes()
    subprocess.run([sys.executable, str(ROOT / "data/benchmarks/make_fixture.py")], check=True, capture_output=True)
    assert fixture.read_bytes() == before
    bench = [json.loads(line) for line in before.decode().splitlines()]
    assert len(bench) == 100
    # a training file with two held-out test problems leaked into it
    train = [json.loads(line) for line in (ROOT / "data/math/train.jsonl").read_text().splitlines()[:8]]
    leaked = [b for b in bench if b["benchmark"] == "math-test"][:2]
    src = write_jsonl(
        tmp_path / "train.jsonl",
        train + [{"id": b["id"], "problem": b["problem"], "answer": b["answer"]} for b in leaked],
    )
    recipe = parse_recipe(
        {
            "name": "decon",
            "run_dir": str(tmp_path / "run"),
            "source": {"path": str(src), "fields": {"prompt": "problem", "gold": "answer"}, "shard_size": 4},
            "generate": {"n": 2, "backend": "fake"},
            "verify": {"math": {}},
            "decontaminate": {"benchmarks": [{"path": str(fixture), "name": "fixture"}]},
        }
    )
    summary = factory_run.run_recipe(recipe, progress=False)
    run = tmp_path / "run"
    assert set(pd.read_parquet(run / "problems").id) == {t["id"] for t in train}
    assert set(pd.read_parquet(run / "traces").problem_id) == {t["id"] for t in train}  # never generated
    rejected = pd.read_parquet(run / "problems_rejected")
    assert set(rejected.id) == {b["id"] for b in leaked}
    assert {json.loads(d)["benchmark_id"] for d in rejected.reject_details} == {b["id"] for b in leaked}
    assert summary.problems_filtered == {"contaminated": 2}
