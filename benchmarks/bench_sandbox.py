"""Sandboxed pool vs a bare ``subprocess.run([python, ...])`` pool on the same 500 small programs.

Both pools run the same programs (a mix of fast correct and wrong solutions to small stdin/stdout
problems; no timeouts) with the same interpreter and the same concurrency, one execution per
program, and report executions/s, the ratio sandboxed/bare (goal: >= 0.6) and p50/p99
per-execution latency. The sandboxed pool is ``verifiers.code.verify_code_batch`` (extraction
excluded, judging included); the bare pool only runs and captures.

    python benchmarks/bench_sandbox.py                # 500 programs, concurrency = CPU count
    python benchmarks/bench_sandbox.py -n 200 -c 4
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verifiers.code import verify_code_batch  # noqa: E402
from verifiers.sandbox import PYTHON_FLAGS, default_python  # noqa: E402

# (program, stdin, expected): small problems, each with a correct and a wrong variant
TEMPLATES = [
    ("a, b = map(int, input().split())\nprint(a + b)\n", "a, b = map(int, input().split())\nprint(a - b)\n",
     lambda r: (f"{r} {r * 2}\n", f"{r * 3}\n")),
    ("import sys\nxs = list(map(int, sys.stdin.read().split()))\nprint(max(xs))\n",
     "import sys\nxs = list(map(int, sys.stdin.read().split()))\nprint(xs[0])\n",
     lambda r: (" ".join(str((r * k) % 97) for k in range(1, 30)) + "\n",
                f"{max((r * k) % 97 for k in range(1, 30))}\n")),
    ("n = int(input())\nprint(sum(i * i for i in range(n + 1)))\n", "n = int(input())\nprint(sum(i * i for i in range(n)))\n",
     lambda r: (f"{r}\n", f"{sum(i * i for i in range(r + 1))}\n")),
    ("s = input()\nprint(s[::-1])\n", "s = input()\nprint(s)\n",
     lambda r: (f"abc{r}xyz\n", f"zyx{str(r)[::-1]}cba\n")),
    ("from collections import Counter\nc = Counter(input().split())\nprint(c.most_common(1)[0][1])\n",
     "print(1)\n", lambda r: ("a b a c a " + "b " * (r % 5) + "\n", f"{max(3, r % 5 + 1)}\n")),
]


def make_programs(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        good, bad, gen = TEMPLATES[i % len(TEMPLATES)]
        stdin, expected = gen(rng.randrange(2, 1000))
        out.append((good if rng.random() < 0.7 else bad, stdin, expected))
    return out


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
            # its own session like the sandbox's: with CFS autogroup a new session is a new
            # scheduling group, which would flatter the sandbox on a machine busy with other work
            proc = subprocess.run([python, *PYTHON_FLAGS, paths[i]], input=programs[i][1].encode(),
                                  capture_output=True, timeout=10, cwd=tmp, start_new_session=True)
            ok = proc.returncode == 0 and proc.stdout.split() == programs[i][2].encode().split()
            return time.perf_counter() - start, ok

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, range(len(programs))))
        wall = time.perf_counter() - start
    return wall, [r[0] for r in results], sum(r[1] for r in results)


def run_sandboxed(programs: list[tuple[str, str, str]], concurrency: int, python: str) -> tuple[float, list[float], int]:
    items = [(program, [{"input": stdin, "output": expected}]) for program, stdin, expected in programs]
    start = time.perf_counter()
    verdicts = verify_code_batch(items, workers=concurrency, python=python, time_limit_s=10.0)
    wall = time.perf_counter() - start
    return wall, [v.details["tests"][0]["time_s"] for v in verdicts], sum(v.passed for v in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--programs", type=int, default=500)
    parser.add_argument("-c", "--concurrency", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--python", default=default_python())
    parser.add_argument("--rounds", type=int, default=1, help="alternate bare/sandboxed this many times")
    args = parser.parse_args()

    programs = make_programs(args.programs)
    warm = programs[:10]
    run_bare(warm, args.concurrency, args.python)  # page cache, sandbox self-check
    run_sandboxed(warm, args.concurrency, args.python)

    bare_wall = box_wall = 0.0
    bare_lat: list[float] = []
    box_lat: list[float] = []
    for _ in range(args.rounds):
        wall, lat, bare_ok = run_bare(programs, args.concurrency, args.python)
        bare_wall, bare_lat = bare_wall + wall, bare_lat + lat
        wall, lat, box_ok = run_sandboxed(programs, args.concurrency, args.python)
        box_wall, box_lat = box_wall + wall, box_lat + lat
        assert bare_ok == box_ok, f"pools disagree on passes: bare {bare_ok}, sandboxed {box_ok}"

    n = len(programs) * args.rounds
    print(f"{len(programs)} programs x {args.rounds} round(s) ({box_ok} correct), concurrency {args.concurrency}, python {args.python}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'pool':<10} {'exec/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, wall, lat in [("bare", bare_wall, bare_lat), ("sandboxed", box_wall, box_lat)]:
        print(f"{name:<10} {n / wall:8.1f} {percentile(lat, 0.5) * 1000:8.1f} {percentile(lat, 0.99) * 1000:8.1f}")
    ratio = bare_wall / box_wall
    print(f"ratio sandboxed/bare: {ratio:.2f}x (goal >= 0.6x)  mean latency bare {statistics.mean(bare_lat) * 1000:.1f} ms, "
          f"sandboxed {statistics.mean(box_lat) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
