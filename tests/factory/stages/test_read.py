import json

import pandas as pd
import pytest

from factory.recipe import SourceConfig
from factory.stages.base import StageStats
from factory.stages.read import BadRowError, ProblemReader


def read(**kw):
    stats = StageStats()
    rows = list(ProblemReader(SourceConfig(**kw)).run(None, stats))
    return rows, stats


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_jsonl_fields_are_mapped_and_unmapped_columns_kept_in_metadata(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"qid": "a", "problem": "1+1?", "answer": 2, "level": 3}])
    rows, stats = read(
        path=str(path), fields={"id": "qid", "prompt": "problem", "gold": "answer"}, defaults={"source": "toy"}
    )
    assert rows == [
        {
            "id": "a",
            "source": "toy",
            "prompt": "1+1?",
            "messages": None,
            "gold": "2",
            "tests": None,
            "domain": "math",
            "language": "en",
            "metadata": json.dumps({"level": 3}),
        }
    ]
    assert (stats.rows_in, stats.rows_out) == (1, 1)


def test_parquet_and_saved_dataset_sources(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "prompt": ["x?", "y?"], "gold": ["1", "2"]})
    frame.to_parquet(tmp_path / "p.parquet")
    rows, _ = read(path=str(tmp_path / "p.parquet"))
    assert [r["id"] for r in rows] == ["a", "b"]

    import datasets

    datasets.DatasetDict({"test": datasets.Dataset.from_pandas(frame)}).save_to_disk(tmp_path / "ds")
    rows, _ = read(path=str(tmp_path / "ds"), split="test")
    assert [r["gold"] for r in rows] == ["1", "2"]
    with pytest.raises(ValueError, match="source.split: 'train' not in"):
        read(path=str(tmp_path / "ds"), split="train")


def test_bad_row_names_file_and_row_and_fails_by_default(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "x"}, "{not json", {"id": "c", "prompt": "z"}])
    with pytest.raises(BadRowError, match=r"p\.jsonl:row 2: not valid JSON"):
        read(path=str(path))


def test_bad_rows_are_skipped_and_counted_when_the_recipe_says_so(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "a", "prompt": "x"},
            "{not json",
            {"id": "b"},  # no prompt
            {"id": "a", "prompt": "dup"},  # duplicate id
            {"id": "c", "prompt": "z", "gold": {"not": "text"}},
            {"id": "d", "prompt": "w"},
        ],
    )
    rows, stats = read(path=str(path), on_bad_row="skip")
    assert [r["id"] for r in rows] == ["a", "d"]
    assert stats.dropped["bad_row"] == 4


def test_missing_mapped_column_names_it(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "question": "x"}])
    with pytest.raises(BadRowError, match=r"row 1: missing column 'problem' \(mapped to 'prompt'\)"):
        read(path=str(path), fields={"prompt": "problem"})


def test_limit_and_chat_problems_and_tests_as_json(tmp_path):
    chat = [{"role": "user", "content": "hi"}]
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": str(i), "messages": chat, "tests": [{"input": "1", "output": "1"}], "domain": "code"}
            for i in range(5)
        ],
    )
    rows, _ = read(path=str(path), limit=2)
    assert len(rows) == 2
    assert rows[0]["messages"] == chat and json.loads(rows[0]["tests"]) == [{"input": "1", "output": "1"}]


def test_unknown_field_in_mapping_is_a_config_error(tmp_path):
    with pytest.raises(ValueError, match=r"source.fields: unknown problem field"):
        ProblemReader(SourceConfig(path="x.jsonl", fields={"answer": "gold"}))
