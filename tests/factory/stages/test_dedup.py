"""Exact and near-duplicate removal: hashing, MinHash accuracy, problem dedup, resumable trace dedup."""

import json
import random

import numpy as np
import pandas as pd
from fakes import recipe_for

import factory.run as factory_run
from factory.hashing import MinHasher, shingle_hashes, text_keys, token_hashes
from factory.recipe import DedupConfig
from factory.stages.base import StageStats
from factory.stages.dedup import ProblemDeduplicator, TraceDeduplicator
from factory.stages.select import TraceSelector


def test_exact_keys_ignore_case_and_spacing_but_not_symbols():
    texts = ["Compute 35 + 6 \\times 31.", "compute 35+6   \\TIMES 31 .", "Compute 35 - 6 \\times 31.", "", "héllo"]
    keys = text_keys(*token_hashes(texts))
    assert keys[0] == keys[1]
    assert len({keys[0], keys[2], keys[3], keys[4]}) == 4


def test_hashes_are_stable_across_processes():
    # fixed functions of the text (no Python hash randomisation): the resume logic relies on it
    import subprocess
    import sys

    code = "from factory.hashing import *; print(text_keys(*token_hashes(['a stable text, 42'])))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": s, "PATH": "/usr/bin"},
            check=True,
        ).stdout
        for s in ("1", "2")
    }
    assert len(outs) == 1 and outs.pop().strip() == str(text_keys(*token_hashes(["a stable text, 42"])))


def test_minhash_estimates_jaccard():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(400)]
    base = [rng.choice(vocab) for _ in range(300)]
    texts, truth = [], []
    ref = set(shingle_hashes(*token_hashes([" ".join(base)]), 5)[0].tolist())
    for changes in (0, 3, 10, 30, 80, 300):
        words = list(base)
        for i in rng.sample(range(300), changes):
            words[i] = rng.choice(vocab)
        texts.append(" ".join(words))
        s = set(shingle_hashes(*token_hashes([texts[-1]]), 5)[0].tolist())
        truth.append(len(s & ref) / len(s | ref))
    sigs, _ = MinHasher(128, 5).signatures([" ".join(base), *texts])
    est = [(sigs[0] == s).mean() for s in sigs[1:]]
    assert est[0] == 1.0
    assert np.abs(np.array(est) - np.array(truth)).max() < 0.15
    assert est == sorted(est, reverse=True) or np.all(np.diff(est) < 0.05)


def problems(*texts):
    return [{"id": f"p{i}", "prompt": t} for i, t in enumerate(texts)]


def test_problem_dedup_marks_exact_and_near_duplicates():
    long = ("A train leaves the station at noon going sixty miles per hour toward a city two hundred miles away. "
            "When does it arrive?")
    rows = problems(
        long,
        "What is 2 + 3?",
        long.upper(),
        long.replace("When does", "At what time does"),
        "What is 2 - 3?",
        "Something else entirely about circles of radius five and their areas.",
    )
    stats = StageStats()
    out = list(ProblemDeduplicator(DedupConfig(threshold=0.6, ngram=3)).run(rows, stats))
    reasons = {r["id"]: r.get("reject_reason") for r in out}
    assert reasons == {
        "p0": None,
        "p1": None,
        "p2": "duplicate_problem",
        "p3": "near_duplicate_problem",
        "p4": None,
        "p5": None,
    }
    assert json.loads(out[3]["reject_details"])["duplicate_of"] == "p0"
    assert stats.rows_out == 4 and stats.dropped == {"duplicate_problem": 1, "near_duplicate_problem": 1}
    # exact only
    out = list(
        ProblemDeduplicator(DedupConfig(near=False)).run(problems(long, long.replace("noon", "one")), StageStats())
    )
    assert not any(r.get("reject_reason") for r in out)


def test_trace_dedup_scope_problem_resets_per_problem():
    rows = [
        {"trace_id": f"{p}/{i}", "problem_id": p, "completion": "the same reasoning text for all of them here"}
        for p in ("a", "b")
        for i in range(2)
    ]
    out = list(TraceDeduplicator(DedupConfig(scope="problem")).run([dict(r) for r in rows], StageStats()))
    assert [r["keep"] for r in out] == [True, False, True, False]
    out = list(TraceDeduplicator(DedupConfig(scope="run")).run([dict(r) for r in rows], StageStats()))
    assert [r["keep"] for r in out] == [True, False, False, False]


def _frame(path):
    return pd.read_parquet(path).sort_values("trace_id").reset_index(drop=True)


def test_run_wide_trace_dedup_is_the_same_after_a_resume(tmp_path, monkeypatch):
    recipe = recipe_for(tmp_path, trace_dedup={"threshold": 0.7})
    factory_run.run_recipe(recipe, progress=False)
    run = tmp_path / "run"
    full = _frame(run / "selected")
    assert (full.reject_reason == "near_duplicate_trace").any()
    # the fake's traces repeat across problems, so shards 2.. depend on what shards 0..1 kept
    assert full[full.problem_id >= "p06"].reject_reason.eq("near_duplicate_trace").any()

    def forget_after_shard_1():  # markers only: the stale shard files left behind must not matter
        for stage in ("select", "difficulty", "export_sft", "export_rejected"):
            for marker in (run / "_markers" / stage).glob("shard-*.json"):
                if stage != "select" or int(marker.stem.split("-")[1]) >= 2:
                    marker.unlink()

    forget_after_shard_1()  # as if killed during shard 2 of select: a fresh process resumes
    factory_run.run_recipe(recipe, progress=False)
    pd.testing.assert_frame_equal(full, _frame(run / "selected"))

    # and the rebuild is what makes it so: without it, the resumed shards keep duplicates of shards 0..1
    forget_after_shard_1()
    monkeypatch.setattr(TraceSelector, "restore", lambda self, rows: None)
    factory_run.run_recipe(recipe, progress=False)
    assert not full.keep.equals(_frame(run / "selected").keep)


def test_problem_dedup_in_the_read_step(tmp_path):
    recipe = recipe_for(tmp_path, problem_dedup={})
    src = tmp_path / "p.jsonl"
    with src.open("a") as f:  # recipe_for wrote p00..p09; add copies of two of them
        f.write(json.dumps({"id": "copy3", "problem": "what is 3 +  3?", "answer": "6"}) + "\n")
        f.write(json.dumps({"id": "copy7", "problem": "What is 7 + 7?", "answer": "14"}) + "\n")
    summary = factory_run.run_recipe(recipe, progress=False)
    run = tmp_path / "run"
    assert set(pd.read_parquet(run / "problems").id) == {f"p{i:02d}" for i in range(10)}
    rejected = pd.read_parquet(run / "problems_rejected")
    assert list(rejected.id) == ["copy3", "copy7"] and set(rejected.reject_reason) == {"duplicate_problem"}
    assert summary.problems == 10 and summary.traces == 40  # nothing generated for the copies
    assert json.loads((run / "stats/problem_dedup.json").read_text())["dropped"] == {"duplicate_problem": 2}
