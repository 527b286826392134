"""The shipped problem sets are what their generators write, and their gold answers are right."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
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


@pytest.mark.parametrize("folder", ["math", "arith", "code", "mixed", "words"])
def test_shipped_files_are_what_the_generator_writes(folder: str, tmp_path: Path, monkeypatch) -> None:
    generator = _module(f"make_{folder}", monkeypatch)
    splits = generator.splits()
    generator.write_splits(tmp_path, splits)
    assert "test" in splits
    for split in splits:
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


def _recompute_words(problem: str) -> int:
    """A transfer-set answer, worked out again from the words of the problem."""
    n = [int(x) for x in re.findall(r"\d+", problem)]
    rules = [
        ("costs", lambda: n[0] * n[1] if "How many dollars" in problem else n[1] - n[0]),
        ("years older", lambda: n[0] + n[1]),
        ("years ago", lambda: n[0] - n[1]),
        ("share", lambda: n[1] // n[0]),
        ("fewer", lambda: n[0] - n[1]),
        ("twice as many", lambda: 2 * n[0]),
        ("weeks", lambda: n[0] * n[1]),
        ("pages are left", lambda: n[0] - n[1]),
        ("bought", lambda: n[0] + n[1] - n[2]),
    ]
    for words, answer in rules:
        if words in problem:
            return answer()
    raise AssertionError(f"unrecognised problem {problem!r}")


def test_words_is_a_different_kind_of_problem(monkeypatch) -> None:
    words = _shipped("words", "test")
    assert len(words) == 100 and {r["family"] for r in words} == set(_module("make_words", monkeypatch).FAMILIES)
    arith = _shipped("arith", "train") + _shipped("arith", "test")
    assert not {r["family"] for r in words} & {r["family"] for r in arith}
    # none of the training templates' phrasing: "gets ... more", "gives away", "boxes with", "What is"
    for r in words:
        assert not re.search(r"gets \d+ more|gives away|boxes with|^What is", r["problem"]), r
        assert int(r["answer"]) == _recompute_words(r["problem"]) and int(r["answer"]) >= 0, r


def test_code_set_shape(monkeypatch) -> None:
    generator = _module("make_code", monkeypatch)
    splits = generator.splits()
    rows = splits["train"] + splits["test"]
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids) and not {r["id"] for r in splits["train"]} & {r["id"] for r in splits["test"]}
    families = [r["family"] for r in rows]
    assert families.count("stdio") >= 60 and families.count("call") >= 30
    assert all(r["domain"] == "code" and len(r["tests"]) >= 3 for r in rows)
    assert sum(r["level"] == "easy" for r in rows) > len(rows) / 2  # mostly within a 135M model's reach
    judged = splits["judged"]
    assert {r["family"] for r in judged} == {"script", "checker"} and not set(ids) & {r["id"] for r in judged}
    assert all(r["tests"]["tests"] for r in judged)
    assert all(r["tests"]["checker_program"] for r in judged if r["family"] == "checker")
    references = generator.references()
    assert set(references) == set(ids) | {r["id"] for r in judged}
    # the reference solutions stay in the script: no prompt or test carries one
    shipped = "".join((ROOT / "data" / "code" / f"{split}.jsonl").read_text() for split in ("train", "test", "judged"))
    assert not any(json.dumps(solution)[1:-1] in shipped for solution in references.values())


needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
)


@pytest.mark.sandbox
@needs_bwrap
def test_code_references_pass_and_wrong_programs_fail_in_the_sandbox(monkeypatch) -> None:
    from verifiers.code import verify_code_batch

    references = _module("make_code", monkeypatch).references()
    rows = _shipped("code", "train") + _shipped("code", "test") + _shipped("code", "judged")
    verdicts = verify_code_batch([(references[r["id"]], r["tests"]) for r in rows], workers=2)
    assert [(r["id"], v.reason) for r, v in zip(rows, verdicts, strict=True) if not v.passed] == []

    # every problem's tests tell a wrong program from its reference: a constant answer fails all
    def wrong(row: dict) -> str:
        if row["family"] == "call":
            return f"def {row['tests'][0]['fn_name']}(*args, **kwargs):\n    return 'wrong'\n"
        if row["family"] == "script":
            return f"def {row['id'].removeprefix('script-')}(*args, **kwargs):\n    return 'wrong'\n"
        return "print('wrong')\n"

    verdicts = verify_code_batch([(wrong(r), r["tests"]) for r in rows], workers=2)
    assert [r["id"] for r, v in zip(rows, verdicts, strict=True) if v.passed] == []
    # a checker program judges any output, a model's chatter included, without failing itself
    chatter = "print('Enter a number: 1 0 | 1 | 2')\nprint('-1 x 2.5')\n"
    checked = [r for r in rows if r["family"] == "checker"]
    verdicts = verify_code_batch([(chatter, r["tests"]) for r in checked], workers=2)
    assert [(r["id"], v.reason) for r, v in zip(checked, verdicts, strict=True)] == [
        (r["id"], "wrong_answer") for r in checked
    ]
    # and near misses fail too: off by one, 1 taken for a prime, a sort that forgets duplicates
    near = {
        "stdio-sum_two": "a, b = map(int, input().split())\nprint(a + b + 1)\n",
        "stdio-is_prime": "n = int(input())\nprint('yes' if all(n % d for d in range(2, n)) else 'no')\n",
        "call-remove_duplicates": "def remove_duplicates(items):\n    return sorted(set(items))\n",
    }
    by_id = {r["id"]: r for r in rows}
    verdicts = verify_code_batch([(program, by_id[pid]["tests"]) for pid, program in near.items()], workers=2)
    assert [v.reason for v in verdicts] == ["wrong_answer"] * 3


def test_the_judge_demo_set_is_what_its_generator_writes(monkeypatch) -> None:
    rows = _module("make_judge", monkeypatch).rows()
    assert "".join(json.dumps(r) + "\n" for r in rows) == (ROOT / "data/judge/train.jsonl").read_text()
    assert sum(r["answer"] is None for r in rows) == 12 and {r["domain"] for r in rows} == {"math", "open"}
