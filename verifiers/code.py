"""Code verifier: run a model-written Python program against tests in the sandbox.

Public API::

    from verifiers.code import extract_code, verify_code, verify_code_response, verify_code_batch

Tests come in two shapes, freely mixed in one list:

- stdin/stdout: ``{"input": "...", "output": "..."}`` (``input`` may be omitted: empty stdin).
  The program runs as a script; its stdout is compared with ``output`` by the checker.
- call-based: ``{"fn_name": "...", "args": [...], "expected": ...}`` (``args`` a list of
  positional arguments or a dict of keyword arguments). The program defines ``fn_name`` at top
  level or as a method of a ``Solution`` class (LeetCode style); the return value is serialised
  to JSON inside the sandbox and compared as a JSON *value* outside, so an object whose
  ``__eq__`` is always true, or a ``str`` subclass, wins nothing.

Checkers (``checker=``): ``exact`` (line endings normalised, trailing whitespace of each line
and trailing blank lines ignored), ``tokens`` (default: whitespace-insensitive, case-sensitive,
order and count preserved), ``float:<tol>`` (tokens; numeric tokens equal within absolute *or*
relative tolerance ``tol`` of the expected value, NaN/inf never equal; other tokens exact). None
passes a prefix of the expected output, extra lines, reordered lines or dropped duplicates. For
call-based tests, numbers compare by value (``2 == 2.0``; with ``float:<tol>`` within ``tol``),
booleans only equal booleans, strings, lists and objects exactly.

A test passes only when the checker accepts the output **and** the program exited with status 0
without an uncaught exception, within ``time_limit_s`` of CPU time (measured outside the
sandbox; a wall clock of ``3 * time_limit_s + 1`` by default stops sleepers and hangs). The verdict's ``score`` is the fraction of tests passed;
``passed`` needs all of them; ``reason`` is ``ok`` or the status of the first failing test
(``wrong_answer``, ``runtime_error``, ``timeout``, ``memory_limit``, ``output_limit``,
``sandbox_error``), or ``syntax_error`` / ``no_code`` before anything runs.
``details["tests"]`` has one entry per test: status, time, exit code, truncated stdout/stderr.
What the sandbox isolates is stated in :mod:`verifiers.sandbox`.
"""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from verifiers.sandbox import Execution, Limits, Sandbox
from verifiers.text import THINK_CLOSE, THINK_OPEN, split_think
from verifiers.verdict import Verdict

WRONG_ANSWER = "wrong_answer"
NO_CODE = "no_code"
SYNTAX_ERROR = "syntax_error"
PASSED = "passed"

LANGUAGE_ALIASES = {
    "python": {"python", "py", "python3", "py3", "python 3"},
    "cpp": {"cpp", "c++", "cxx", "cc"},
    "javascript": {"javascript", "js", "node"},
}

# ----------------------------------------------------------------------------------------------
# extraction


# Any indentation (models indent fences inside list items), unlike CommonMark's 0-3 spaces.
_FENCE_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([^\n]*?)[ \t]*$")


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Fenced code blocks (CommonMark-like) as ``(info_string, content)``; unclosed ones dropped."""
    blocks: list[tuple[str, str]] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if match is None or (match.group(2)[0] == "`" and "`" in match.group(3)):
            i += 1
            continue
        indent, fence, info = len(match.group(1)), match.group(2), match.group(3)
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        for j in range(i + 1, len(lines)):
            if closing.match(lines[j]):
                blocks.append((info, "\n".join(body)))
                i = j + 1
                break
            line = lines[j]
            strip = len(line) - len(line.lstrip(" "))
            body.append(line[min(strip, indent):])
        else:
            break  # unclosed fence: a truncated response, not a program
    return blocks


def extract_code(response: str, language: str = "python") -> str | None:
    """The last fenced block tagged ``language`` in the answer part (after ``</think>``).

    A response that opened ``<think>`` but never closed it was truncated while reasoning and has
    no answer part: ``None``. Untagged blocks and blocks of other languages are ignored; an
    unclosed fence (truncated answer) is not a program.
    """
    if not isinstance(response, str):
        return None
    reasoning, answer = split_think(response)
    if reasoning is None and THINK_OPEN in response and THINK_CLOSE not in response:
        return None
    wanted = LANGUAGE_ALIASES.get(language.lower(), {language.lower()})
    for info, content in reversed(_fenced_blocks(answer)):
        tag = info.split()[0].lower().strip("{}.") if info.split() else ""
        if tag in wanted and content.strip():
            # a block indented as a whole (e.g. inside a list item) is dedented
            return textwrap.dedent(content).strip("\n") + "\n"
    return None


# ----------------------------------------------------------------------------------------------
# checkers

Checker = Callable[[str, str], bool]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_FLOAT_SLACK = 1e-15  # representation error of the doubles themselves (as testlib does)


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def check_exact(expected: str, actual: str) -> bool:
    return _lines(expected) == _lines(actual)


def check_tokens(expected: str, actual: str) -> bool:
    return expected.split() == actual.split()


def _as_number(token: str) -> float | None:
    if _NUMBER.fullmatch(token) or _NONFINITE.fullmatch(token):
        return float(token)
    return None


def _close(expected: float, actual: float, tol: float) -> bool:
    if not (math.isfinite(expected) and math.isfinite(actual)):
        return False
    diff = abs(actual - expected)
    return diff <= tol + _FLOAT_SLACK or diff <= tol * abs(expected) + _FLOAT_SLACK


def float_checker(tol: float) -> Checker:
    def check(expected: str, actual: str) -> bool:
        want, got = expected.split(), actual.split()
        if len(want) != len(got):
            return False
        for w, g in zip(want, got):
            w_num = _as_number(w)
            if w_num is None:
                if w != g:
                    return False
                continue
            g_num = _as_number(g)
            if g_num is None or not _close(w_num, g_num, tol):
                return False
        return True

    return check


def parse_checker(spec: str) -> tuple[Checker, float | None]:
    """``exact`` | ``tokens`` | ``float:<tol>`` -> (output checker, numeric tolerance or None)."""
    if spec == "exact":
        return check_exact, None
    if spec == "tokens":
        return check_tokens, None
    if isinstance(spec, str) and spec.startswith("float:"):
        try:
            tol = float(spec[len("float:"):])
        except ValueError:
            tol = -1.0
        if math.isfinite(tol) and tol >= 0:
            return float_checker(tol), tol
    raise ValueError(f"option 'checker' must be 'exact', 'tokens' or 'float:<tol>' (tol >= 0), got {spec!r}")


# ----------------------------------------------------------------------------------------------
# JSON value comparison (call-based tests)


class _NonFinite:
    """NaN/Infinity parsed from JSON: equal to nothing, itself included."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _loads(text: str) -> Any:
    # ints as Decimal: exact, unbounded (no int_max_str_digits limit) and comparable with floats
    return json.loads(text, parse_int=Decimal, parse_constant=_NonFinite)


def values_equal(expected: Any, actual: Any, tol: float | None = None) -> bool:
    """Structural equality of two parsed JSON values (see the module docstring)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    numbers = (Decimal, float, _NonFinite)
    if isinstance(expected, numbers) or isinstance(actual, numbers):
        if not (isinstance(expected, numbers) and isinstance(actual, numbers)):
            return False
        if isinstance(expected, _NonFinite) or isinstance(actual, _NonFinite):
            return False
        if expected == actual:
            return True
        return tol is not None and _close(float(expected), float(actual), tol)
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(values_equal(e, a, tol) for e, a in zip(expected, actual)))
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(values_equal(v, actual[k], tol) for k, v in expected.items()))
    return type(expected) is type(actual) and expected == actual  # str, None


# Runs inside the sandbox for call-based tests: /code/main.py, the program at /code/solution.py.
HARNESS = r'''
import json, os, sys, traceback, types
from json import dumps as _dumps

def _resolve(module, name):
    obj = module.__dict__.get(name)
    if callable(obj):
        return obj
    sol = module.__dict__.get("Solution")
    if isinstance(sol, type) and callable(getattr(sol, name, None)):
        return getattr(sol(), name)
    raise NameError("function %r is not defined" % name)

def _main():
    fd = int(sys.argv[1].split("=", 1)[1])
    name = sys.argv[2]
    args = json.loads(sys.stdin.buffer.read())
    sys.stdin = open(os.devnull)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "solution.py")
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    module = types.ModuleType("solution")
    module.__file__ = path
    sys.modules["solution"] = module
    try:
        exec(compile(source, path, "exec"), module.__dict__)
        fn = _resolve(module, name)
        value = fn(**args) if isinstance(args, dict) else fn(*args)
    except BaseException:  # SystemExit too: leaving during the call is not returning a value
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    try:
        text = _dumps(value)
    except BaseException as exc:
        sys.stderr.write("result is not JSON-serialisable: %s: %s\n" % (type(exc).__name__, exc))
        text = None
    try:
        sys.stdout.flush()
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    if text is not None:
        data = text.encode("utf-8", "surrogatepass")
        while data:
            data = data[os.write(fd, data):]
    os._exit(0)

_main()
'''


# ----------------------------------------------------------------------------------------------
# tests


@dataclass(frozen=True, slots=True)
class _Test:
    stdin: bytes
    expected: Any  # str (stdin/stdout) or parsed JSON value (call-based)
    fn_name: str | None = None


def normalize_tests(tests: Any) -> list[_Test]:
    """Validate tests (a list of dicts, or its JSON text) -> internal tests; ValueError if bad."""
    if isinstance(tests, (str, bytes)):
        try:
            tests = json.loads(tests)
        except ValueError as exc:
            raise ValueError(f"problem key 'tests' is not valid JSON: {exc}") from None
    if isinstance(tests, Mapping) and "inputs" in tests and "outputs" in tests:
        tests = _from_apps(tests)  # APPS/TACO `input_output` shape
    if not isinstance(tests, Sequence) or isinstance(tests, (str, bytes)) or not tests:
        raise ValueError(f"problem key 'tests' must be a non-empty list of test dicts, got {type(tests).__name__}")
    out = []
    for i, test in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(test, Mapping):
            raise ValueError(f"{where} must be a dict, got {type(test).__name__}")
        if "fn_name" in test:
            name = test["fn_name"]
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"{where}['fn_name'] must be an identifier, got {name!r}")
            if "expected" not in test:
                raise ValueError(f"{where} is call-based but has no 'expected'")
            args = test.get("args", [])
            if not isinstance(args, (list, tuple, Mapping)):
                raise ValueError(f"{where}['args'] must be a list or dict, got {type(args).__name__}")
            try:
                stdin = json.dumps(args if isinstance(args, Mapping) else list(args)).encode()
                expected = _loads(json.dumps(test["expected"]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: args/expected must be JSON-serialisable ({exc})") from None
            out.append(_Test(stdin, expected, name))
        else:
            if "output" not in test:
                raise ValueError(f"{where} needs 'output' (stdin/stdout) or 'fn_name' (call-based)")
            stdin, expected = test.get("input", ""), test["output"]
            if stdin is None:
                stdin = ""
            if not isinstance(stdin, str) or not isinstance(expected, str):
                raise ValueError(f"{where}['input'] and ['output'] must be strings")
            out.append(_Test(stdin.encode(), expected))
    return out


def _from_apps(io: Mapping[str, Any]) -> list[dict[str, Any]]:
    inputs, outputs, name = io["inputs"], io["outputs"], io.get("fn_name")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise ValueError("problem key 'tests': 'inputs' and 'outputs' must be lists of equal length")
    if name:
        # APPS wraps a single return value in a one-element list
        return [{"fn_name": name, "args": a, "expected": o[0] if isinstance(o, list) and len(o) == 1 else o}
                for a, o in zip(inputs, outputs)]
    return [{"input": _text(a), "output": _text(o)} for a, o in zip(inputs, outputs)]


def _text(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


# ----------------------------------------------------------------------------------------------
# running


@dataclass(frozen=True, slots=True)
class _Options:
    checker: Checker
    tol: float | None
    limits: Limits
    sandbox_key: tuple[str | None, bool]
    detail_chars: int


_SANDBOXES: dict[tuple[str | None, bool], Sandbox] = {}
_SANDBOX_LOCK = threading.Lock()


def _sandbox(key: tuple[str | None, bool]) -> Sandbox:
    with _SANDBOX_LOCK:
        box = _SANDBOXES.get(key)
        if box is None:
            box = _SANDBOXES[key] = Sandbox(python=key[0], unsafe_no_sandbox=key[1])
        return box


def _options(
    checker: str = "tokens",
    time_limit_s: float = 2.0,
    memory_mb: int = 256,
    max_procs: int = 4,
    output_mb: float = 16.0,
    disk_mb: int = 64,
    wall_limit_s: float | None = None,
    unsafe_no_sandbox: bool = False,
    python: str | None = None,
    detail_chars: int = 256,
) -> _Options:
    check, tol = parse_checker(checker)
    limits = Limits(time_s=time_limit_s, memory_mb=memory_mb, max_procs=max_procs, output_mb=output_mb,
                    disk_mb=disk_mb, wall_s=wall_limit_s)
    return _Options(check, tol, limits, (python, bool(unsafe_no_sandbox)), int(detail_chars))


def _syntax_error(program: str) -> str | None:
    try:
        compile(program, "/code/main.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
        return f"{type(exc).__name__}: {exc}"
    except (MemoryError, RecursionError):
        return None  # let the sandboxed interpreter decide
    return None


def _run_test(program: str, test: _Test, opts: _Options) -> dict[str, Any]:
    box = _sandbox(opts.sandbox_key)
    if test.fn_name is None:
        run = box.run(program, test.stdin, limits=opts.limits)
    else:
        run = box.run(HARNESS, test.stdin, limits=opts.limits, args=[test.fn_name],
                      files={"solution.py": program}, result_channel=True)
    return _judge(run, test, opts)


def _judge(run: Execution, test: _Test, opts: _Options) -> dict[str, Any]:
    status = run.status
    stdout = run.stdout.decode("utf-8", errors="replace")
    if status == "ok":
        if test.fn_name is None:
            accepted = opts.checker(test.expected, stdout)
        else:
            try:
                accepted = bool(run.result) and values_equal(test.expected, _loads(run.result.decode("utf-8")), opts.tol)
            except (ValueError, UnicodeDecodeError, RecursionError):
                accepted = False
        status = PASSED if accepted else WRONG_ANSWER
    n = opts.detail_chars
    stderr = run.stderr.decode("utf-8", errors="replace")
    return {
        "status": status,
        "time_s": round(run.wall_s, 4),
        "cpu_s": round(run.cpu_s, 4) if run.cpu_s == run.cpu_s else None,
        "exit_code": run.exit_code,
        "stdout": stdout[:n],
        "stderr": stderr[-n:] if n else "",
    }


def _verdict(program: str, results: list[dict[str, Any]]) -> Verdict:
    passed = sum(r["status"] == PASSED for r in results)
    score = passed / len(results)
    details = {"tests": results, "passed": passed, "total": len(results)}
    if passed == len(results):
        return Verdict.ok(score, extracted=program, details=details)
    first = next(r["status"] for r in results if r["status"] != PASSED)
    return Verdict.fail(first, score, extracted=program, details=details)


def _run_jobs(jobs: list[tuple[str, _Test, _Options]], workers: int) -> list[dict[str, Any]]:
    if workers <= 1 or len(jobs) <= 1:
        return [_run_test(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs)), thread_name_prefix="sandbox") as pool:
        return list(pool.map(lambda job: _run_test(*job), jobs))


def verify_code(
    program: str,
    tests: list[dict[str, Any]] | str,
    *,
    checker: str = "tokens",
    time_limit_s: float = 2.0,
    memory_mb: int = 256,
    max_procs: int = 4,
    output_mb: float = 16.0,
    disk_mb: int = 64,
    wall_limit_s: float | None = None,
    unsafe_no_sandbox: bool = False,
    python: str | None = None,
    detail_chars: int = 256,
    workers: int = 1,
) -> Verdict:
    """Run ``program`` (Python source) on every test in the sandbox; see the module docstring.

    Limits apply per test execution: ``time_limit_s`` CPU seconds of the program's process tree
    (what it is judged on), ``wall_limit_s`` wall clock (default ``3 * time_limit_s + 1``: stops
    sleepers without failing correct programs on a busy machine), ``memory_mb`` address space,
    ``max_procs`` processes/threads, ``output_mb`` stdout/stderr/any file, ``disk_mb`` work dir.
    ``workers`` > 1 runs this program's tests concurrently. Raises ``ValueError`` on bad tests or
    options, :class:`verifiers.sandbox.SandboxUnavailable` when bubblewrap is missing.
    """
    return verify_code_batch(
        [(program, tests)], workers=workers, checker=checker, time_limit_s=time_limit_s,
        memory_mb=memory_mb, max_procs=max_procs, output_mb=output_mb, disk_mb=disk_mb,
        wall_limit_s=wall_limit_s, unsafe_no_sandbox=unsafe_no_sandbox, python=python, detail_chars=detail_chars,
    )[0]


def verify_code_response(completion: str, tests: Any, *, language: str = "python", **options: Any) -> Verdict:
    """The verify stage's adapter: extract the program from a model response, then verify it.

    No code block -> ``Verdict.fail("no_code")``; missing or malformed ``tests`` is a bad
    problem -> ``ValueError``.
    """
    return verify_code_batch([{"completion": completion, "tests": tests}], workers=options.pop("workers", 1),
                             language=language, **options)[0]


def verify_code_batch(
    items: Iterable[tuple[str, Any] | Mapping[str, Any]],
    workers: int | None = None,
    *,
    language: str = "python",
    **options: Any,
) -> list[Verdict]:
    """Verify many programs at once, every test of every item spread over ``workers`` sandboxes.

    An item is ``(program, tests)``, ``{"program": ..., "tests": ...}`` or a trace row
    ``{"completion": ..., "tests": ...}`` (the program is then extracted with
    :func:`extract_code`). ``workers`` defaults to the number of CPUs. Options as for
    :func:`verify_code`. Verdicts come back in item order.
    """
    opts = _options(**options)
    if opts.sandbox_key[1]:
        warnings.warn("verify_code(unsafe_no_sandbox=True): model-written code runs WITHOUT isolation; "
                      "trusted inputs only", RuntimeWarning, stacklevel=2)
    verdicts: list[Verdict | None] = []
    jobs: list[tuple[str, _Test, _Options]] = []
    spans: list[tuple[int, int, str]] = []  # (item index, first job, program)
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            tests = item.get("tests")
            if "program" in item:
                program = item["program"]
            else:
                program = extract_code(item.get("completion") or "", language)
        else:
            program, tests = item
        if tests is None:
            raise ValueError(f"item {i}: problem has no 'tests' for the code verifier")
        try:
            parsed = normalize_tests(tests)
        except ValueError as exc:
            raise ValueError(f"item {i}: {exc}") from None
        if not isinstance(program, str) or not program.strip():
            verdicts.append(Verdict.fail(NO_CODE))
            continue
        error = _syntax_error(program)
        if error is not None:
            verdicts.append(Verdict.fail(SYNTAX_ERROR, extracted=program, details={"error": error}))
            continue
        verdicts.append(None)
        spans.append((i, len(jobs), program))
        jobs.extend((program, test, opts) for test in parsed)
    if jobs:
        _sandbox(opts.sandbox_key).check()  # a broken sandbox raises here, once
    results = _run_jobs(jobs, workers if workers is not None else (os.cpu_count() or 1))
    bounds = [start for _, start, _ in spans] + [len(jobs)]
    for k, (i, start, program) in enumerate(spans):
        verdicts[i] = _verdict(program, results[start:bounds[k + 1]])
    return verdicts  # type: ignore[return-value]


__all__ = [
    "HARNESS", "check_exact", "check_tokens", "extract_code", "float_checker", "normalize_tests",
    "parse_checker", "values_equal", "verify_code", "verify_code_batch", "verify_code_response",
]
