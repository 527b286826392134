"""The code verifier: extraction, checkers, test validation, real problems through the sandbox."""

from __future__ import annotations

import json
import math
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pytest

from verifiers import VERIFIERS, CodeConfig
from verifiers import code as code_mod
from verifiers import sandbox as sandbox_mod
from verifiers.code import (
    check_exact,
    check_tokens,
    extract_code,
    extract_program,
    normalize_tests,
    parse_checker,
    values_equal,
    verify_code,
    verify_code_batch,
    verify_code_response,
)
from verifiers.sandbox import SandboxUnavailable

sys.path.insert(0, str(Path(__file__).parent))
from code_problems import PROBLEMS  # noqa: E402

needs_bwrap = pytest.mark.skipif(
    sandbox_mod.bwrap_path() is None, reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
)


def sandboxed(test):
    return pytest.mark.sandbox(needs_bwrap(test))


ADD = [{"input": "1 2\n", "output": "3\n"}, {"input": "40 2\n", "output": "42\n"}]


# -- extraction -------------------------------------------------------------------------------


def test_extract_last_python_block_after_think():
    response = (
        "<think>try this\n```python\nprint('draft')\n```\n</think>\n"
        "First:\n```python\nprint(1)\n```\nOutput:\n```\n1\n```\nFinal:\n```python\nprint(2)\n```\n"
    )
    assert extract_code(response) == "print(2)\n"


def test_extract_ignores_code_inside_think_and_other_languages():
    assert extract_code("<think>```python\nprint(1)\n```</think>no code here") is None
    assert extract_code("</think>```cpp\nint main(){}\n```") is None
    assert extract_code("</think>```\nprint(1)\n```") is None  # untagged: not "of that language"
    assert extract_code("</think>```cpp\nint main(){}\n```", language="cpp") == "int main(){}\n"


def test_extract_truncated_responses():
    assert extract_code("<think>```python\nprint(1)\n```\nstill thinking") is None  # never closed
    assert extract_code("</think>```python\nprint(1)\n```\n```python\nprint(2") == "print(1)\n"
    assert extract_code("```python\nprint(7)\n```") == "print(7)\n"  # no think block at all


def test_extract_fence_variants():
    assert extract_code("</think>\r\n```Python3\r\nx = 1\r\nprint(x)\r\n```\r\n") == "x = 1\nprint(x)\n"
    assert extract_code("</think>~~~py\nprint(3)\n~~~") == "print(3)\n"
    assert extract_code("</think>````python\n```\nprint(4)\n````") == "```\nprint(4)\n"
    assert extract_code("</think>Code:\n  ```python\n  if x:\n      y()\n  ```") == "if x:\n    y()\n"
    # a block inside a list item, indented as a whole: dedented
    assert extract_code("</think>1. Code:\n\n    ```python\n    x = 1\n    print(x)\n    ```\n") == "x = 1\nprint(x)\n"
    assert extract_code("</think>```python\n\n```") is None
    assert extract_code(None) is None


# -- checkers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expected, actual, exact, tokens",
    [
        ("1 2\n3\n", "1 2\n3\n", True, True),
        ("1 2\n3\n", "1 2   \r\n3\r\n\n\n", True, True),  # CRLF, trailing spaces, trailing blank lines
        ("1 2\n3\n", "1 2\n3", True, True),
        ("1 2\n3\n", "1  2\n3\n", False, True),  # inner whitespace: tokens only
        ("1 2\n3\n", "1\n2 3\n", False, True),
        ("1 2\n3\n", "1 2\n", False, False),  # prefix
        ("1 2\n3\n", "1 2\n3\n4\n", False, False),  # extra line
        ("1 2\n3\n", "3\n1 2\n", False, False),  # reordered lines
        ("a\na\nb\n", "a\nb\n", False, False),  # dropped duplicate
        ("YES\n", "yes\n", False, False),  # case-sensitive
        ("1\n", "", False, False),
        ("", "", True, True),
        ("x\n", "\nx\n", False, True),  # a leading blank line is a difference for exact
        ("  x\n", "x\n", False, True),  # and leading indentation too
    ],
)
def test_exact_and_tokens(expected, actual, exact, tokens):
    assert check_exact(expected, actual) is exact
    assert check_tokens(expected, actual) is tokens


@pytest.mark.parametrize(
    "expected, actual, ok",
    [
        ("0.5", "5e-1", True),
        ("0.5", "0.500000000", True),
        ("3", "3.0000001", True),  # absolute 1e-6
        ("1000000", "1000000.9", True),  # relative 1e-6
        ("1000000", "1000002", False),
        ("0.001", "0.0011", False),
        ("nan", "nan", False),
        ("inf", "inf", False),
        ("1", "nan", False),
        ("1", "1e999", False),
        ("Case 1: 2.5", "Case 1: 2.5000001", True),  # non-numeric tokens exact
        ("Case 1: 2.5", "case 1: 2.5", False),
        ("1 2", "1", False),
        ("1 2", "1 2 3", False),
        ("1 2", "2 1", False),
        ("1", "one", False),
        ("-0", "0", True),
        ("1_000", "1000", False),  # not a number: exact
    ],
)
def test_float_checker(expected, actual, ok):
    check, tol = parse_checker("float:1e-6")
    assert tol == 1e-6
    assert check(expected, actual) is ok


@pytest.mark.parametrize("spec", ["float", "float:", "float:abc", "float:-1", "float:nan", "loose", "", None])
def test_bad_checker_is_a_config_error(spec):
    with pytest.raises(ValueError, match="checker"):
        parse_checker(spec)


def test_values_equal():
    load = code_mod._loads
    assert values_equal(load("[1, 2]"), load("[1.0, 2]"))
    assert not values_equal(load("1"), load("true"))
    assert not values_equal(load("true"), load("1"))
    assert not values_equal(load("0"), load("false"))
    assert not values_equal(load("NaN"), load("NaN"))
    assert not values_equal(load('"1"'), load("1"))
    assert not values_equal(load("[1, 2]"), load("[2, 1]"))
    assert not values_equal(load("[1, 2]"), load("[1, 2, 2]"))
    assert not values_equal(load("null"), load("0"))
    assert values_equal(load('{"a": [1, {"b": null}]}'), load('{"a": [1, {"b": null}]}'))
    assert not values_equal(load('{"a": 1}'), load('{"a": 1, "b": 2}'))
    big = "1" * 5000  # beyond int_max_str_digits: compared exactly all the same
    assert values_equal(load(big), load(big)) and not values_equal(load(big), load(big[:-1] + "2"))
    assert values_equal(load("0.1"), load("0.1000001"), tol=1e-6)
    assert not values_equal(load("0.1"), load("0.1000001"))


# -- tests validation -------------------------------------------------------------------------


def test_tests_validation():
    parsed = normalize_tests(json.dumps(ADD))  # a JSON string of the list is fine
    assert [t.stdin for t in parsed] == [b"1 2\n", b"40 2\n"]
    apps = normalize_tests({"inputs": ["1 2\n"], "outputs": ["3\n"]})
    assert apps[0].expected == "3\n"
    call = normalize_tests({"fn_name": "f", "inputs": [[1, 2]], "outputs": [[3]]})
    assert call[0].fn_name == "f" and call[0].stdin == b"[1, 2]"
    for bad, key in [
        (None, "tests"),
        ("not json", "tests"),
        ([], "tests"),
        ({"a": 1}, "tests"),
        ([1], r"tests\[0\]"),
        ([{"input": "1"}], "output"),
        ([{"fn_name": "f", "args": [1]}], "expected"),
        ([{"fn_name": "1x", "args": [], "expected": 1}], "fn_name"),
        ([{"fn_name": "f", "args": 3, "expected": 1}], "args"),
        ([{"input": 1, "output": "1"}], "input"),
        ([{"fn_name": "f", "args": [], "expected": {1, 2}}], "JSON"),
    ]:
        with pytest.raises(ValueError, match=key):
            normalize_tests(bad)


def test_response_adapter_contract():
    assert verify_code_response("I cannot solve this.", ADD).reason == "no_code"
    assert verify_code_response("<think>```python\nprint(3)\n```", ADD).reason == "no_code"
    with pytest.raises(ValueError, match="tests"):
        verify_code_response("```python\nprint(3)\n```", None)
    with pytest.raises(ValueError, match="tests"):
        verify_code_response("```python\nprint(3)\n```", "{not json")
    with pytest.raises(ValueError, match="checker"):
        verify_code_response("```python\nprint(3)\n```", ADD, config=CodeConfig(checker="fuzzy"))
    with pytest.raises(ValueError, match="time_s"):
        verify_code("print(3)", ADD, config=CodeConfig(time_limit_s=0))


def test_syntax_error_is_reported_before_running():
    verdict = verify_code("def f(:\n    pass\n", ADD)
    assert verdict.reason == "syntax_error" and verdict.score == 0.0 and "SyntaxError" in verdict.details["error"]


# -- without bubblewrap -----------------------------------------------------------------------


def test_missing_bwrap_refuses_with_install_hint(monkeypatch):
    monkeypatch.setattr(sandbox_mod, "bwrap_path", lambda: None)
    monkeypatch.setattr(code_mod, "_SANDBOXES", {})
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        verify_code("print(3)", ADD)


def test_unsafe_no_sandbox_runs_with_a_loud_warning(monkeypatch):
    monkeypatch.setattr(sandbox_mod, "bwrap_path", lambda: None)
    monkeypatch.setattr(code_mod, "_SANDBOXES", {})
    with pytest.warns(RuntimeWarning, match="WITHOUT isolation"):
        verdict = verify_code(
            "a, b = map(int, input().split())\nprint(a + b)\n", ADD, config=CodeConfig(unsafe_no_sandbox=True)
        )
    assert verdict.passed
    with pytest.warns(RuntimeWarning):
        wrong = verify_code(
            "print(int(input().split()[0]))\n", ADD, config=CodeConfig(unsafe_no_sandbox=True, time_limit_s=1)
        )
    assert wrong.reason == "wrong_answer"
    with pytest.warns(RuntimeWarning):
        slow = verify_code(
            "import time\ntime.sleep(5)\n", ADD[:1], config=CodeConfig(unsafe_no_sandbox=True, time_limit_s=0.3)
        )
    assert slow.reason == "timeout"


# -- through the sandbox ----------------------------------------------------------------------


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p["name"] for p in PROBLEMS])
@sandboxed
def test_problems(problem):
    config = CodeConfig(checker=problem["checker"], time_limit_s=problem.get("time_limit_s", 2.0))
    for program in problem["correct"]:
        verdict = verify_code(program, problem["tests"], config=config, workers=2)
        assert verdict.passed and verdict.reason == "ok" and verdict.score == 1.0, verdict.details
        assert verdict.extracted == program
    for program, partial in problem["wrong"]:
        verdict = verify_code(program, problem["tests"], config=config, workers=2)
        assert not verdict.passed and verdict.score < 1.0, program
        assert verdict.reason in {"wrong_answer", "timeout"}
        if partial:
            assert verdict.score > 0.0, verdict.details
        statuses = [t["status"] for t in verdict.details["tests"]]
        assert len(statuses) == len(problem["tests"]) and statuses.count("passed") == round(
            verdict.score * len(statuses)
        )


CORRECT_VARIANTS = {
    "crlf_and_trailing_spaces": (
        "import sys\na, b = map(int, input().split())\nsys.stdout.write(f'{a + b}   \\r\\n\\r\\n')\n"
    ),
    "stderr_noise": "import sys\nprint('debug: reading', file=sys.stderr)\na, b = map(int, input().split())\n"
    "print(a + b)\nprint('done', file=sys.stderr)\n",
    "read_all_stdin_at_once": "import sys\na, b = map(int, sys.stdin.buffer.read().split())\nprint(a + b)\n",
    "scratch_files_in_work_dir": "import tempfile\nwith open('scratch.txt', 'w') as f:\n    f.write(input())\n"
    "with tempfile.TemporaryFile('w+') as t:\n    t.write('x')\n"
    "a, b = map(int, open('scratch.txt').read().split())\nprint(a + b)\n",
    "main_guard_and_sys_exit_0_after": "import sys\ndef main():\n    a, b = map(int, input().split())\n"
    "    print(a + b)\nif __name__ == '__main__':\n    main()\n    sys.exit(0)\n",
    "unicode_and_big_int_output": "a, b = map(int, input().split())\nprint(a + b)\nx = 10 ** 5000\n",
}


@pytest.mark.parametrize("name", sorted(CORRECT_VARIANTS))
@sandboxed
def test_correct_programs_pass_despite_noise(name):
    verdict = verify_code(CORRECT_VARIANTS[name], ADD, config=CodeConfig(checker="exact"))
    assert verdict.passed, verdict.details


@sandboxed
def test_floats_in_another_format_pass_with_float_checker():
    tests = [{"input": "1 3\n", "output": "0.3333333333\n"}, {"input": "1 2\n", "output": "0.5\n"}]
    for program in [
        "a, b = map(int, input().split())\nprint(a / b)\n",
        "a, b = map(int, input().split())\nprint('%.8e' % (a / b))\n",
    ]:
        assert verify_code(program, tests, config=CodeConfig(checker="float:1e-6")).passed
        assert not verify_code(program, tests, config=CodeConfig(checker="tokens")).passed


@sandboxed
def test_call_based_compares_serialised_values():
    tests = [{"fn_name": "solve", "args": [2], "expected": [4, "four"]}]
    assert verify_code("def solve(n):\n    return (n * n, 'four')\n", tests).passed  # tuple serialises as a list
    cheats = [
        "class Any:\n    def __eq__(self, other):\n        return True\ndef solve(n):\n    return Any()\n",
        "class S(str):\n    def __eq__(self, other):\n        return True\n"
        "def solve(n):\n    return [S('x'), S('y')]\n",
        "def solve(n):\n    print([4, 'four'])\n",  # printing is not returning
        "def solve(n):\n    return [4, 'four', None]\n",
        "def solve(n):\n    return [True, 'four'][0:0] or [4.0, 'Four']\n",
    ]
    for program in cheats:
        verdict = verify_code(program, tests)
        assert not verdict.passed and verdict.reason == "wrong_answer", program
    crash = verify_code("def solve(n):\n    raise KeyError(n)\n", tests)
    assert crash.reason == "runtime_error" and "KeyError" in crash.details["tests"][0]["stderr"]
    missing = verify_code("def other(n):\n    return 1\n", tests)
    assert missing.reason == "runtime_error" and "solve" in missing.details["tests"][0]["stderr"]


@sandboxed
def test_details_are_truncated():
    verdict = verify_code(
        "import sys\nprint('o' * 10000)\nprint('e' * 10000, file=sys.stderr)\n",
        [{"input": "", "output": "x"}],
        config=CodeConfig(detail_chars=100),
    )
    test = verdict.details["tests"][0]
    assert test["status"] == "wrong_answer" and test["exit_code"] == 0 and test["time_s"] > 0
    assert test["stdout"] == "o" * 100 and test["stderr"] == "e" * 99 + "\n"


@sandboxed
def test_batch_pool_matches_one_by_one_in_order():
    items = []
    for problem in PROBLEMS[:5]:
        items += [(program, problem["tests"]) for program in problem["correct"]]
        items += [(program, problem["tests"]) for program, _ in problem["wrong"]]
    items.append({"completion": "<think>x</think>```python\nprint(3)\n```", "tests": ADD})
    items.append({"completion": "no code", "tests": ADD})
    items.append({"program": "print(42)", "tests": ADD})
    pooled = verify_code_batch(items, workers=2)
    single = [verify_code(*item) if isinstance(item, tuple) else None for item in items]
    assert len(pooled) == len(items)
    for got, want in zip(pooled, single, strict=True):
        if want is not None:
            assert (got.passed, got.reason, got.score) == (want.passed, want.reason, want.score)
    assert [v.reason for v in pooled[-3:]] == ["wrong_answer", "no_code", "wrong_answer"]
    assert pooled[-3].score == 0.5
    with pytest.raises(ValueError, match="item 1"):
        verify_code_batch([("print(1)", ADD), ("print(1)", [])])


@sandboxed
def test_pipeline_registry_calls_the_adapter():
    row = {
        "completion": "<think>easy</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```",
        "tests": json.dumps(ADD),
    }
    verdict = VERIFIERS["code"](row, time_limit_s=2.0)
    assert verdict.passed and verdict.score == 1.0
    assert not math.isnan(verdict.details["tests"][0]["time_s"])


# -- C++ --------------------------------------------------------------------------------------

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed: apt-get install g++")
CPP_ADD = "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n"


def test_fence_tag_picks_the_toolchain():
    assert extract_program("</think>```cpp\nint main(){}\n```") == ("cpp", "int main(){}\n")
    for tag in ("c++", "cc", "C++"):
        assert extract_program(f"</think>```{tag}\nint main(){{}}\n```") == ("cpp", "int main(){}\n")
    assert extract_program("</think>```cpp\nint main(){}\n```\n```python\nprint(1)\n```") == ("python", "print(1)\n")
    assert extract_program("</think>```cpp\nint main(){}\n```", "python") is None
    assert extract_program("</think>```c\nint main(){}\n```") == ("c", "int main(){}\n")
    assert extract_program("</think>```js\nx()\n```") == ("javascript", "x()\n")
    assert extract_program("</think>```java\nclass A {}\n```") == ("java", "class A {}\n")
    assert extract_program("</think>```rust\nfn main() {}\n```") is None  # no toolchain for it
    with pytest.raises(ValueError, match="language"):
        verify_code("print(1)", ADD, language="cobol")


@sandboxed
@needs_gxx
def test_compiled_programs_compile_once_and_run_per_test():
    items = [
        {"completion": f"</think>```cpp\n{CPP_ADD}```", "tests": ADD},
        {
            "completion": "</think>```c++\n#include <iostream>\nint main() { int a, b; std::cin >> a >> b;"
            " std::cout << a - b; }\n```",
            "tests": ADD,
        },
        {"completion": "</think>```cc\n#include <iostream>\nint main() { int x = ; }\n```", "tests": ADD},
        {"program": "int main() { volatile long x = 0; while (true) x++; }\n", "language": "cpp", "tests": ADD[:1]},
        {"completion": f"</think>```cpp\n{CPP_ADD}```", "tests": [{"fn_name": "f", "args": [], "expected": 1}]},
        {
            "completion": "</think>```c\n#include <math.h>\n#include <stdio.h>\nint main(void) { double a, b;"
            ' scanf("%lf %lf", &a, &b); printf("%.0f\\n", sqrt((a + b) * (a + b))); }\n```',
            "tests": ADD,
        },
        {"program": "int main(void) { return undeclared; }\n", "language": "c", "tests": ADD},
    ]
    start = time.monotonic()
    verdicts = verify_code_batch(items, workers=2, config=CodeConfig(time_limit_s=0.5))
    good, wrong, broken, spin, call, c_good, c_broken = verdicts
    assert good.passed and good.score == 1.0, good.details
    assert good.details["tests"][0]["cpu_s"] < 0.1  # no interpreter start-up counted
    assert wrong.reason == "wrong_answer" and wrong.score == 0.0
    assert broken.reason == "compile_error" and "error: expected primary-expression" in broken.details["error"]
    assert spin.reason == "timeout" and spin.details["tests"][0]["time_s"] <= 3.0
    assert call.reason == "unsupported_test" and "stdin/stdout" in call.details["error"]
    assert c_good.passed, c_good.details  # C, with libm
    assert c_broken.reason == "compile_error" and "undeclared" in c_broken.details["error"]
    assert time.monotonic() - start < 60


@sandboxed
@needs_gxx
def test_cpp_cannot_write_outside_its_work_dir_or_reach_the_network():
    program = textwrap.dedent("""\
        #include <cstdio>
        #include <netinet/in.h>
        #include <arpa/inet.h>
        #include <sys/socket.h>
        #include <unistd.h>
        int main() {
            const char* paths[] = {"/usr/escaped", "/escaped", "/code/escaped", "/code/main", "/tmp/ok"};
            for (const char* p : paths) {
                FILE* f = std::fopen(p, "w");
                std::printf("%s %s\\n", p, f ? "WROTE" : "refused");
                if (f) std::fclose(f);
            }
            int s = socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(53);
            inet_pton(AF_INET, "1.1.1.1", &addr.sin_addr);
            std::printf("connect %s\\n", connect(s, (sockaddr*)&addr, sizeof addr) == 0 ? "CONNECTED" : "blocked");
        }
    """)
    expected = (
        "/usr/escaped refused\n/escaped refused\n/code/escaped refused\n/code/main refused\n"
        "/tmp/ok WROTE\nconnect blocked\n"
    )
    verdict = verify_code(
        program, [{"input": "", "output": expected}], language="cpp", config=CodeConfig(checker="exact")
    )
    assert verdict.passed, verdict.details
