"""Assert-script tests ({"script": ...}): passes only by running to the end; one hostile program per trick."""

from __future__ import annotations

import textwrap

import pytest

from verifiers import CodeConfig, verify_code, verify_code_batch
from verifiers import sandbox as sandbox_mod
from verifiers.code import parse_problem

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(sandbox_mod.bwrap_path() is None,
                       reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap"),
]

ADD = "def add(a, b):\n    return a + b\n"
HUMANEVAL_STYLE = [{"script": "def check(candidate):\n    assert candidate(1, 2) == 3\n"
                              "    assert candidate(-4, 4) == 0\n\ncheck(add)\n"}]
BOTH = pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])


def verdict(program: str, tests=HUMANEVAL_STYLE, warm: bool = True, **config):
    return verify_code(textwrap.dedent(program), tests, config=CodeConfig(warm=warm, **config))


@BOTH
def test_a_right_program_passes_and_a_wrong_one_is_wrong_answer(warm):
    assert verdict(ADD, warm=warm).passed
    wrong = verdict("def add(a, b):\n    return a - b\n", warm=warm)
    assert wrong.reason == "wrong_answer" and "AssertionError" in wrong.details["tests"][0]["stderr"]
    crash = verdict("def add(a, b):\n    return a + c\n", warm=warm)
    assert crash.reason == "runtime_error" and "NameError" in crash.details["tests"][0]["stderr"]


# -- the tricks: each program would "pass" a harness that trusted its exit status or its output ----

TRICKS = {
    "sys_exit_0_before_tests": "import sys\nsys.exit(0)\n",
    "os_exit_0_before_tests": "import os\nos._exit(0)\n",
    "raise_system_exit_during_check": "def add(a, b):\n    raise SystemExit(0)\n",
    "os_exit_0_during_check": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "kill_itself_cleanly": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "atexit_exit_0": "import atexit, os\natexit.register(lambda: os._exit(0))\ndef add(a, b):\n    return 0\n",
    "redefine_check": "def add(a, b):\n    return 0\ndef check(candidate):\n    pass\n",
    "patch_builtins_assertion_error": (
        "import builtins\nclass Harmless(Exception):\n    pass\nbuiltins.AssertionError = Harmless\n"
        "def add(a, b):\n    return 0\n"),
    "excepthook_swallows_assertion": (
        "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\ndef add(a, b):\n    return 0\n"),
    "trace_skips_asserts": "import sys\nsys.settrace(lambda *a: None)\ndef add(a, b):\n    return 0\n",
    "print_the_sentinel": "import sys\nprint('ALL TESTS PASSED')\nprint('OK', file=sys.stderr)\nsys.exit(0)\n",
    "write_every_fd": (
        "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'ok')\n    except OSError:\n"
        "        pass\nos._exit(0)\n"),
    "read_the_nonce_from_memory": (
        "import gc\nfor o in gc.get_objects():\n    pass\ndef add(a, b):\n    return a + b\n"),
    "read_proc_self_mem": "open('/proc/self/mem', 'rb')\ndef add(a, b):\n    return a + b\n",
    "fake_the_done_event": "import sys, os\nsys.audit('factory.script_done')\nos._exit(0)\n",
    "enter_the_harness_again": (
        "import sys, os\nf = sys._getframe(1)\nwhile f and '_harness' not in f.f_globals:\n    f = f.f_back\n"
        "r, w = os.pipe()\nos.write(w, b'{\"nonce\": \"x\", \"script\": \"pass\", \"restore\": [], '\n"
        "b'\"restore_if_loaded\": []}')\nos.close(w)\n"
        "os.dup2(r, 0)\nf.f_globals['_harness']()\n"),
    "call_harness_code": (
        "import sys, os, types\nf = sys._getframe(1)\nwhile f and '_harness' not in f.f_globals:\n    f = f.f_back\n"
        "code = f.f_globals['_harness'].__code__\nexec(code, dict(f.f_globals))\n"),
    "ctypes_memory": "import ctypes\nctypes.string_at(id(0), 8)\ndef add(a, b):\n    return a + b\n",
}
TRICK_TESTS = [{"script": "import math\ndef check(candidate):\n    assert candidate(1, 2) == 3\n"
                          "    assert math.isclose(candidate(0.5, 0.25), 0.75)\n"
                          "    assert isinstance(candidate(1, 1), int) and all([candidate(1, 1) == 2])\n"
                          "    assert abs(candidate(1, 1) - 2) < 1e-9\n\ncheck(add)\n"}]


# a right add() with a patch that would make one false assert true: (program, the assert)
PATCHES = {
    "patch_builtins_all": ("import builtins\nbuiltins.all = lambda *a: True\n", "assert all([add(1, 2) == 4])\n"),
    "patch_builtins_isinstance": ("import builtins\nbuiltins.isinstance = lambda *a: True\n",
                                  "assert isinstance(add(1, 2), str)\n"),
    "patch_builtins_abs": ("import builtins\nbuiltins.abs = lambda x: 0\n", "assert abs(add(1, 2) - 4) < 1e-9\n"),
    "patch_math_isclose": ("import math\nmath.isclose = lambda *a, **k: True\n",
                           "import math\nassert math.isclose(add(0.5, 0.25), 1.0)\n"),
    "patch_sys_modules_math": ("import sys, types\nfake = types.ModuleType('math')\n"
                               "fake.isclose = lambda *a, **k: True\nsys.modules['math'] = fake\n",
                               "import math\nassert math.isclose(add(0.5, 0.25), 1.0)\n"),
    "preset_pytest_module": ("import sys, types\nfake = types.ModuleType('pytest')\n"
                             "fake.approx = lambda *a, **k: type('E', (), {'__eq__': lambda s, o: True})()\n"
                             "sys.modules['pytest'] = fake\n",
                             "import pytest\nassert add(1, 2) == pytest.approx(4)\n"),
}


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_program_cannot_forge_a_pass(trick, warm):
    result = verdict(TRICKS[trick], TRICK_TESTS, warm=warm)
    assert not result.passed, (trick, result.details)
    assert result.reason in {"wrong_answer", "runtime_error"}, (trick, result.reason)


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_a_patch_does_not_turn_a_false_assert_true(patch, warm):
    program, script = PATCHES[patch]
    result = verdict(program + ADD, [{"script": script}], warm=warm)
    assert result.reason == "wrong_answer", (patch, result.details)


def test_the_tricks_tests_pass_an_honest_program():
    # so that every trick above fails because of its trick, not because the test cannot pass
    assert verdict(ADD, TRICK_TESTS).passed


def test_an_exit_before_the_tests_says_why():
    result = verdict(TRICKS["os_exit_0_before_tests"])
    assert result.reason == "runtime_error"
    assert result.details["tests"][0]["error"] == "the test script did not run to its end"
    assert result.details["tests"][0]["exit_code"] == 0


# -- shapes ---------------------------------------------------------------------------------------


def test_scripts_mix_with_stdin_stdout_and_call_based_tests():
    program = "import sys\ndef add(a, b):\n    return a + b\nif __name__ == '__main__':\n" \
              "    a, b = map(int, sys.stdin.read().split())\n    print(add(a, b))\n"
    tests = [{"input": "1 2\n", "output": "3\n"}, {"fn_name": "add", "args": [2, 3], "expected": 5},
             {"script": "assert add(4, 5) == 9\n"}, {"script": "assert add(1, 1) == 3\n"}]
    result = verify_code(program, tests)
    assert [t["status"] for t in result.details["tests"]] == ["passed", "passed", "passed", "wrong_answer"]
    assert result.score == 0.75 and result.reason == "wrong_answer"


def test_the_program_is_module_solution_and_its_main_block_does_not_run():
    program = "def add(a, b):\n    return a + b\nif __name__ == '__main__':\n    raise SystemExit(1)\n"
    tests = [{"script": "from solution import add as plus\nimport solution\nassert plus(1, 2) == 3\n"
                        "assert solution.__name__ == 'solution'\n"}]
    assert verify_code(program, tests).passed


def test_pytest_style_functions_run_after_the_script():
    tests = [{"script": textwrap.dedent("""
        import pytest
        from solution import add

        def helper():
            return 1

        def test_small():
            assert add(1, 2) == 3

        @pytest.mark.parametrize("a, b, total", [(1, 2, 3), (2, 2, 4), (0.1, 0.2, 0.3)])
        def test_many(a, b, total):
            assert add(a, b) == pytest.approx(total)

        def test_raises():
            with pytest.raises(TypeError, match="unsupported"):
                add(1, "a")

        @pytest.mark.skip(reason="not this one")
        def test_skipped():
            assert False

        class TestClass:
            def test_method(self):
                assert add(2, 3) == 5
        """)}]
    assert verify_code(ADD, tests).passed, verify_code(ADD, tests).details
    wrong = verify_code("def add(a, b):\n    return a + b + (a == 2)\n", tests)
    assert wrong.reason == "wrong_answer"
    fixture = [{"script": "def test_needs(tmp_path):\n    pass\n"}]
    missing = verify_code(ADD, fixture)
    assert missing.reason == "runtime_error" and "fixtures are not supported" in missing.details["tests"][0]["stderr"]


def test_a_test_function_that_never_runs_fails():
    # the pytest-style functions run after the top level: a failing one is not hidden by the script ending
    tests = [{"script": "def test_fails():\n    assert add(1, 1) == 3\n"}]
    assert verify_code(ADD, tests).reason == "wrong_answer"


def test_limits_apply_to_script_tests():
    slow = verdict("def add(a, b):\n    while True:\n        pass\n", time_limit_s=0.5)
    assert slow.reason == "timeout"
    hungry = verdict("def add(a, b):\n    return len(bytearray(1 << 30))\n", memory_mb=128)
    assert hungry.reason == "memory_limit"


def test_bad_scripts_are_problem_errors():
    with pytest.raises(ValueError, match=r"tests\[0\]\['script'\] does not compile"):
        parse_problem([{"script": "def check(:\n"}])
    with pytest.raises(ValueError, match=r"tests\[1\]\['script'\]"):
        parse_problem([{"input": "", "output": ""}, {"script": ""}])


def test_compiled_programs_cannot_take_script_tests():
    result = verify_code("int main() { return 0; }\n", HUMANEVAL_STYLE, language="cpp")
    assert result.reason == "unsupported_test"


def test_batch_mixes_script_problems_with_others():
    items = [(ADD, HUMANEVAL_STYLE), ("print(3)\n", [{"input": "", "output": "3\n"}]),
             ("def add(a, b):\n    return 0\n", HUMANEVAL_STYLE)]
    assert [v.passed for v in verify_code_batch(items, workers=2)] == [True, True, False]
