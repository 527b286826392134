"""Throughput of the batch math verifier vs math-verify on realistic (gold, response) pairs.

    python benchmarks/bench_math_throughput.py [--n 10000] [--workers 2] [--mv-workers 1]
                                               [--latency-sample 1000]

Pairs are generated with a fixed seed: R1-style responses with long ``<think>`` blocks (2-6 KB of
reasoning with inline LaTeX) and a boxed final answer, over a realistic mix of answer types
(integers most often, then fractions/decimals, radicals, polynomials, intervals, sets, tuples,
equations, percents, units, choices), about 60 % right and 40 % wrong, every pair distinct (so
math-verify's parse cache does not see repeats). Both verifiers score the same pairs in one run.
math-verify runs with TRL's ``accuracy_reward`` settings, in this process (how reward functions
call it) or, with ``--mv-workers N``, on a fork pool of N processes. Latency (p50/p99/p100) is
measured with single ``verify_math`` calls from 2 threads on a sample.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from verifiers import MathConfig  # noqa: E402
from verifiers.math import prestart_workers, verify_math, verify_math_batch  # noqa: E402

WORDS = (
    "we",
    "compute",
    "the",
    "sum",
    "so",
    "then",
    "check",
    "factor",
    "note",
    "that",
    "hence",
    "wait",
    "let",
    "me",
    "verify",
    "again",
    "substitute",
    "into",
    "equation",
    "gives",
    "therefore",
)


def _think(rng: random.Random) -> str:
    parts = []
    size = rng.randint(2000, 6000)
    n = 0
    while n < size:
        if rng.random() < 0.2:
            a, b = rng.randint(2, 99), rng.randint(2, 99)
            s = f"$\\frac{{{a}}}{{{b}}} + {a} \\cdot {b} = {a * b}$"
        else:
            s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) + "."
        parts.append(s)
        n += len(s) + 1
    return " ".join(parts)


def _pair(rng: random.Random) -> tuple[str, str]:
    right = rng.random() < 0.6
    a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(1, 9)
    k = rng.random()
    if k < 0.45:  # integer
        gold, ans = str(a * c), str(a * c if right else a * c + rng.choice([-1, 1, 10]))
    elif k < 0.58:  # fraction / decimal
        gold = f"\\frac{{{a}}}{{{b}}}"
        ans = rng.choice([f"\\frac{{{a * c}}}{{{b * c}}}", f"{a}/{b}"]) if right else f"\\frac{{{a + 1}}}{{{b}}}"
    elif k < 0.63:  # percent / decimal
        gold = f"{a}\\%"
        ans = f"{a / 100:g}" if right else f"{a}"
    elif k < 0.72:  # radical
        gold = f"{c}\\sqrt{{{b}}}" if b not in (4, 9, 16, 25, 36, 49, 64, 81) else f"{c}\\sqrt{{2}}"
        inner = b if b not in (4, 9, 16, 25, 36, 49, 64, 81) else 2
        ans = f"\\sqrt{{{c * c * inner}}}" if right else f"\\sqrt{{{c * c * inner + 1}}}"
    elif k < 0.77:  # polynomial
        gold = f"(x+{c})^2"
        ans = f"x^2+{2 * c}x+{c * c}" if right else f"x^2+{c}x+{c * c}"
    elif k < 0.82:  # interval / inequality
        gold = f"({a},\\infty)"
        ans = f"x>{a}" if right else f"x\\ge {a}"
    elif k < 0.87:  # set
        gold = f"\\{{{a}, {b}\\}}"
        ans = f"{b}, {a}" if right else f"{b}, {a + 1}"
    elif k < 0.90:  # tuple
        gold = f"({a}, {b})"
        ans = f"({a},{b})" if right else f"({b},{a})"
    elif k < 0.93:  # equation
        gold = f"y={c}x+{b}"
        ans = f"{c}x-y+{b}=0" if right else f"y={c}x-{b}"
    elif k < 0.96:  # units
        gold = f"{a}"
        ans = f"{a}\\text{{ cm}}" if right else f"{a + 1}\\text{{ cm}}"
    else:  # choice
        g = rng.choice("ABCDE")
        gold = g
        ans = f"\\textbf{{({g})}}\\ {a}" if right else f"({'ABCDE'[('ABCDE'.index(g) + 1) % 5]})"
    think = _think(rng)
    response = f"<think>\n{think}\n</think>\n\nPutting it together, the answer is $\\boxed{{{ans}}}$."
    return response, gold


def make_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    seen, out = set(), []
    while len(out) < n:
        p = _pair(rng)
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _mv_one(pair: tuple[str, str]) -> bool:
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    response, gold = pair
    gold_parsed = parse(f"${gold}$")
    if not gold_parsed:
        return False
    answer = parse(
        response,
        extraction_config=[
            LatexExtractionConfig(
                normalization_config=NormalizationConfig(units=True),
                boxed_match_priority=0,
                try_extract_without_anchor=False,
            )
        ],
        extraction_mode="first_match",
    )
    return bool(verify(gold_parsed, answer))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mv-workers", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--latency-sample", type=int, default=1000)
    args = ap.parse_args()
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    pairs = make_pairs(args.n)
    size = sum(len(r) for r, _ in pairs) / len(pairs)
    print(f"{len(pairs)} pairs, mean response {size / 1000:.1f} KB")

    t0 = time.perf_counter()
    ours = verify_math_batch(pairs, workers=args.workers, config=MathConfig(timeout_s=args.timeout))
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    if args.mv_workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(args.mv_workers) as pool:
            theirs = pool.map(_mv_one, pairs, chunksize=64)
    else:
        theirs = [_mv_one(p) for p in pairs]
    t_theirs = time.perf_counter() - t0

    agree = sum(v.passed == m for v, m in zip(ours, theirs, strict=True))
    timeouts = sum(v.reason == "timeout" for v in ours)
    print(
        f"ours:        {len(pairs) / t_ours:8.1f} items/s  ({t_ours:.1f} s, {args.workers} workers, "
        f"{sum(v.passed for v in ours)} passed, {timeouts} timeouts)"
    )
    print(
        f"math-verify: {len(pairs) / t_theirs:8.1f} items/s  ({t_theirs:.1f} s, {args.mv_workers} process(es), "
        f"{sum(theirs)} passed)"
    )
    print(f"ratio:       {t_theirs / t_ours:8.2f}x   agreement {agree / len(pairs):.1%}")

    if args.latency_sample:
        sample = pairs[: args.latency_sample]

        def timed(p: tuple[str, str]) -> tuple[float, str]:
            t = time.perf_counter()
            v = verify_math(p[0], p[1], config=MathConfig(timeout_s=args.timeout))
            return time.perf_counter() - t, v.reason

        prestart_workers(2)  # worker start-up (~2 s each) is not part of per-item latency
        with ThreadPoolExecutor(2) as ex:
            timed_all = list(ex.map(timed, sample))
        lat = sorted(t for t, _ in timed_all)
        slowest = max(range(len(sample)), key=lambda i: timed_all[i][0])
        print(
            f"slowest single call: {timed_all[slowest][0]:.2f} s, gold {sample[slowest][1]!r}, {timed_all[slowest][1]}"
        )
        print(
            f"latency (single calls, 2 threads, {len(sample)} items): p50 {statistics.median(lat) * 1000:.1f} ms  "
            f"p99 {lat[int(0.99 * (len(lat) - 1))] * 1000:.1f} ms  p100 {lat[-1] * 1000:.1f} ms "
            f"(limit {args.timeout + 0.5:.1f} s)"
        )


if __name__ == "__main__":
    main()
