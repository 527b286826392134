"""Code verifier: run a model-written Python, C++, C, Java or JavaScript program against tests in the sandbox.

Public API::

    from verifiers import verify_code, verify_code_response, verify_code_batch, CodeConfig
    from verifiers.code import extract_code, parse_problem

Toolchains: the fence tag of the extracted block picks one (```` ```python ```` and its aliases
-> Python, the default for a bare program; ```` ```cpp ````, ```` ```c++ ````, ```` ```cc ````
-> C++; ```` ```c ```` -> C; ```` ```java ```` -> Java; ```` ```js ````, ```` ```javascript ````
-> JavaScript). Python runs in the warm sandbox (:mod:`verifiers.warm_sandbox`: a forked child of
an already isolated interpreter per test) wherever it can, else a fresh bubblewrap sandbox per
test (:mod:`verifiers.sandbox`). The others are built once per program inside a fresh sandbox
(:data:`TOOLCHAINS`: ``g++``/``gcc -O2``, ``javac`` into a jar, ``node --check``) under their own,
larger limits, then run for every test in a fresh sandbox; a program that does not build (or
whose build exceeds those limits) fails ``compile_error`` with the compiler's first error lines
in ``details["error"]``. They run stdin/stdout tests only: call-based and script tests fail them
with ``unsupported_test``. The JVM and node get ``memory_mb`` as their heap and an address-space
allowance beyond it (:class:`Toolchain`).

Tests come in three shapes, freely mixed in one list:

- stdin/stdout: ``{"input": "...", "output": "..."}`` (``input`` may be omitted: empty stdin).
  The program runs as a script; its stdout is compared with ``output`` by the checker, or judged
  by the problem's checker program (:mod:`verifiers.checker_programs`).
- call-based: ``{"fn_name": "...", "args": [...], "expected": ...}`` (``args`` a list of
  positional arguments or a dict of keyword arguments). The program defines ``fn_name`` at top
  level or as a method of a ``Solution`` class (LeetCode style); the return value is serialised
  to JSON inside the sandbox and compared as a JSON *value* outside, so an object whose
  ``__eq__`` is always true, or a ``str`` subclass, wins nothing.
- assert script: ``{"script": "..."}``, Python test code run after the program in its namespace;
  it passes by running to its end (and its ``test_*`` functions returning), confirmed by a nonce
  the program cannot reach (:mod:`verifiers.script_tests`).

A problem's ``tests`` may also be an object that adds a checker program and the problem's own
limits: ``{"tests": [...], "checker_program": SOURCE, "checker_language": "python" | "cpp",
"time_limit_s": 2, "memory_mb": 256}`` (:func:`parse_problem`); the limits replace the config's
``time_limit_s`` / ``memory_mb``, capped by its ``max_time_limit_s`` / ``max_memory_mb``.
:mod:`verifiers.code_datasets` writes that object from HumanEval, MBPP, KodCode, AceCode,
APPS/TACO and Codeforces rows.

Checkers (``checker=``): ``exact`` (line endings normalised, trailing whitespace of each line
and trailing blank lines ignored), ``tokens`` (default: whitespace-insensitive, case-sensitive,
order and count preserved), ``float:<tol>`` (tokens; numeric tokens equal within absolute *or*
relative tolerance ``tol`` of the expected value, NaN/inf never equal; other tokens exact). None
passes a prefix of the expected output, extra lines, reordered lines or dropped duplicates. For
call-based tests, numbers compare by value (``2 == 2.0``; with ``float:<tol>`` within ``tol``),
booleans only equal booleans, strings, lists and objects exactly.

A test passes only when the checker accepts the output **and** the program exited with status 0
without an uncaught exception, within ``time_limit_s`` of CPU time (measured by a process the
program cannot reach: bwrap's parent, or the warm zygote; a wall clock of ``3 * time_limit_s +
1`` by default stops sleepers and hangs). The verdict's ``score`` is the fraction of tests passed;
``passed`` needs all of them; ``reason`` is ``ok``, ``checker_error`` if the problem's checker
program failed on any test (:data:`INFRASTRUCTURE_REASONS`: the verification failed, not the
program), else the status of the first failing test (``wrong_answer``, ``runtime_error``,
``timeout``, ``memory_limit``, ``output_limit``, ``sandbox_error``), or ``syntax_error`` /
``compile_error`` / ``unsupported_test`` / ``no_code`` before any test runs.
``details["tests"]`` has one entry per test: status, time, exit code, truncated stdout/stderr
(and the checker's output, or why a script did not finish).
What the sandboxes isolate is stated in :mod:`verifiers.sandbox` and :mod:`verifiers.warm_sandbox`.

Where programs run is a provider's business (:func:`code_provider`): :class:`LocalProvider`, the
sandboxes above, or with ``CodeConfig.remote`` a pool of execution services speaking the Piston
API (:mod:`verifiers.remote`, ``factory sandbox serve``; docs/remote-sandbox.md). Only running
moves; extraction, script nonces, checkers and verdicts stay here, so the reasons are the same.
Checker programs run only through the local provider: with a remote, a problem that has one
fails ``unsupported_test``.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import logging
import math
import os
import re
import shutil
import textwrap
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from verifiers.checker_programs import (
    CHECKER_ARGS,
    CHECKER_ERROR,
    CHECKER_LANGUAGES,
    CHECKER_WRAPPER,
    checker_outcome,
)
from verifiers.configs import CodeConfig
from verifiers.remote import RemoteProvider
from verifiers.sandbox import SANDBOX_ENV, Execution, Limits, Sandbox, SandboxUnavailable
from verifiers.script_tests import ASSERTION_EXIT, SCRIPT_HARNESS, script_job
from verifiers.text import THINK_CLOSE, THINK_OPEN, split_think
from verifiers.verdict import Verdict
from verifiers.warm_sandbox import WarmSandbox

log = logging.getLogger(__name__)
WRONG_ANSWER = "wrong_answer"
NO_CODE = "no_code"
SYNTAX_ERROR = "syntax_error"
COMPILE_ERROR = "compile_error"
UNSUPPORTED_TEST = "unsupported_test"
PASSED = "passed"
# reasons that say the verification itself failed (the sandbox, a problem's checker program), not
# the program: a run should retry them rather than keep them as verdicts
INFRASTRUCTURE_REASONS = frozenset({"sandbox_error", CHECKER_ERROR})

LANGUAGE_ALIASES = {
    "python": {"python", "py", "python3", "py3", "python 3"},
    "cpp": {"cpp", "c++", "cxx", "cc"},
    "c": {"c"},
    "javascript": {"javascript", "js", "node", "nodejs"},
    "java": {"java"},
}


@dataclass(frozen=True, slots=True)
class Toolchain:
    """How one language is built and run inside the sandbox.

    ``compile`` is the build command (``/code/<source>`` in, ``/work/main`` out; ``{source}``
    stands for the source file's name), run once per program under the compile limits. ``run``
    is the command that runs the build (default: ``/code/main`` itself), ``/code/main`` being the
    built file and ``{memory_mb}`` the test's memory limit. Runtimes that reserve address space
    of their own (the JVM, V8) get ``memory_overhead_mb`` more address space than the heap they
    are given, and ``extra_procs`` more threads (their GC and compiler threads count).
    """

    source: str  # the source file's name under /code ("{public_class}.java" for Java)
    compile: tuple[str, ...]
    run: tuple[str, ...] | None = None
    memory_overhead_mb: int = 0
    extra_procs: int = 0
    ro_binds: tuple[str, ...] = ()  # host configuration it reads, bound read-only into its sandboxes


# The JVM's own flags: one GC thread, the quick JIT only, small fixed reservations, so that its
# address space stays close to its heap (see the module docstring on memory).
_JVM = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:CompressedClassSpaceSize=64m",
    "-XX:MaxMetaspaceSize=128m",
)
# Languages the verifier runs: None (Python, interpreted in the warm or cold sandbox) or their
# toolchain. -O2 and C++17 / C11: what Codeforces-style judges use; the binary links
# libstdc++/libc dynamically from the sandbox's read-only /usr; -pipe: no temp files. Java is
# compiled by javac and packed into a jar; JavaScript is syntax-checked by node --check (a
# compile_error as for C++) and run by node.
TOOLCHAINS: dict[str, Toolchain | None] = {
    "python": None,
    "cpp": Toolchain("main.cpp", ("g++", "-O2", "-std=c++17", "-pipe", "-o", "/work/main", "/code/main.cpp")),
    "c": Toolchain("main.c", ("gcc", "-O2", "-std=c11", "-pipe", "-o", "/work/main", "/code/main.c", "-lm")),
    "java": Toolchain(
        "{source}",
        (
            "javac",
            "-J-Xmx512m",
            *(f"-J{flag}" for flag in _JVM),
            "-encoding",
            "UTF-8",
            "-nowarn",
            "-d",
            "/work/classes",
            "/code/{source}",
        ),
        run=("java", "-Xmx{memory_mb}m", "-Xss16m", *_JVM, "-cp", "/code/main", "{main_class}"),
        memory_overhead_mb=1280,
        extra_procs=32,
        ro_binds=tuple(sorted(glob.glob("/etc/java-*-openjdk"))),
    ),
    "javascript": Toolchain(
        "main.js",
        ("node", "--check", "/code/main.js"),
        run=("node", "--max-old-space-size={memory_mb}", "--stack-size=65500", "/code/main"),
        memory_overhead_mb=1024,
        extra_procs=32,
    ),
}
_PUBLIC_CLASS = re.compile(r"^\s*public\s+(?:(?:final|abstract|static)\s+)*class\s+([A-Za-z_$][\w$]*)", re.MULTILINE)


# Debian package per tool, for the error that names what to install
_PACKAGES = {
    "g++": "g++",
    "gcc": "gcc",
    "javac": "default-jdk-headless",
    "java": "default-jdk-headless",
    "node": "nodejs",
}


@functools.cache
def tool_path(tool: str) -> str:
    """The real path of a toolchain's program: the sandbox has ``/usr`` but not ``/etc``, so the
    ``/etc/alternatives`` links (``javac``, ``java``) are followed here. Raises
    :class:`SandboxUnavailable` naming the Debian package when it is not installed."""
    found = shutil.which(tool, path=SANDBOX_ENV["PATH"])
    real = os.path.realpath(found) if found else None
    if real is None or not real.startswith("/usr/"):
        raise SandboxUnavailable(
            f"`{tool}` is not installed under /usr (where the sandbox can run it): "
            f"apt-get install {_PACKAGES.get(tool, tool)}"
        )
    return real


def java_main_class(source: str) -> str:
    """The class a Java program runs as: the file's one public class, else ``Main``."""
    public = _PUBLIC_CLASS.findall(source)
    return public[0] if len(public) == 1 else "Main"


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
            body.append(line[min(strip, indent) :])
        else:
            break  # unclosed fence: a truncated response, not a program
    return blocks


def extract_program(response: str, language: str = "auto") -> tuple[str, str] | None:
    """``(language, code)`` of the last fenced block of ``language`` in the answer part.

    ``language="auto"`` takes blocks of every language in :data:`TOOLCHAINS` and names the one
    found by its key (```` ```c++ ```` -> ``cpp``). The answer part is what follows
    ``</think>``: a response that opened ``<think>`` but never closed it was truncated while
    reasoning and has none (``None``). Untagged blocks and blocks of other languages are
    ignored; an unclosed fence (truncated answer) is not a program.
    """
    if not isinstance(response, str):
        return None
    reasoning, answer = split_think(response)
    if reasoning is None and THINK_OPEN in response and THINK_CLOSE not in response:
        return None
    names = list(TOOLCHAINS) if language == "auto" else [language.lower()]
    wanted = {tag: name for name in names for tag in LANGUAGE_ALIASES.get(name, {name})}
    for info, content in reversed(_fenced_blocks(answer)):
        tag = info.split()[0].lower().strip("{}.") if info.split() else ""
        if tag in wanted and content.strip():
            # a block indented as a whole (e.g. inside a list item) is dedented
            return wanted[tag], textwrap.dedent(content).strip("\n") + "\n"
    return None


def extract_code(response: str, language: str = "python") -> str | None:
    """The code of the last fenced block tagged ``language`` (see :func:`extract_program`)."""
    found = extract_program(response, language)
    return found[1] if found else None


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
        for w, g in zip(want, got, strict=False):
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
            tol = float(spec[len("float:") :])
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
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(values_equal(e, a, tol) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(values_equal(v, actual[k], tol) for k, v in expected.items())
        )
    return type(expected) is type(actual) and expected == actual  # str, None


# Runs inside the sandbox for call-based tests: /code/main.py, the program at /code/solution.py.
HARNESS = r"""
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
"""


# ----------------------------------------------------------------------------------------------
# tests


@dataclass(frozen=True, slots=True)
class _Test:
    stdin: bytes
    expected: Any  # str (stdin/stdout) or parsed JSON value (call-based); None for a script
    fn_name: str | None = None
    script: str | None = None  # an assert script (see verifiers.script_tests)


@dataclass(frozen=True, slots=True)
class ProblemSpec:
    """What a problem's ``tests`` value says beyond its tests: its own judge and limits."""

    tests: tuple[_Test, ...]
    checker_program: str | None = None  # a special judge (see verifiers.checker_programs)
    checker_language: str = "python"  # python | cpp
    time_limit_s: float | None = None  # the row's own limits, capped by the config's maxima
    memory_mb: int | None = None


_SPEC_KEYS = {"tests", "checker_program", "checker_language", "time_limit_s", "memory_mb"}


def parse_problem(tests: Any) -> ProblemSpec:
    """A problem's ``tests`` value (see the module docstring) -> its spec; ValueError naming the key if bad.

    Besides a list of tests (or its JSON text, or APPS's ``input_output`` object) it may be an
    object ``{"tests": [...], "checker_program": SOURCE, "checker_language": "python" | "cpp",
    "time_limit_s": 2, "memory_mb": 256}``: the shape :mod:`verifiers.code_datasets` writes.
    """
    if isinstance(tests, (str, bytes)):
        try:
            tests = json.loads(tests)
        except ValueError as exc:
            raise ValueError(f"problem key 'tests' is not valid JSON: {exc}") from None
    if not (isinstance(tests, Mapping) and "tests" in tests):
        return ProblemSpec(tuple(normalize_tests(tests)))
    unknown = set(tests) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"problem key 'tests': unknown key(s) {sorted(unknown)} (known: {sorted(_SPEC_KEYS)})")
    checker, language = tests.get("checker_program"), tests.get("checker_language") or "python"
    if checker is not None:
        _check_checker(checker, language)
    limits = {}
    for key, kind in (("time_limit_s", float), ("memory_mb", int)):
        value = tests.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ValueError(f"problem key 'tests.{key}' must be a positive number, got {value!r}")
            limits[key] = kind(value)
    return ProblemSpec(tuple(normalize_tests(tests["tests"])), checker, language, **limits)


def _check_checker(checker: Any, language: Any) -> None:
    if not isinstance(checker, str) or not checker.strip():
        raise ValueError("problem key 'tests.checker_program' must be the checker's source text")
    if language not in CHECKER_LANGUAGES:
        raise ValueError(f"problem key 'tests.checker_language' must be one of {CHECKER_LANGUAGES}, got {language!r}")
    if language == "python":
        try:
            compile(checker, "/code/checker.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            raise ValueError(f"problem key 'tests.checker_program' does not compile: {exc}") from None


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
        if "script" in test:
            script = test["script"]
            if not isinstance(script, str) or not script.strip():
                raise ValueError(f"{where}['script'] must be Python test code, got {type(script).__name__}")
            try:
                compile(script, "/code/test.py", "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                raise ValueError(f"{where}['script'] does not compile: {exc}") from None
            out.append(_Test(b"", None, script=script))
        elif "fn_name" in test:
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
                raise ValueError(f"{where} needs 'output' (stdin/stdout), 'fn_name' (call-based) or 'script' (asserts)")
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
        return [
            {"fn_name": name, "args": a, "expected": o[0] if isinstance(o, list) and len(o) == 1 else o}
            for a, o in zip(inputs, outputs, strict=False)
        ]
    return [{"input": _text(a), "output": _text(o)} for a, o in zip(inputs, outputs, strict=False)]


def _text(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


# ----------------------------------------------------------------------------------------------
# running


# Runs the compiler's command (its argv after the result fd) inside the (cold) sandbox: the
# compiler's messages are this script's stderr, the build comes back through the result channel:
# /work/main, or the classes javac wrote to /work/classes packed as a jar, or (no build at all,
# node --check) the source itself.
COMPILE = r"""
import os, subprocess, sys, zipfile
fd = int(sys.argv[1].split("=", 1)[1])
command = sys.argv[2:]
if "-d" in command:
    os.makedirs(command[command.index("-d") + 1], exist_ok=True)
if subprocess.run(command, stdin=subprocess.DEVNULL).returncode != 0:
    sys.exit(1)
if os.path.isdir("/work/classes"):
    with zipfile.ZipFile("/work/main", "w") as jar:
        for root, _, names in os.walk("/work/classes"):
            for name in names:
                path = os.path.join(root, name)
                jar.write(path, os.path.relpath(path, "/work/classes"))
elif not os.path.exists("/work/main"):  # nothing built (node --check): the source runs as it is
    with open(command[-1], "rb") as source, open("/work/main", "wb") as out:
        out.write(source.read())
with open("/work/main", "rb") as fh:
    data = fh.read()
while data:
    data = data[os.write(fd, data):]
"""


@dataclass(frozen=True, slots=True)
class _Program:
    language: str  # a key of TOOLCHAINS
    source: str
    limits: Limits  # this problem's limits for one test
    binary: bytes | None = None  # compiled languages, once compiled
    checker: _Checker | None = None  # the problem's special judge


@dataclass(frozen=True, slots=True)
class _Checker:
    language: str  # a key of CHECKER_ARGS
    source: str
    binary: bytes | None = None  # cpp, once compiled


@dataclass(frozen=True, slots=True)
class _Options:
    checker: Checker
    tol: float | None
    config: CodeConfig
    compile_limits: Limits
    checker_limits: Limits
    sandbox_key: tuple[str | None, bool]
    detail_chars: int
    provider: LocalProvider | RemoteProvider


_SANDBOXES: dict[tuple[str | None, bool], Sandbox] = {}
_WARM: dict[tuple[str | None, bool], WarmSandbox | None] = {}
_SANDBOX_LOCK = threading.Lock()


def _sandbox(key: tuple[str | None, bool]) -> Sandbox:
    with _SANDBOX_LOCK:
        box = _SANDBOXES.get(key)
        if box is None:
            box = _SANDBOXES[key] = Sandbox(python=key[0], unsafe_no_sandbox=key[1])
        return box


def _warm_sandbox(key: tuple[str | None, bool]) -> WarmSandbox | None:
    """The warm pool for this interpreter, or None where it cannot serve (see its docstring)."""
    cold = _sandbox(key)
    with _SANDBOX_LOCK:
        if key not in _WARM:
            warm = WarmSandbox(cold)
            _WARM[key] = warm if warm.available else None
        return _WARM[key]


class LocalProvider:
    """Runs programs in this machine's sandboxes: Python in the warm pool wherever it serves.

    The code verifier's seam between *what* is judged and *where* it runs: this class and
    :class:`verifiers.remote.RemoteProvider` (a Piston-API service) have the same methods, and
    ``CodeConfig.remote`` picks one. ``compile`` returns the build's :class:`Execution` (its
    ``result`` the built program); ``run`` one execution of a program (or of its build) on one
    stdin; ``run_checker`` one execution of a problem's checker program (local only).
    """

    def __init__(self, sandbox_key: tuple[str | None, bool], warm: bool) -> None:
        self.key, self.warm = sandbox_key, warm
        self.workers = _cores()  # each thread drives one sandbox, whose program runs on a core of its own

    def check(self, languages: Sequence[str] = ("python",)) -> None:
        _sandbox(self.key).check()  # a broken sandbox raises here, once

    def compile(
        self, language: str, source: str, limits: Limits, files: Mapping[str, str | bytes] | None = None
    ) -> Execution:
        """Build ``source`` with its toolchain in a fresh sandbox (the build in ``result``);
        ``files``: headers beside the source (testlib.h)."""
        toolchain = TOOLCHAINS[language]
        assert toolchain is not None
        name = toolchain.source.format(source=f"{java_main_class(source)}.java")
        command = [tool_path(toolchain.compile[0]), *(part.format(source=name) for part in toolchain.compile[1:])]
        if toolchain.memory_overhead_mb:
            limits = dataclasses.replace(limits, memory_mb=limits.memory_mb + toolchain.memory_overhead_mb)
        return _sandbox(self.key).run(
            COMPILE,
            limits=limits,
            args=command,
            files={name: source, **(files or {})},
            result_channel=True,
            ro_binds=toolchain.ro_binds,
        )

    def run(
        self,
        language: str,
        source: str,
        stdin: bytes,
        limits: Limits,
        *,
        binary: bytes | None = None,
        args: Sequence[str] = (),
        files: Mapping[str, str] | None = None,
        result_channel: bool = False,
        compile_limits: Limits | None = None,
    ) -> Execution:
        if binary is not None:
            limits, command = _run_limits(language, source, limits)
            binds = TOOLCHAINS[language].ro_binds  # type: ignore[union-attr]  # compiled: has one
            return _sandbox(self.key).run_binary(binary, stdin, limits=limits, command=command, ro_binds=binds)
        box: Sandbox | WarmSandbox | None = _warm_sandbox(self.key) if self.warm else None
        if box is None or not box.serves({"solution.py": ""}):
            box = _sandbox(self.key)
        if not files and not args and not result_channel:
            return box.run(source, stdin, limits=limits)
        return box.run(source, stdin, limits=limits, args=args, files=files, result_channel=result_channel)

    def run_checker(
        self, language: str, source: str, binary: bytes | None, files: Mapping[str, bytes], limits: Limits
    ) -> Execution:
        box = _sandbox(self.key)
        if binary is not None:
            return box.run_binary(binary, limits=limits, args=CHECKER_ARGS["cpp"], files=files)
        return box.run(CHECKER_WRAPPER, limits=limits, files={**files, "checker.py": source})


_REMOTES: dict[tuple[Any, ...], RemoteProvider] = {}


def code_provider(config: CodeConfig) -> LocalProvider | RemoteProvider:
    """Where ``config``'s programs run: the local sandbox, or the remote pool it names (one per pool)."""
    if config.remote is None:
        return LocalProvider((config.python, bool(config.unsafe_no_sandbox)), config.warm)
    urls = (config.remote,) if isinstance(config.remote, str) else tuple(config.remote)
    token = None
    if config.remote_token_env:
        token = os.environ.get(config.remote_token_env)
        if not token:
            raise ValueError(f"option 'remote_token_env': environment variable {config.remote_token_env} is not set")
    key = (urls, config.remote_concurrency, token, config.remote_retries)
    with _SANDBOX_LOCK:
        if key not in _REMOTES:
            _REMOTES[key] = RemoteProvider(
                urls, concurrency=config.remote_concurrency, token=token, retries=config.remote_retries
            )
        return _REMOTES[key]


def check_code_provider(config: CodeConfig) -> None:
    """Check, before a run spends anything, that ``config``'s programs can run where it says.

    A remote must answer and offer the runtimes ``config.language`` needs (``auto``: Python, and a
    warning for a missing C++ or C); raises :class:`verifiers.remote.RemoteUnavailable` if not.
    """
    provider = code_provider(config)
    if config.language != "auto":
        provider.check([_toolchain(config.language)])
        return
    provider.check(["python"])
    for language in ("cpp", "c"):
        try:
            provider.check([language])
        except RuntimeError as exc:
            log.warning("%s: %s programs will fail as sandbox_error", exc, language)


def _toolchain(language: str) -> str:
    for name in TOOLCHAINS:
        if language.lower() in LANGUAGE_ALIASES[name]:
            return name
    raise ValueError(f"option 'language' must name one of {sorted(TOOLCHAINS)} (or 'auto'), got {language!r}")


def _options(config: CodeConfig) -> _Options:
    check, tol = parse_checker(config.checker)
    _limits(config, None)  # a bad limit is an error now, not in the first test
    # the compiler (g++ -> cc1plus, as, collect2 -> ld; javac's JVM) needs more of everything than the program
    compile_limits = Limits(
        time_s=config.compile_time_limit_s,
        memory_mb=config.compile_memory_mb,
        max_procs=64,
        output_mb=max(config.output_mb, 64.0),
        disk_mb=max(config.disk_mb, 256),
    )
    checker_limits = Limits(
        time_s=config.checker_time_limit_s,
        memory_mb=max(config.memory_mb, 1024),
        max_procs=4,
        output_mb=max(config.output_mb, 16.0),
        disk_mb=config.disk_mb,
    )
    return _Options(
        check,
        tol,
        config,
        compile_limits,
        checker_limits,
        (config.python, bool(config.unsafe_no_sandbox)),
        int(config.detail_chars),
        code_provider(config),
    )


def _limits(config: CodeConfig, spec: ProblemSpec | None) -> Limits:
    """One test's limits: the problem's own where it has them, capped by the config's maxima."""
    time_s = spec.time_limit_s if spec is not None and spec.time_limit_s is not None else config.time_limit_s
    memory = spec.memory_mb if spec is not None and spec.memory_mb is not None else config.memory_mb
    return Limits(
        time_s=min(time_s, config.max_time_limit_s),
        memory_mb=min(memory, config.max_memory_mb),
        max_procs=config.max_procs,
        output_mb=config.output_mb,
        disk_mb=config.disk_mb,
        wall_s=config.wall_limit_s,
    )


def _syntax_error(program: str) -> str | None:
    try:
        compile(program, "/code/main.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
        return f"{type(exc).__name__}: {exc}"
    except (MemoryError, RecursionError):
        return None  # let the sandboxed interpreter decide
    return None


def _build(language: str, source: str, opts: _Options) -> Execution:
    """Compile ``source`` with its toolchain where the provider runs programs (the build in ``result``)."""
    files: dict[str, str | bytes] = {}
    if language == "cpp" and opts.config.testlib_h and '"testlib.h"' in source:
        with open(opts.config.testlib_h, "rb") as fh:
            files["testlib.h"] = fh.read()
    return opts.provider.compile(language, source, opts.compile_limits, files=files or None)


def _compile_error(run: Execution) -> dict[str, Any]:
    messages = run.stderr.decode("utf-8", errors="replace").splitlines()
    errors = [i for i, line in enumerate(messages) if "error" in line.lower()]
    first = messages[max(0, errors[0] - 2) : errors[0] + 8] if errors else messages[-10:]
    return {"error": "\n".join(first)[:4000], "status": run.status, "cpu_s": round(run.cpu_s, 3)}


def _compile(program: _Program, opts: _Options) -> _Program | Verdict:
    """The compiled program, or the failing verdict (``compile_error`` with the first errors)."""
    run = _build(program.language, program.source, opts)
    if run.ok and run.result:
        return dataclasses.replace(program, binary=run.result)
    if run.status == "sandbox_error":
        error = run.stderr.decode(errors="replace")[-2000:]
        return Verdict.fail("sandbox_error", extracted=program.source, details={"error": error})
    return Verdict.fail(COMPILE_ERROR, extracted=program.source, details=_compile_error(run))


def _compile_checker(checker: _Checker, opts: _Options) -> _Checker | Verdict:
    """A C++ checker built once per problem (cached by its source), or ``checker_error``."""
    key = (checker.source, opts.sandbox_key, opts.config.testlib_h)
    with _SANDBOX_LOCK:
        cached = _CHECKERS.get(key)
    if cached is not None:
        return _Checker(checker.language, checker.source, cached)
    if '"testlib.h"' in checker.source and not opts.config.testlib_h:
        return Verdict.fail(
            CHECKER_ERROR,
            details={"error": "the checker includes testlib.h: set the code verifier's testlib_h option to its path"},
        )
    run = _build("cpp", checker.source, opts)
    if not (run.ok and run.result):
        details = _compile_error(run)
        details["error"] = f"the checker does not compile:\n{details['error']}"
        return Verdict.fail(CHECKER_ERROR, details=details)
    with _SANDBOX_LOCK:
        if len(_CHECKERS) >= 256:
            _CHECKERS.pop(next(iter(_CHECKERS)))
        _CHECKERS[key] = run.result
    return _Checker(checker.language, checker.source, run.result)


_CHECKERS: dict[tuple[Any, ...], bytes] = {}


def _run_limits(language: str, source: str, limits: Limits) -> tuple[Limits, list[str] | None]:
    """The limits and run command of a built program (runtimes get their overheads)."""
    toolchain = TOOLCHAINS[language]
    if toolchain is None or toolchain.run is None:
        return limits, None
    fields = {"memory_mb": limits.memory_mb, "main_class": java_main_class(source)}
    command = [tool_path(toolchain.run[0]), *(part.format(**fields) for part in toolchain.run[1:])]
    return dataclasses.replace(
        limits,
        memory_mb=limits.memory_mb + toolchain.memory_overhead_mb,
        max_procs=limits.max_procs + toolchain.extra_procs,
    ), command


def _run_test(program: _Program, test: _Test, opts: _Options) -> dict[str, Any]:
    provider = opts.provider
    if program.binary is not None:
        run = provider.run(
            program.language,
            program.source,
            test.stdin,
            program.limits,
            binary=program.binary,
            compile_limits=opts.compile_limits,
        )
        return _judge(run, test, program, opts)
    if test.script is not None:
        stdin, nonce = script_job(test.script)  # made here, checked here: the executor only runs the harness
        run = provider.run(
            "python", SCRIPT_HARNESS, stdin, program.limits, files={"solution.py": program.source}, result_channel=True
        )
        return _judge(run, test, program, opts, nonce)
    if test.fn_name is None:
        run = provider.run("python", program.source, test.stdin, program.limits)
    else:
        run = provider.run(
            "python",
            HARNESS,
            test.stdin,
            program.limits,
            args=[test.fn_name],
            files={"solution.py": program.source},
            result_channel=True,
        )
    return _judge(run, test, program, opts)


def _judge(run: Execution, test: _Test, program: _Program, opts: _Options, nonce: str | None = None) -> dict[str, Any]:
    status = run.status
    stdout = run.stdout.decode("utf-8", errors="replace")
    extra: dict[str, Any] = {}
    if test.script is not None:
        if status == "ok" and run.result == (nonce or "").encode():
            status = PASSED
        elif status == "ok":
            status = "runtime_error"
            extra["error"] = "the test script did not run to its end"
        elif status == "runtime_error" and run.exit_code == ASSERTION_EXIT:
            status = WRONG_ANSWER
    elif status == "ok":
        if test.fn_name is not None:
            try:
                accepted = bool(run.result) and values_equal(
                    test.expected, _loads(run.result.decode("utf-8")), opts.tol
                )
            except (ValueError, UnicodeDecodeError, RecursionError):
                accepted = False
        elif program.checker is not None:
            accepted, extra["checker"] = _run_checker(program.checker, test, run.stdout, opts)
            if accepted is None:
                status = CHECKER_ERROR
        else:
            accepted = opts.checker(test.expected, stdout)
        if status == "ok":
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
        **extra,
    }


def _run_checker(checker: _Checker, test: _Test, actual: bytes, opts: _Options) -> tuple[bool | None, str]:
    files = {"input": test.stdin, "expected": test.expected.encode("utf-8"), "actual": actual}
    run = opts.provider.run_checker(checker.language, checker.source, checker.binary, files, opts.checker_limits)
    return checker_outcome(run, opts.detail_chars)


def _verdict(program: str, results: list[dict[str, Any]]) -> Verdict:
    passed = sum(r["status"] == PASSED for r in results)
    score = passed / len(results)
    details = {"tests": results, "passed": passed, "total": len(results)}
    if passed == len(results):
        return Verdict.ok(score, extracted=program, details=details)
    # a checker that failed says nothing about the program: it decides the reason over any test it failed
    statuses = [r["status"] for r in results if r["status"] != PASSED]
    first = CHECKER_ERROR if CHECKER_ERROR in statuses else statuses[0]
    return Verdict.fail(first, score, extracted=program, details=details)


def _pool_map(fn: Callable[..., Any], jobs: list[tuple[Any, ...]], workers: int) -> list[Any]:
    if workers <= 1 or len(jobs) <= 1:
        return [fn(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs)), thread_name_prefix="sandbox") as pool:
        return list(pool.map(lambda job: fn(*job), jobs))


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def verify_code(
    program: str,
    tests: list[dict[str, Any]] | str,
    *,
    language: str | None = None,
    checker_program: str | None = None,
    checker_language: str = "python",
    config: CodeConfig | None = None,
    workers: int = 1,
) -> Verdict:
    """Run ``program`` on every test in the sandbox; see the module docstring.

    ``config`` (a frozen :class:`verifiers.configs.CodeConfig`, default ``CodeConfig()``) holds
    the checker, the limits and the sandbox options. ``language`` names the program's toolchain:
    ``python``, ``cpp`` (also ``c++``, ``cc``, ``cxx``), ``c``, ``java`` or ``javascript``
    (built once inside the sandbox: :data:`TOOLCHAINS`); by default ``config.language``, and
    Python where that is ``auto``. ``checker_program`` is a special judge for the stdin/stdout
    tests (:mod:`verifiers.checker_programs`; ``checker_language`` ``python`` or ``cpp``), as a
    problem's ``tests`` object can also name one.
    Limits apply per test execution: ``time_limit_s`` CPU seconds of the program's process tree
    (what it is judged on), ``wall_limit_s`` wall clock (default ``3 * time_limit_s + 1``: stops
    sleepers without failing correct programs on a busy machine), ``memory_mb`` address space,
    ``max_procs`` processes/threads, ``output_mb`` stdout/stderr/any file, ``disk_mb`` work dir.
    The compiler has its own limits, ``compile_time_limit_s`` CPU seconds per compiler process and
    ``compile_memory_mb`` address space (8 processes, a work dir of at least 256 MB).
    ``warm`` (default) runs Python in the warm sandbox pool (:mod:`verifiers.warm_sandbox`)
    wherever it can; ``False`` starts a fresh sandbox per test. ``python`` is the interpreter
    used inside; ``detail_chars`` caps stdout/stderr kept per test in the details; ``workers`` > 1
    runs this program's tests concurrently. ``unsafe_no_sandbox`` runs without isolation (trusted
    code only). ``remote`` (a URL or a list) runs every compile and test on Piston-API services
    instead (:mod:`verifiers.remote`; checker programs are local only). Raises ``ValueError`` on
    bad tests or options, :class:`verifiers.sandbox.SandboxUnavailable` when bubblewrap is missing,
    :class:`verifiers.remote.RemoteUnavailable` when the remote does not answer.
    """
    item = {
        "program": program,
        "tests": tests,
        "language": language,
        "checker_program": checker_program,
        "checker_language": checker_language,
    }
    return verify_code_batch([item], config=config, workers=workers)[0]


def verify_code_response(completion: str, tests: Any, *, config: CodeConfig | None = None, workers: int = 1) -> Verdict:
    """The verify stage's adapter: extract the program from a model response, then verify it.

    ``config.language="auto"`` (default) takes the last Python, C++ or C block and lets its fence
    tag pick the toolchain; a language name takes only blocks of that language. No code block ->
    ``Verdict.fail("no_code")``; missing or malformed ``tests`` is a bad problem -> ``ValueError``.
    ``config`` as for :func:`verify_code`.
    """
    return verify_code_batch([{"completion": completion, "tests": tests}], config=config, workers=workers)[0]


def verify_code_batch(
    items: Iterable[tuple[str, Any] | Mapping[str, Any]],
    *,
    config: CodeConfig | None = None,
    workers: int | None = None,
) -> list[Verdict]:
    """Verify many programs at once, every compile and every test spread over ``workers`` threads.

    An item is ``(program, tests)``, ``{"program": ..., "tests": ..., "language": ...}`` or a
    trace row ``{"completion": ..., "tests": ...}`` (the program is then extracted as by
    :func:`verify_code_response`). A program given as such is Python unless its item or
    ``config.language`` names another toolchain. ``workers`` defaults to the number of cores this
    process may use: each thread drives one sandbox (a warm zygote or a cold bubblewrap) whose
    program runs on a core of its own. Compiled (C++, C) programs given call-based tests fail with
    ``unsupported_test`` (only stdin/stdout tests run compiled programs). ``config`` as for
    :func:`verify_code`. Verdicts come back in item order.
    """
    if config is None:
        config = CodeConfig()
    elif not isinstance(config, CodeConfig):
        raise ValueError(f"code verifier config must be a CodeConfig, got {type(config).__name__}")
    language = config.language
    opts = _options(config)
    default = None if language == "auto" else _toolchain(language)
    if opts.sandbox_key[1]:
        warnings.warn(
            "verify_code(unsafe_no_sandbox=True): model-written code runs WITHOUT isolation; trusted inputs only",
            RuntimeWarning,
            stacklevel=2,
        )
    verdicts: list[Verdict | None] = []
    pending: list[tuple[int, _Program, tuple[_Test, ...]]] = []
    for i, item in enumerate(items):
        checker: str | None = None
        checker_language = "python"
        if isinstance(item, Mapping):
            tests = item.get("tests")
            checker, checker_language = item.get("checker_program"), item.get("checker_language") or "python"
            if "program" in item:
                program, lang = item["program"], _toolchain(item.get("language") or default or "python")
            else:
                found = extract_program(item.get("completion") or "", default or "auto")
                program, lang = (found[1], found[0]) if found else (None, "python")
        else:
            (program, tests), lang = item, default or "python"
        if tests is None:
            raise ValueError(f"item {i}: problem has no 'tests' for the code verifier")
        try:
            spec = parse_problem(tests)
            if checker is not None:
                _check_checker(checker, checker_language)
                spec = dataclasses.replace(spec, checker_program=checker, checker_language=checker_language)
        except ValueError as exc:
            raise ValueError(f"item {i}: {exc}") from None
        verdicts.append(None)
        unsupported = [t for t in spec.tests if t.fn_name is not None or t.script is not None]
        if not isinstance(program, str) or not program.strip():
            verdicts[i] = Verdict.fail(NO_CODE)
        elif lang == "python" and (error := _syntax_error(program)) is not None:
            verdicts[i] = Verdict.fail(SYNTAX_ERROR, extracted=program, details={"error": error})
        elif TOOLCHAINS[lang] and unsupported:
            verdicts[i] = Verdict.fail(
                UNSUPPORTED_TEST,
                extracted=program,
                details={
                    "error": f"call-based and script tests need a Python program; {lang} runs stdin/stdout tests only"
                },
            )
        elif spec.checker_program and isinstance(opts.provider, RemoteProvider):
            verdicts[i] = Verdict.fail(
                UNSUPPORTED_TEST,
                extracted=program,
                details={"error": "checker programs run on the local sandbox only, not through a remote"},
            )
        else:
            judge = _Checker(spec.checker_language, spec.checker_program) if spec.checker_program else None
            pending.append((i, _Program(lang, program, _limits(config, spec), checker=judge), spec.tests))
    workers = workers if workers is not None else opts.provider.workers
    if pending:
        opts.provider.check(sorted({program.language for _, program, _ in pending}))
    checkers = [
        k
        for k, (_, program, _) in enumerate(pending)
        if program.checker is not None and program.checker.language == "cpp"
    ]
    for k, built in zip(
        checkers, _pool_map(_compile_checker, [(pending[k][1].checker, opts) for k in checkers], workers), strict=True
    ):
        i, program, parsed = pending[k]
        if isinstance(built, Verdict):
            verdicts[i] = dataclasses.replace(built, extracted=program.source)
        else:
            pending[k] = (i, dataclasses.replace(program, checker=built), parsed)
    to_compile = [
        k for k, (i, program, _) in enumerate(pending) if TOOLCHAINS[program.language] and verdicts[i] is None
    ]
    for k, built in zip(
        to_compile, _pool_map(_compile, [(pending[k][1], opts) for k in to_compile], workers), strict=True
    ):
        if isinstance(built, Verdict):
            verdicts[pending[k][0]] = built
        else:
            pending[k] = (pending[k][0], built, pending[k][2])
    runnable = [(i, program, parsed) for i, program, parsed in pending if verdicts[i] is None]
    jobs = [(program, test, opts) for _, program, parsed in runnable for test in parsed]
    results = iter(_pool_map(_run_test, jobs, workers))
    for i, program, parsed in runnable:
        verdicts[i] = _verdict(program.source, [next(results) for _ in parsed])
    return verdicts  # type: ignore[return-value]


__all__ = [
    "CHECKER_ERROR",
    "COMPILE",
    "HARNESS",
    "INFRASTRUCTURE_REASONS",
    "TOOLCHAINS",
    "LocalProvider",
    "ProblemSpec",
    "Toolchain",
    "check_code_provider",
    "check_exact",
    "check_tokens",
    "code_provider",
    "extract_code",
    "extract_program",
    "float_checker",
    "java_main_class",
    "normalize_tests",
    "parse_checker",
    "parse_problem",
    "tool_path",
    "values_equal",
    "verify_code",
    "verify_code_batch",
    "verify_code_response",
]
