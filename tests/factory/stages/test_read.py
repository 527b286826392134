import json

import pandas as pd
import pytest

from factory.recipe import SourceConfig
from factory.stages.base import StageStats
from factory.stages.read import BadRowError, ProblemChecker, ProblemReader


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


# -- every file, every error named (issue 24) --------------------------------------------------------


def test_a_folder_of_jsonl_and_parquet_files_gives_the_rows_of_every_one(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "prompt": "x"}])
    pd.DataFrame({"id": ["b"], "prompt": ["y"]}).to_parquet(tmp_path / "b.parquet")
    write_jsonl(tmp_path / "c.jsonl", [{"id": "c", "prompt": "z"}])
    rows, _ = read(path=str(tmp_path))
    assert [r["id"] for r in rows] == ["a", "b", "c"]


def test_invalid_utf8_is_a_bad_row_named_by_file_and_row_and_skip_skips_it(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": "\xff"}\n{"id": "c", "prompt": "z"}\n')
    with pytest.raises(BadRowError, match=r"p\.jsonl:row 2: not valid UTF-8 \(byte 0xff at column 24\)"):
        read(path=str(path))
    rows, stats = read(path=str(path), on_bad_row="skip")
    assert [r["id"] for r in rows] == ["a", "c"] and stats.dropped["bad_row"] == 1


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("e.jsonl", b"", r"e\.jsonl: the file is empty \(0 bytes\)"),
        ("e.parquet", b"", r"e\.parquet: the file is empty \(0 bytes\)"),
        ("c.parquet", b"PAR1 this is not parquet", r"c\.parquet: not a readable Parquet file"),
    ],
)
def test_an_empty_or_corrupt_file_stops_the_read_naming_it_even_with_skip(tmp_path, name, content, error):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "prompt": "x"}])
    (tmp_path / name).write_bytes(content)
    for on_bad_row in ("fail", "skip"):
        with pytest.raises(ValueError, match=f"^source.path: .*{error}"):
            read(path=str(tmp_path), on_bad_row=on_bad_row)


def test_a_truncated_parquet_file_names_the_file(tmp_path):
    pd.DataFrame({"id": [str(i) for i in range(100)], "prompt": ["x" * 50] * 100}).to_parquet(tmp_path / "p.parquet")
    data = (tmp_path / "p.parquet").read_bytes()
    (tmp_path / "p.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"p\.parquet: not a readable Parquet file"):
        read(path=str(tmp_path / "p.parquet"))


@pytest.mark.parametrize("path", ["inputs/nope.jsonl", "nope.parquet", "data/problems/x", "./org/name", "~/x"])
def test_a_path_that_looks_local_is_a_file_not_found_never_a_hub_lookup(tmp_path, monkeypatch, path):
    import datasets

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("sent to the Hub"))
    with pytest.raises(ValueError, match=f"^source.path: file not found: {path}"):
        read(path=path)


def test_a_hub_name_goes_to_the_hub_and_a_folder_of_that_name_here_does_not(tmp_path, monkeypatch):
    import datasets

    asked = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "load_dataset", lambda name, **k: asked.append(name) or [{"id": "h", "prompt": "x"}])
    assert [r["id"] for r in read(path="AI-MO/NuminaMath-1.5")[0]] == ["h"] and asked == ["AI-MO/NuminaMath-1.5"]
    (tmp_path / "org/name").mkdir(parents=True)
    write_jsonl(tmp_path / "org/name/p.jsonl", [{"id": "l", "prompt": "y"}])
    assert [r["id"] for r in read(path="org/name")[0]] == ["l"] and len(asked) == 1


def test_blank_gold_and_oversized_problems_are_rejected_with_their_reason(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "a", "prompt": "x", "gold": "1"},
            {"id": "b", "prompt": "x", "gold": "  "},
            {"id": "c", "prompt": "x" * 101, "gold": "1"},
            {"id": "d", "messages": [{"role": "user", "content": "y" * 60}] * 2, "gold": "1"},
            {"id": "e", "prompt": "x"},  # no gold: kept (vote may label it)
            {"id": "f", "prompt": "x", "gold": "", "tests": [{"input": "", "output": "1"}]},  # judged by its tests
        ],
    )
    source = SourceConfig(path=str(path), max_prompt_chars=100)
    stats = StageStats()
    rows = list(ProblemChecker(source).run(ProblemReader(source).run(None, StageStats()), stats))
    assert {r["id"]: r["reject_reason"] for r in rows} == {
        "a": None,
        "b": "empty_gold",
        "c": "prompt_too_long_chars",
        "d": "prompt_too_long_chars",
        "e": None,
        "f": None,
    }
    assert json.loads(rows[2]["reject_details"]) == {"chars": 101, "max_prompt_chars": 100}
    assert dict(stats.dropped) == {"empty_gold": 1, "prompt_too_long_chars": 2} and stats.rows_out == 3
    assert SourceConfig(path="x").max_prompt_chars == 100_000  # the documented default
