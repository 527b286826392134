"""KV block size on CPU: vLLM's CPU default (128 tokens) against a smaller one, side by side.

Prefix caching shares only *full* KV blocks. With the CPU default of 128 tokens, the n samples of
a problem and the problems that share a system prompt and few-shot turns re-prefill everything
after the last full block; a smaller block shares more. The loop recipe's prompts (system prompt,
two few-shot turns, ``<think>`` prefill: ~190 tokens) over ``data/arith`` problems, n samples each,
one fresh engine per block size (each in its own process, so the prefix cache starts cold), same
per-problem seeds. Prints the generate seconds of each and the ratio.

    python benchmarks/bench_block_size.py                     # 100 problems x n=4 x 64 tokens, 128 vs 32
    python benchmarks/bench_block_size.py --sizes 128 32 64
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(block_size: int, problems: int, n: int, max_tokens: int) -> dict:
    from factory.recipe import load_recipe
    from factory.stages.base import StageStats
    from factory.stages.generate import TraceGenerator
    from factory.stages.read import ProblemReader

    recipe = load_recipe(
        ROOT / "recipes/demo/loop.yaml",
        [
            f"generate.n={n}",
            f"generate.sampling.max_tokens={max_tokens}",
            f"generate.engine.block_size={block_size}",
            f"source.limit={problems}",
        ],
    )
    source = dataclasses.replace(recipe.source, path=str(ROOT / recipe.source.path))
    rows = list(ProblemReader(source).run(None, StageStats()))
    generator = TraceGenerator(recipe.generate)
    _ = generator.tokenizer  # engine start (and torch.compile): not timed
    list(generator.generate(rows[:1]))  # warm-up on one problem
    stats = StageStats()
    start = time.perf_counter()
    traces = list(generator.generate(rows[1:], stats))
    seconds = time.perf_counter() - start
    return {
        "block_size": block_size,
        "seconds": round(seconds, 2),
        "traces": len(traces),
        "prompt_tokens": stats.counters["prompt_tokens"],
        "completion_tokens": stats.counters["completion_tokens"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 32])
    parser.add_argument("--problems", type=int, default=101)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.problems, args.n, args.max_tokens)))
        return
    results = []
    for size in args.sizes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(size),
                "--problems",
                str(args.problems),
                "--n",
                str(args.n),
                "--max-tokens",
                str(args.max_tokens),
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,  # its stderr (vLLM's log) passes through
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    base = results[0]
    for r in results[1:]:
        print(
            f"block_size {r['block_size']} vs {base['block_size']}: {r['seconds']:.1f} s vs {base['seconds']:.1f} s, "
            f"time ratio {r['seconds'] / base['seconds']:.2f} "
            f"(completion tokens {r['completion_tokens']} vs {base['completion_tokens']})"
        )


if __name__ == "__main__":
    main()
