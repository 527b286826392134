"""A whole ``factory run`` against one raw ``vllm.LLM.generate`` call, side by side in one run.

The same engine, model, problems, n, per-problem seeds and sampling on both sides, so both sample
the same tokens. The raw side is one ``LLM.generate`` over every prompt (token ids rendered
beforehand, not timed). The factory side is the recipe's whole plan on the local executor: read,
generate (streaming across shards), verify, select, difficulty and export, each shard written
atomically with its marker. Engine start-up is excluded from both (the factory side reuses the
started engine). Goal: factory <= 1.05x raw.

    python benchmarks/bench_pipeline.py                               # SmolLM2, 96 arith problems x n=4
    python benchmarks/bench_pipeline.py --problems 200 --max-tokens 256 --shard-size 16 --rounds 3

Rounds alternate which side goes first, and the medians are compared, so a change in the
machine's load during the run weighs on both sides alike. Both sides are warmed up first (the
factory side by one whole untimed run, which starts its verifier worker processes once).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class _KeepOpen:
    """The generate stage, but its engine outlives a run (the executor closes stages at the end)."""

    def __init__(self, stage: object) -> None:
        self._stage = stage

    def __getattr__(self, name: str) -> object:
        return getattr(self._stage, name)

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:smollm2")
    parser.add_argument("--problems", type=int, default=96)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--shard-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import pandas as pd
    import vllm

    from factory.backends import VLLMBackend
    from factory.executors import LocalExecutor
    from factory.plan import build_plan
    from factory.recipe import load_recipe
    from factory.shards import RunDir
    from factory.stages.base import StageStats
    from factory.stages.generate import TraceGenerator, problem_seed, sampling_arguments
    from factory.stages.read import ProblemReader

    with tempfile.TemporaryDirectory() as tmp:
        recipe = load_recipe(
            ROOT / "recipes/demo/loop.yaml",
            [
                f"generate.model={args.model}",
                f"generate.n={args.n}",
                f"generate.sampling.max_tokens={args.max_tokens}",
                f"source.path={ROOT / 'data/arith/train.jsonl'}",
                f"source.limit={args.problems}",
                f"source.shard_size={args.shard_size}",
            ],
        )
        backend = VLLMBackend(recipe.generate)
        generator = TraceGenerator(recipe.generate, backend)
        tokenizer, renderer = generator.tokenizer, generator.renderer  # engine start: not timed
        problems = list(ProblemReader(recipe.source).run(None, StageStats()))
        sampling = sampling_arguments(recipe.generate)
        prompts = [
            {
                "prompt_token_ids": tokenizer(renderer.render(renderer.messages(p)), add_special_tokens=False)[
                    "input_ids"
                ]
            }
            for p in problems
        ]
        params = [
            vllm.SamplingParams(**{**sampling, "seed": problem_seed(recipe.generate.seed, p["id"])}) for p in problems
        ]
        backend._llm.generate(prompts[:2], params[:2], use_tqdm=False)  # warm-up, both sides share it

        def raw() -> tuple[float, int]:
            start = time.perf_counter()
            outputs = backend._llm.generate(prompts, params, use_tqdm=False)
            return time.perf_counter() - start, sum(len(o.token_ids) for out in outputs for o in out.outputs)

        def factory(r: int) -> tuple[float, int]:
            run_dir = Path(tmp) / f"run-{r}"
            plan = build_plan(dataclasses.replace(recipe, run_dir=str(run_dir)))
            plan.steps[1].stages[0] = _KeepOpen(generator)  # the started engine: start-up stays out of the timing
            start = time.perf_counter()
            LocalExecutor(RunDir(run_dir), progress=False).run(plan)
            seconds = time.perf_counter() - start
            return seconds, int(pd.read_parquet(run_dir / "traces").completion_tokens.sum())

        # one-time costs on both sides stay out of the rounds: the raw side warmed up above; the
        # factory side starts its math verifier's worker processes and renders its templates once
        factory(-1)
        raws, facs = [], []
        for r in range(args.rounds):
            if r % 2:
                facs.append(factory(r)), raws.append(raw())
            else:
                raws.append(raw()), facs.append(factory(r))
        traces = pd.read_parquet(Path(tmp) / "run-0/traces")
        kept = len(pd.read_parquet(Path(tmp) / "run-0/export/sft"))
    raw_s, fac_s = statistics.median(t for t, _ in raws), statistics.median(t for t, _ in facs)
    raw_tokens, fac_tokens = raws[0][1], facs[0][1]
    lengths = traces.completion_tokens.describe(percentiles=[0.5])
    print(
        f"model {backend.model_path}; {len(problems)} problems x n={args.n}, max_tokens={args.max_tokens}, "
        f"{-(-len(problems) // args.shard_size)} shards of {args.shard_size}; {args.rounds} rounds, medians"
    )
    print(f"completion lengths: min {int(lengths['min'])}, median {int(lengths['50%'])}, max {int(lengths['max'])}")
    print(
        f"raw vllm.LLM.generate (one call)   {raw_s:8.2f} s   {raw_tokens} tokens   {raw_tokens / raw_s:7.1f} tok/s"
        f"   (rounds: {', '.join(f'{t:.1f}' for t, _ in raws)})"
    )
    print(
        f"factory run (whole plan)           {fac_s:8.2f} s   {fac_tokens} tokens   {fac_tokens / fac_s:7.1f} tok/s"
        f"   (rounds: {', '.join(f'{t:.1f}' for t, _ in facs)}; {kept} rows kept)"
    )
    print(f"ratio factory/raw                  {fac_s / raw_s:.3f}   (goal <= 1.05)")


if __name__ == "__main__":
    main()
