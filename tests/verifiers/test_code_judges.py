"""Checker programs, Java and JavaScript, and per-problem limits: through the real sandbox."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from verifiers import CodeConfig, verify_code, verify_code_batch
from verifiers import sandbox as sandbox_mod
from verifiers.code import java_main_class, parse_problem

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(sandbox_mod.bwrap_path() is None,
                       reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap"),
]
# .ci/run and `make sandbox` install both toolchains; elsewhere their tests say what is missing
needs_java = pytest.mark.skipif(shutil.which("javac") is None,
                                reason="no JDK: apt-get install default-jdk-headless (make sandbox does)")
needs_node = pytest.mark.skipif(shutil.which("node") is None,
                                reason="no node: apt-get install nodejs (make sandbox does)")
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="no g++: apt-get install g++ (make sandbox does)")

ADD = [{"input": "1 2\n", "output": "3\n"}, {"input": "40 2\n", "output": "42\n"}]

# any permutation of 1..n is accepted: the expected output is only one of them
PERMUTATION = textwrap.dedent("""
    import sys
    inp, expected, actual = (open(path).read().split() for path in sys.argv[1:])
    n = int(inp[0])
    print("read", len(actual), "numbers")
    sys.exit(0 if sorted(actual) == [str(i) for i in range(1, n + 1)] and len(actual) == n else 1)
""")
PERM_TESTS = [{"input": "3\n", "output": "1 2 3\n"}, {"input": "1\n", "output": "1\n"}]


def with_checker(tests, checker, language="python", **extra):
    return {"tests": tests, "checker_program": checker, "checker_language": language, **extra}


# -- checker programs ---------------------------------------------------------------------------------


def test_a_python_checker_accepts_any_valid_output_and_rejects_the_rest():
    problem = with_checker(PERM_TESTS, PERMUTATION)
    reversed_ = verify_code("n = int(input())\nprint(*range(n, 0, -1))\n", problem)
    assert reversed_.passed, reversed_.details
    assert reversed_.details["tests"][0]["checker"].startswith("read 3 numbers")
    wrong = verify_code("n = int(input())\nprint(*([1] * n))\n", problem)
    assert wrong.reason == "wrong_answer" and wrong.score == 0.5  # n=1 is still right
    # without the checker the same right program fails the exact expected output
    assert not verify_code("n = int(input())\nprint(*range(n, 0, -1))\n", PERM_TESTS).passed


def test_the_checker_also_comes_as_a_keyword_of_verify_code():
    program = "n = int(input())\nprint(*range(n, 0, -1))\n"
    assert verify_code(program, PERM_TESTS, checker_program=PERMUTATION).passed


@pytest.mark.parametrize("checker", [
    "raise KeyError('the checker has a bug')\n",
    "import sys\nsys.exit(3)\n",
    "while True:\n    pass\n",
    "import os\nos.abort()\n",
], ids=["crashes", "testlib_fail", "spins", "aborts"])
def test_a_checker_that_fails_is_checker_error_not_the_programs_wrong_answer(checker):
    result = verify_code("print(*range(1, int(input()) + 1))\n", with_checker(PERM_TESTS, checker),
                         config=CodeConfig(checker_time_limit_s=0.5))
    assert result.reason == "checker_error", result.details
    assert not result.passed


def test_checker_error_wins_over_the_programs_other_failures():
    # one test fails the program, another breaks the checker: the verdict cannot be trusted at all
    checker = "import sys\ninp = open(sys.argv[1]).read()\nsys.exit(3 if inp.strip() == '1' else 1)\n"
    result = verify_code("print(0)\n", with_checker(PERM_TESTS, checker))
    assert [t["status"] for t in result.details["tests"]] == ["wrong_answer", "checker_error"]
    assert result.reason == "checker_error"


@needs_gxx
def test_a_testlib_style_cpp_checker_is_compiled_once_per_problem():
    checker = textwrap.dedent("""
        #include <cstdio>
        #include <vector>
        #include <algorithm>
        // testlib's argument order: input, the contestant's output, the jury's answer
        int main(int argc, char** argv) {
            FILE* in = fopen(argv[1], "r"); FILE* out = fopen(argv[2], "r");
            int n; if (fscanf(in, "%d", &n) != 1) return 3;
            std::vector<int> seen; int x;
            while (fscanf(out, "%d", &x) == 1) seen.push_back(x);
            std::sort(seen.begin(), seen.end());
            if ((int)seen.size() != n) return 1;
            for (int i = 0; i < n; i++) if (seen[i] != i + 1) return 1;
            printf("ok %d numbers\\n", n);
            return 0;
        }
    """)
    problem = with_checker(PERM_TESTS, checker, "cpp")
    items = [("n = int(input())\nprint(*range(n, 0, -1))\n", problem), ("print(2, 2, 2)\n", problem)]
    good, bad = verify_code_batch(items, workers=2)
    assert good.passed and good.details["tests"][0]["checker"].startswith("ok 3 numbers"), good.details
    assert bad.reason == "wrong_answer"
    broken = verify_code("print(1)\n", with_checker(PERM_TESTS, "int main( {", "cpp"))
    assert broken.reason == "checker_error" and "does not compile" in broken.details["error"]
    testlib = verify_code("print(1)\n", with_checker(PERM_TESTS, '#include "testlib.h"\nint main() {}\n', "cpp"))
    assert testlib.reason == "checker_error" and "testlib_h" in testlib.details["error"]


def test_bad_checkers_and_limits_are_problem_errors():
    with pytest.raises(ValueError, match="checker_language"):
        parse_problem(with_checker(PERM_TESTS, PERMUTATION, "rust"))
    with pytest.raises(ValueError, match="checker_program' does not compile"):
        parse_problem(with_checker(PERM_TESTS, "def check(:\n"))
    with pytest.raises(ValueError, match="time_limit_s"):
        parse_problem({"tests": PERM_TESTS, "time_limit_s": 0})
    with pytest.raises(ValueError, match="unknown key"):
        parse_problem({"tests": PERM_TESTS, "checker": "tokens"})


# -- per-problem limits --------------------------------------------------------------------------------


def test_a_problems_own_limits_apply_capped_by_the_configs_maxima():
    spin = "import time\nend = time.process_time() + 1.5\nwhile time.process_time() < end:\n    pass\nprint(3)\n"
    tests = ADD[:1]
    assert verify_code(spin, {"tests": tests, "time_limit_s": 3}).passed  # the row allows 3 s
    assert verify_code(spin, {"tests": tests, "time_limit_s": 1}).reason == "timeout"  # the row's 1 s
    capped = verify_code(spin, {"tests": tests, "time_limit_s": 30}, config=CodeConfig(max_time_limit_s=1))
    assert capped.reason == "timeout"
    hungry = "x = bytearray(300 * 2**20)\nprint(3)\n"
    assert verify_code(hungry, {"tests": tests, "memory_mb": 512}).passed
    assert verify_code(hungry, {"tests": tests, "memory_mb": 128}).reason == "memory_limit"
    assert verify_code(hungry, {"tests": tests, "memory_mb": 4096},
                       config=CodeConfig(max_memory_mb=256)).reason == "memory_limit"


# -- Java and JavaScript ----------------------------------------------------------------------------


JAVA_ADD = textwrap.dedent("""
    import java.util.*;

    public class Solution {
        public static void main(String[] args) {
            Scanner in = new Scanner(System.in);
            System.out.println(in.nextLong() + in.nextLong());
        }
    }
""")


def test_java_main_class_is_the_files_one_public_class():
    assert java_main_class(JAVA_ADD) == "Solution"
    assert java_main_class("class A {}\nclass Main { public static void main(String[] a) {} }") == "Main"
    assert java_main_class("public final class Fast {}\n") == "Fast"


@needs_java
def test_java_programs_compile_once_and_run_per_test():
    assert verify_code(JAVA_ADD, ADD, language="java").passed
    wrong = verify_code(JAVA_ADD.replace("+ in.nextLong()", "- in.nextLong()"), ADD, language="java")
    assert wrong.reason == "wrong_answer"
    broken = verify_code("public class Main { void f() { int x = ; } }", ADD, language="java")
    assert broken.reason == "compile_error" and "Main.java" in broken.details["error"]
    crash = verify_code("public class Main { public static void main(String[] a) { int[] x = new int[1]; x[2] = 1; } }",
                        ADD, language="java")
    assert crash.reason == "runtime_error" and "ArrayIndexOutOfBounds" in crash.details["tests"][0]["stderr"]


@needs_java
def test_a_java_program_over_its_memory_limit_fails_memory_limit():
    # memory_mb is the JVM's heap (-Xmx); its own reservations get an allowance beyond it
    hog = ("import java.util.*;\npublic class Main { public static void main(String[] a) {\n"
           "  List<long[]> keep = new ArrayList<>();\n  for (int i = 0; i < 40; i++) keep.add(new long[1 << 20]);\n"
           "  System.out.println(keep.size()); } }\n")  # 40 x 8 MB = 320 MB
    assert verify_code(hog, [{"input": "", "output": "40\n"}], language="java",
                       config=CodeConfig(memory_mb=512)).passed
    over = verify_code(hog, [{"input": "", "output": "40\n"}], language="java", config=CodeConfig(memory_mb=128))
    assert over.reason == "memory_limit", over.details


@needs_node
def test_javascript_programs_run_under_node():
    program = "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(BigInt);\n" \
              "console.log((a + b).toString());\n"
    assert verify_code(program, ADD, language="javascript").passed
    from_a_response = verify_code(program, ADD, language="js")
    assert from_a_response.passed
    assert verify_code("console.log(1)\n", ADD, language="js").reason == "wrong_answer"
    assert verify_code("const x = ;\n", ADD, language="js").reason == "compile_error"
    hog = "const keep = [];\nwhile (true) keep.push(new Array(1e6).fill(1.5));\n"
    assert verify_code(hog, ADD[:1], language="js", config=CodeConfig(memory_mb=128)).reason == "memory_limit"


@needs_node
@needs_java
def test_the_fence_tag_picks_java_and_javascript_in_responses():
    from verifiers import verify_code_response

    assert verify_code_response(f"</think>\n```java\n{JAVA_ADD}```\n", ADD).passed
    js = "```javascript\nconst [a, b] = require('fs').readFileSync(0, 'utf8').split(' ').map(Number);\n" \
         "console.log(a + b);\n```"
    assert verify_code_response(js, ADD).passed
