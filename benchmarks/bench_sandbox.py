"""Bare subprocess vs cold sandbox vs warm sandbox, side by side on the same programs.

Three pools run the same mix of small stdin/stdout programs (by default 500: about 60% correct,
25% wrong, 14% crashing with an exception, and one in 250 spinning forever) with the same
interpreter, the same concurrency and the same wall-clock limit, one execution per program:

- ``bare``: ``subprocess.run([python, ...])`` in a temporary directory, no isolation, only
  captures output (the cost of a fresh interpreter);
- ``cold``: ``verify_code_batch(..., warm=False)``, a fresh bubblewrap sandbox and interpreter per
  execution, judging included;
- ``warm``: ``verify_code_batch(...)`` (the default), a forked child of a warm zygote per
  execution, judging included.

It prints executions/s, p50/p99 latency per execution and the ratios to bare (goals: cold >=
0.6x, warm >= 2x), and how many programs each pool passed against how many are correct (found by
running each program in-process first): a machine busy enough to push a correct program past the
wall clock makes a pool pass fewer, and it says so; a pool that passes more fails the run.

Then, per language and for assert-script tests, the rate of judged executions of one small
program (the sum of two numbers; a HumanEval-style ``check(candidate)`` script for the script
row), each verdict checked: ``--languages N`` executions each (default 100, 0 skips it). Compiled
languages are built once per batch (the build is timed apart); a toolchain that is not installed
is reported as missing.

    python benchmarks/bench_sandbox.py                # 500 programs, concurrency = usable cores
    python benchmarks/bench_sandbox.py -n 200 -c 4 --rounds 3
    python benchmarks/bench_sandbox.py -n 0 --languages 200   # only the per-language rates
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verifiers import CodeConfig, verify_code_batch  # noqa: E402
from verifiers.sandbox import PYTHON_FLAGS, default_python  # noqa: E402

# (correct, wrong, input/expected generator): small problems
TEMPLATES = [
    (
        "a, b = map(int, input().split())\nprint(a + b)\n",
        "a, b = map(int, input().split())\nprint(a - b)\n",
        lambda r: (f"{r} {r * 2}\n", f"{r * 3}\n"),
    ),
    (
        "import sys\nxs = list(map(int, sys.stdin.read().split()))\nprint(max(xs))\n",
        "import sys\nxs = list(map(int, sys.stdin.read().split()))\nprint(xs[0])\n",
        lambda r: (
            " ".join(str((r * k) % 97) for k in range(1, 30)) + "\n",
            f"{max((r * k) % 97 for k in range(1, 30))}\n",
        ),
    ),
    (
        "n = int(input())\nprint(sum(i * i for i in range(n + 1)))\n",
        "n = int(input())\nprint(sum(i * i for i in range(n)))\n",
        lambda r: (f"{r}\n", f"{sum(i * i for i in range(r + 1))}\n"),
    ),
    ("s = input()\nprint(s[::-1])\n", "s = input()\nprint(s)\n", lambda r: (f"abc{r}xyz\n", f"zyx{str(r)[::-1]}cba\n")),
    (
        "from collections import Counter\nc = Counter(input().split())\nprint(c.most_common(1)[0][1])\n",
        "print(1)\n",
        lambda r: ("a b a c a " + "b " * (r % 5) + "\n", f"{max(3, r % 5 + 1)}\n"),
    ),
]
CRASH = "xs = list(map(int, input().split()))\nprint(xs[len(xs)])\n"
SPIN = "while True:\n    pass\n"
TIME_LIMIT_S = 0.25  # CPU seconds; generous for these programs
WALL_LIMIT_S = 0.5  # what a spinner costs each pool


def make_programs(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        good, bad, gen = TEMPLATES[i % len(TEMPLATES)]
        stdin, expected = gen(rng.randrange(2, 1000))
        roll = rng.random()
        out.append((SPIN if i % 250 == 249 else good if roll < 0.6 else bad if roll < 0.86 else CRASH, stdin, expected))
    return out


def passes_in_process(program: str, stdin: str, expected: str) -> bool:
    """Whether one of our own (trusted) programs is correct: some wrong ones are right by chance."""
    if program == SPIN:
        return False
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            saved, sys.stdin = sys.stdin, io.StringIO(stdin)
            try:
                exec(program, {"__name__": "__main__"})
            finally:
                sys.stdin = saved
    except Exception:
        return False
    return out.getvalue().split() == expected.split()


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def run_bare(programs: list[tuple[str, str, str]], concurrency: int, python: str) -> tuple[float, list[float], int]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (program, _, _) in enumerate(programs):
            path = os.path.join(tmp, f"p{i}.py")
            Path(path).write_text(program)
            paths.append(path)

        def one(i: int) -> tuple[float, bool]:
            start = time.perf_counter()
            try:
                # its own session like the sandboxes': with CFS autogroup a new session is a new
                # scheduling group, which would flatter a sandbox on a machine busy with other work
                proc = subprocess.run(
                    [python, *PYTHON_FLAGS, paths[i]],
                    input=programs[i][1].encode(),
                    capture_output=True,
                    timeout=WALL_LIMIT_S,
                    cwd=tmp,
                    start_new_session=True,
                )
                ok = proc.returncode == 0 and proc.stdout.split() == programs[i][2].encode().split()
            except subprocess.TimeoutExpired:
                ok = False
            return time.perf_counter() - start, ok

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, range(len(programs))))
        wall = time.perf_counter() - start
    return wall, [r[0] for r in results], sum(r[1] for r in results)


def run_verifier(
    programs: list[tuple[str, str, str]], concurrency: int, python: str, warm: bool
) -> tuple[float, list[float], int]:
    items = [(program, [{"input": stdin, "output": expected}]) for program, stdin, expected in programs]
    start = time.perf_counter()
    config = CodeConfig(python=python, time_limit_s=TIME_LIMIT_S, wall_limit_s=WALL_LIMIT_S, warm=warm)
    verdicts = verify_code_batch(items, workers=concurrency, config=config)
    wall = time.perf_counter() - start
    return wall, [v.details["tests"][0]["time_s"] for v in verdicts], sum(v.passed for v in verdicts)


SUM = {
    "python": "a, b = map(int, input().split())\nprint(a + b)\n",
    "cpp": "#include <cstdio>\nint main() { long a, b; scanf(\"%ld %ld\", &a, &b); printf(\"%ld\\n\", a + b); }\n",
    "c": "#include <stdio.h>\nint main(void) { long a, b; scanf(\"%ld %ld\", &a, &b);\n"
         "printf(\"%ld\\n\", a + b); return 0; }\n",
    "java": "import java.util.*;\npublic class Main { public static void main(String[] x) {\n"
            "  Scanner in = new Scanner(System.in); System.out.println(in.nextLong() + in.nextLong()); } }\n",
    "javascript": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
                  "console.log(a + b);\n",
}
SCRIPT = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-5, 5) == 0\n\ncheck(add)\n"


def run_languages(n: int, concurrency: int, python: str) -> None:
    """Judged executions per second of one small program per language, and of a script test."""
    from verifiers.code import TOOLCHAINS, tool_path
    from verifiers.sandbox import SandboxUnavailable

    print(f"\nper language: {n} executions each (one program, {n} tests), concurrency {concurrency}")
    print(f"{'language':<14} {'exec/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'build s':>8} {'passed':>7}")
    tests = [{"input": f"{i} {2 * i}\n", "output": f"{3 * i}\n"} for i in range(n)]
    rows = [(name, name, SUM[name], tests, True) for name in SUM]
    rows.insert(1, ("python (cold)", "python", SUM["python"], tests, False))
    rows.append(("python script", "python", "def add(a, b):\n    return a + b\n", [{"script": SCRIPT}] * n, True))
    rows.append(("script (cold)", "python", "def add(a, b):\n    return a + b\n", [{"script": SCRIPT}] * n, False))
    for label, language, program, cases, warm in rows:
        toolchain = TOOLCHAINS[language]
        try:
            if toolchain is not None:
                tool_path(toolchain.compile[0])
                if toolchain.run:
                    tool_path(toolchain.run[0])
        except SandboxUnavailable as exc:
            print(f"{label:<14} missing: {exc}")
            continue
        config = CodeConfig(python=python, warm=warm, time_limit_s=2.0)
        build = 0.0
        if toolchain is not None:  # the build alone: a one-test batch
            start = time.perf_counter()
            verify_code_batch([{"program": program, "language": language, "tests": cases[:1]}], config=config)
            build = time.perf_counter() - start
        start = time.perf_counter()
        [verdict] = verify_code_batch([{"program": program, "language": language, "tests": cases}],
                                      workers=concurrency, config=config)
        wall = time.perf_counter() - start - build
        lat = [t["time_s"] for t in verdict.details["tests"]]
        print(f"{label:<14} {n / wall:8.1f} {percentile(lat, 0.5) * 1000:8.1f} {percentile(lat, 0.99) * 1000:8.1f} "
              f"{build:8.2f} {verdict.details['passed']:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--programs", type=int, default=500)
    parser.add_argument("-c", "--concurrency", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--python", default=default_python())
    parser.add_argument("--rounds", type=int, default=1, help="alternate the three pools this many times")
    parser.add_argument("--languages", type=int, default=100, help="executions per language (0: skip)")
    args = parser.parse_args()
    if args.programs > 0:
        run_pools(args)
    if args.languages > 0:
        run_languages(args.languages, args.concurrency, args.python)


def run_pools(args: argparse.Namespace) -> None:

    programs = make_programs(args.programs)
    correct = sum(passes_in_process(*program) for program in programs)
    pools = {
        "bare": lambda progs: run_bare(progs, args.concurrency, args.python),
        "cold": lambda progs: run_verifier(progs, args.concurrency, args.python, warm=False),
        "warm": lambda progs: run_verifier(progs, args.concurrency, args.python, warm=True),
    }
    for pool in pools.values():  # page cache, sandbox self-check, zygotes started
        pool(programs[:20])

    walls = dict.fromkeys(pools, 0.0)
    latencies: dict[str, list[float]] = {name: [] for name in pools}
    passes = dict.fromkeys(pools, 0)
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, pool in pools.items():
            wall, lat, passed = pool(programs)
            walls[name] += wall
            latencies[name] += lat
            passes[name] += passed
    n, expected = len(programs) * args.rounds, correct * args.rounds
    assert all(p <= expected for p in passes.values()), f"a pool passed a wrong program: {passes}, {expected} correct"

    print(
        f"{len(programs)} programs x {args.rounds} round(s) ({correct} correct, "
        f"{sum(p == SPIN for p, _, _ in programs)} spinning), concurrency {args.concurrency}, python {args.python}, "
        f"{os.cpu_count()} CPUs, load average {load:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    print(f"{'pool':<6} {'exec/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} {'passed':>7}")
    for name in pools:
        lat = latencies[name]
        p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
        print(
            f"{name:<6} {n / walls[name]:8.1f} {p50:8.1f} {p99:8.1f} {walls['bare'] / walls[name]:7.2f}x "
            f"{passes[name]:>7}"
        )
    print("goals: cold >= 0.6x, warm >= 2x bare")
    short = {name: expected - p for name, p in passes.items() if p < expected}
    if short:
        print(f"correct programs failed (pushed past the {WALL_LIMIT_S} s wall clock by a busy machine?): {short}")


if __name__ == "__main__":
    main()
