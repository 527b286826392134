"""Special judges: a checker program per problem decides whether a program's output is right.

Competitive-programming problems that accept many outputs (any valid path, any order, a custom
float tolerance) ship a checker instead of one expected output. A problem names one in its
``tests`` object (``checker_program``, ``checker_language``; see :mod:`verifiers.code`) and every
stdin/stdout test of it is then judged by running the checker, in the sandbox, on three
read-only files:

- **Python** (``checker_language: python``): ``checker /code/input /code/expected /code/actual``,
  i.e. ``sys.argv[1:]`` are the test's input, the expected output from the problem and the
  program's actual output.
- **C++, testlib-style** (``checker_language: cpp``): compiled once per problem (as a program
  is: ``g++ -O2 -std=c++17``), then run as testlib checkers are,
  ``checker /code/input /code/actual /code/expected`` (input, the contestant's output, the
  jury's answer). A checker that includes ``"testlib.h"`` needs the header: the code verifier's
  ``testlib_h`` option names the file, which is placed beside the source.

Exit status 0 accepts; 1 (wrong answer), 2 (presentation error) and 7 (partial points) reject, so
the test is ``wrong_answer``; anything else (3, testlib's "checker failed", an uncaught Python
exception, a signal, running past the checker's time or memory limit) is ``checker_error``: the
problem's judge failed, which says nothing about the program and is not its wrong answer. The
checker's stdout and stderr go into the test's details (``checker``). The checker runs with its
own limits (``checker_time_limit_s`` CPU seconds, at least 1 GiB of address space) in a fresh
cold sandbox per test, so it sees the same isolation as the program and nothing else.
"""

from __future__ import annotations

from verifiers.sandbox import Execution

CHECKER_LANGUAGES = ("python", "cpp")
CHECKER_ERROR = "checker_error"
ACCEPT_CODES = frozenset({0})
REJECT_CODES = frozenset({1, 2, 7})

# /code/main.py of a Python checker's run: the checker as __main__ with the three paths as its
# argv; an uncaught exception is a crash (exit 3), never a rejection of the program.
CHECKER_WRAPPER = r'''
import os, sys, traceback
here = os.path.dirname(os.path.abspath(__file__))  # /code in the sandbox
sys.argv = ["checker", *(os.path.join(here, name) for name in ("input", "expected", "actual"))]
try:
    path = os.path.join(here, "checker.py")
    with open(path, encoding="utf-8") as fh:
        code = compile(fh.read(), path, "exec")
    exec(code, {"__name__": "__main__", "__file__": path})
except SystemExit:
    raise
except BaseException:
    traceback.print_exc()
    sys.exit(3)
'''

# where each language's checker finds the three files, in its argument order
CHECKER_ARGS = {
    "python": ("/code/input", "/code/expected", "/code/actual"),
    "cpp": ("/code/input", "/code/actual", "/code/expected"),
}


def checker_outcome(run: Execution, detail_chars: int) -> tuple[bool | None, str]:
    """``(True, message)`` accepted, ``(False, message)`` rejected, ``(None, message)`` the checker failed."""
    message = (run.stdout + run.stderr).decode("utf-8", errors="replace")
    message = message[-detail_chars:] if detail_chars else ""
    if run.status not in ("ok", "runtime_error"):  # timeout, memory, output or sandbox failure
        return None, f"checker {run.status}: {message}"
    if run.exit_code in ACCEPT_CODES:
        return True, message
    if run.exit_code in REJECT_CODES:
        return False, message
    return None, f"checker exit status {run.exit_code}: {message}"


__all__ = ["ACCEPT_CODES", "CHECKER_ARGS", "CHECKER_ERROR", "CHECKER_LANGUAGES", "CHECKER_WRAPPER", "REJECT_CODES",
           "checker_outcome"]
