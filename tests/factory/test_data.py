"""The shipped problem sets are what their generators write, and their gold answers are right."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module(name: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT / "data"))  # the scripts import each other, as when run
    spec = importlib.util.spec_from_file_location(name, ROOT / "data" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shipped(folder: str, split: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "data" / folder / f"{split}.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("folder", ["math", "arith"])
def test_shipped_files_are_what_the_generator_writes(folder: str, tmp_path: Path, monkeypatch) -> None:
    generator = _module(f"make_{folder}", monkeypatch)
    generator.write_splits(tmp_path, generator.splits())
    for split in ("train", "test"):
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (ROOT / "data" / folder / f"{split}.jsonl").read_bytes()


def test_arith_splits_are_disjoint(monkeypatch) -> None:
    splits = _module("make_arith", monkeypatch).splits()
    train, test = ({r["id"] for r in splits[s]} for s in ("train", "test"))
    texts = [r["problem"] for s in splits.values() for r in s]
    assert len(train) == 300 and len(test) == 100 and not train & test
    assert len(set(texts)) == len(texts)  # no problem text in both splits


def _recompute(problem: str) -> int:
    """The answer, worked out again from the words of the problem (not by the generator's code)."""
    numbers = [int(n) for n in re.findall(r"\d+", problem)]
    if problem.startswith("What is half of"):
        return numbers[0] // 2
    if "gets" in problem or "+" in problem:
        return numbers[0] + numbers[1]
    if "gives away" in problem or " - " in problem:
        return numbers[0] - numbers[1]
    if "\\times" in problem or "boxes" in problem:
        return numbers[0] * numbers[1]
    raise AssertionError(f"unrecognised problem {problem!r}")


def test_arith_gold_answers_are_right(monkeypatch) -> None:
    rows = _shipped("arith", "train") + _shipped("arith", "test")
    assert {r["family"] for r in rows} == set(_module("make_arith", monkeypatch).FAMILIES)
    for r in rows:
        assert int(r["answer"]) == _recompute(r["problem"]), r
