"""`factory score`: a file of responses in, the same rows with verdicts out."""

import json

import pytest


def test_score_file_jsonl_to_parquet_and_jsonl(tmp_path):
    import pyarrow.parquet as pq

    from factory.score import score_file

    src = tmp_path / "in.jsonl"
    rows = [
        {"id": 1, "response": "\\boxed{4}", "gold": "4"},
        {"id": 2, "response": "\\boxed{5}", "gold": "4"},
        {"id": 3, "response": "no idea", "gold": "\\frac12"},
        {"id": 4, "response": "\\boxed{x>1}", "gold": "(1,\\infty)"},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    counts = score_file(src, tmp_path / "out.parquet", workers=1)
    assert counts["rows"] == 4 and counts["passed"] == 2
    assert counts["reasons"] == {"ok": 2, "wrong_answer": 1, "no_answer": 1}
    table = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["id"] for r in table] == [1, 2, 3, 4]
    assert [r["passed"] for r in table] == [True, False, False, True]
    assert table[1]["extracted"] == "5" and table[1]["reason"] == "wrong_answer"
    counts2 = score_file(tmp_path / "out.parquet", tmp_path / "again.jsonl", workers=1)
    assert counts2["passed"] == 2
    again = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
    assert [r["score"] for r in again] == [1.0, 0.0, 0.0, 1.0]


def test_score_file_bad_rows_name_file_and_row(tmp_path):
    from factory.score import score_file

    src = tmp_path / "bad.jsonl"
    src.write_text(
        json.dumps({"response": "\\boxed{1}", "gold": "1"}) + "\n" + json.dumps({"response": "\\boxed{1}"}) + "\n"
    )
    with pytest.raises(ValueError, match=r"bad\.jsonl: row 2"):
        score_file(src, tmp_path / "out.jsonl")
    src.write_text("{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:row 1: not valid JSON"):
        score_file(src, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_score_file_reads_bare_answers_with_extract(tmp_path):
    from factory.cli import main

    src = tmp_path / "bare.jsonl"
    rows = [
        {"response": "-5", "gold": "-5"},
        {"response": "The answer is 5.", "gold": "5"},
        {"response": "\\frac{10}{9}", "gold": "10/9"},
        {"response": "7", "gold": "8"},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["score", str(src), "--out", str(tmp_path / "boxed.jsonl"), "--workers", "1"]) == 0
    boxed = [json.loads(line)["reason"] for line in (tmp_path / "boxed.jsonl").read_text().splitlines()]
    assert boxed == ["no_answer"] * 4  # traces need a box or a Final Answer line
    assert main(["score", str(src), "--out", str(tmp_path / "bare.jsonl"), "--workers", "1", "--extract", "bare"]) == 0
    bare = [json.loads(line)["reason"] for line in (tmp_path / "bare.jsonl").read_text().splitlines()]
    assert bare == ["ok", "ok", "ok", "wrong_answer"]
