"""Adaptive sampling against fixed n: samples, tokens and wall time for the same SFT set.

Both sides run the whole plan (read, generate, verify, select, difficulty, export) with n = 16,
``select: {k: 2, strategy: first}``; the adaptive side adds ``generate.adaptive: {first: 2,
passes: 2}``. Two teachers:

- ``mix``: the fake backend with a known difficulty mix (``accuracy_key``): 50 % of the problems
  at p = 0.9 that a sample is right, 20 % at 0.6, 15 % at 0.3, 15 % at 0.05; sample lengths do not
  depend on the verdict. Goal: adaptive <= 0.35x the fixed run's completion tokens.
- ``smollm2``: the embedded SmolLM2-135M-Instruct on ``data/arith`` with the loop recipe's prompts
  (few-shot + ``<think>`` prefill), one started engine shared by both sides (start-up not timed).
  Goal: adaptive <= 0.5x the fixed run's wall time.

Each teacher checks that the two SFT sets are the same rows (every column but ``pass_rate``,
which under a stopping rule is an estimate over fewer samples).

    python benchmarks/bench_adaptive.py --teacher mix --problems 400
    python benchmarks/bench_adaptive.py --teacher smollm2 --problems 24 --max-tokens 96
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIX = ((0.5, 0.9), (0.2, 0.6), (0.15, 0.3), (0.15, 0.05))  # share of problems, chance a sample is right
ADAPTIVE = {"first": 2, "passes": 2}


class _KeepOpen:
    """The generate stage, but its engine outlives a run (the executor closes stages at the end)."""

    def __init__(self, stage: object) -> None:
        self._stage = stage

    def __getattr__(self, name: str) -> object:
        return getattr(self._stage, name)

    def close(self) -> None:
        pass


def mix_problems(path: Path, count: int) -> Path:
    """``count`` arithmetic problems whose metadata says how often the fake teacher gets them right."""
    bounds, edge = [], 0.0
    for share, p in MIX:
        edge += share
        bounds.append((round(edge * count), p))
    with path.open("w") as f:
        for i in range(count):
            p = next(p for bound, p in bounds if i < bound)
            f.write(
                json.dumps({"id": f"q{i:05d}", "problem": f"What is {i} + 1?", "answer": str(i + 1), "p": p}) + "\n"
            )
    return path


def compare(fixed: Path, adaptive: Path) -> tuple[int, bool]:
    import pandas as pd

    left, right = (
        pd.read_parquet(run / "export/sft").drop(columns="pass_rate").sort_values("trace_id").reset_index(drop=True)
        for run in (fixed, adaptive)
    )
    return len(left), left.equals(right)


def report(name: str, sides: dict[str, tuple[Any, float]], same: bool, rows: int, goal: str) -> None:
    (fixed, fixed_s), (adaptive, adaptive_s) = sides["fixed"], sides["adaptive"]
    print(f"\n{name}: {fixed.problems} problems, n = 16, k = 2, strategy first; adaptive {ADAPTIVE}")
    for side, (s, seconds) in sides.items():
        print(
            f"  {side:9s} samples {s.traces:6d}   completion tokens {s.completion_tokens:8d}   "
            f"wall {seconds:7.1f} s   kept {s.kept:5d}   tokens/kept row {s.cost.tokens_per_kept_row}"
        )
    print(
        f"  ratio     samples {adaptive.traces / fixed.traces:.3f}   tokens "
        f"{adaptive.completion_tokens / fixed.completion_tokens:.3f}   wall {adaptive_s / fixed_s:.3f}   "
        f"(goal: {goal})"
    )
    print(
        f"  adaptive: {adaptive.cost.later_rounds} later rounds; stopped {adaptive.cost.stopped}; "
        f"saved {adaptive.cost.samples_saved} samples, ~{adaptive.cost.tokens_saved_estimate} tokens (estimate)"
    )
    print(f"  SFT sets identical (all columns but pass_rate): {same} ({rows} rows)")


def bench_mix(problems: int, tmp: Path) -> None:
    from factory.recipe import parse_recipe
    from factory.run import run_recipe

    source = mix_problems(tmp / "mix.jsonl", problems)
    sides = {}
    for side in ("fixed", "adaptive"):
        recipe = parse_recipe(
            {
                "name": f"mix-{side}",
                "run_dir": str(tmp / f"mix-{side}"),
                "source": {
                    "path": str(source),
                    "fields": {"prompt": "problem", "gold": "answer"},
                    "defaults": {"domain": "math"},
                    "shard_size": 50,
                },
                "generate": {
                    "backend": "fake",
                    "n": 16,
                    "engine": {"accuracy_key": "p"},
                    **({"adaptive": ADAPTIVE} if side == "adaptive" else {}),
                },
                "verify": {"math": {}, "format": {}},
                "select": {"require": ["math", "format"], "k": 2, "strategy": "first"},
            }
        )
        start = time.perf_counter()
        summary = run_recipe(recipe, progress=False)
        sides[side] = (summary, time.perf_counter() - start)
    rows, same = compare(tmp / "mix-fixed", tmp / "mix-adaptive")
    report("fake teacher, difficulty mix", sides, same, rows, "tokens <= 0.35")


def bench_smollm2(problems: int, max_tokens: int, tmp: Path) -> None:
    from factory.backends import VLLMBackend
    from factory.executors import LocalExecutor
    from factory.plan import build_plan
    from factory.recipe import load_recipe
    from factory.run import summarize
    from factory.shards import RunDir
    from factory.stages.generate import TraceGenerator

    def recipe(side: str) -> Any:
        return load_recipe(
            ROOT / "recipes/demo/loop.yaml",
            [
                "generate.n=16",
                f"generate.sampling.max_tokens={max_tokens}",
                f"source.limit={problems}",
                "source.shard_size=8",
                "select.k=2",
                "select.strategy=first",
                "select.trace_dedup=null",
                f"run_dir={tmp / f'smollm2-{side}'}",
                *([f"generate.adaptive={json.dumps(ADAPTIVE)}"] if side == "adaptive" else []),
            ],
        )

    base = recipe("fixed")
    generator = TraceGenerator(base.generate, VLLMBackend(base.generate))
    generator.renderer  # noqa: B018  (engine start: not timed)
    sides = {}
    for side in ("fixed", "adaptive"):
        r = recipe(side)
        plan = build_plan(r)
        stage = plan.steps[1].stages[0]
        stage.backend = generator.backend  # the started engine, with this side's stopping rule: start-up not timed
        plan.steps[1].stages[0] = _KeepOpen(stage)
        run = RunDir(r.run_location)
        start = time.perf_counter()
        LocalExecutor(run, progress=False).run(plan)
        seconds = time.perf_counter() - start
        sides[side] = (summarize(r, plan, run), seconds)
    rows, same = compare(tmp / "smollm2-fixed", tmp / "smollm2-adaptive")
    report(f"SmolLM2-135M on data/arith (max_tokens {max_tokens})", sides, same, rows, "wall <= 0.5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", choices=["mix", "smollm2", "both"], default="both")
    parser.add_argument("--problems", type=int, default=None, help="default: 400 (mix), 24 (smollm2)")
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.teacher in ("mix", "both"):
            bench_mix(args.problems or 400, Path(tmp))
        if args.teacher in ("smollm2", "both"):
            bench_smollm2(args.problems or 24, args.max_tokens, Path(tmp))


if __name__ == "__main__":
    main()
