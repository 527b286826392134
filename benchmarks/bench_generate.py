"""The factory's generate stage against raw ``vllm.LLM.generate``, side by side in one run.

Same engine, model, prompts, n and per-problem seeds, so both sides produce the same tokens; the
factory side also renders prompts with the chat template, builds trace rows and writes the
Parquet shard. Engine start-up is excluded from both. Goal: factory <= 1.05x raw.

    python benchmarks/bench_generate.py                       # SmolLM2, 64 problems x n=4 x 64 tokens
    python benchmarks/bench_generate.py --problems 128 --max-tokens 128 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:smollm2")
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import vllm

    from factory.recipe import GenerateConfig, SourceConfig
    from factory.records import TRACE_SCHEMA
    from factory.shards import write_shard
    from factory.stages.base import StageStats
    from factory.backends import VLLMBackend
    from factory.stages.generate import TraceGenerator, problem_seed, sampling_arguments
    from factory.stages.read import ProblemReader

    config = GenerateConfig(
        model=args.model,
        n=args.n,
        system_prompt="Think step by step inside <think> </think>, then write the answer as \\boxed{answer}.",
        prefill="<think>\n",
        sampling={"temperature": 0.7, "top_p": 0.95, "max_tokens": args.max_tokens},
        engine={"max_model_len": 1024},
    )
    source = SourceConfig(path=str(ROOT / "data/math/train.jsonl"), fields={"prompt": "problem", "gold": "answer"},
                          limit=args.problems)
    problems = list(ProblemReader(source).run(None, StageStats()))

    backend = VLLMBackend(config)
    generator = TraceGenerator(config, backend)
    backend.load()  # engine start: excluded from both timings
    llm = backend._llm
    tokenizer, renderer = backend.tokenizer, generator.renderer
    sampling = sampling_arguments(config)
    prompts = [{"prompt_token_ids": tokenizer(renderer.render(renderer.messages(p)), add_special_tokens=False)["input_ids"]}
               for p in problems]
    params = [vllm.SamplingParams(**{**sampling, "seed": problem_seed(config.seed, p["id"])}) for p in problems]
    llm.generate(prompts[:2], params[:2], use_tqdm=False)  # warm-up

    raw_times, factory_times, raw_tokens, factory_tokens = [], [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            start = time.perf_counter()
            outputs = llm.generate(prompts, params, use_tqdm=False)
            raw_times.append(time.perf_counter() - start)
            raw_tokens = sum(len(o.token_ids) for out in outputs for o in out.outputs)

            stage = TraceGenerator(config, VLLMBackend(config, llm=llm))
            stats = StageStats()
            start = time.perf_counter()
            write_shard(Path(tmp) / f"shard-{r}.parquet", stage.run(iter(problems), stats), TRACE_SCHEMA)
            factory_times.append(time.perf_counter() - start)
            factory_tokens = stats.counters["completion_tokens"]

    raw, fac = statistics.median(raw_times), statistics.median(factory_times)
    print(f"model {backend.model_path}; {len(problems)} problems x n={args.n}, max_tokens={args.max_tokens}, "
          f"{args.rounds} rounds (median)")
    print(f"raw vllm.LLM.generate   {raw:8.2f} s   {raw_tokens} tokens   {raw_tokens / raw:7.1f} tok/s")
    print(f"factory generate stage  {fac:8.2f} s   {factory_tokens} tokens   {factory_tokens / fac:7.1f} tok/s"
          "   (render + generate + trace rows + Parquet)")
    print(f"ratio factory/raw       {fac / raw:.3f}   (goal <= 1.05)")


if __name__ == "__main__":
    main()
