"""The openai backend against a local ``vllm serve`` vs the offline vLLM backend, same model.

Both sides run the factory's generate stage on the same problems, prompts (the completions API
with the prompt rendered here, so the server sees the offline prompt token for token), n, seeds
and sampling, with the same engine settings (float32, eager, KV blocks of 32, prefix caching, no
chunked prefill). The offline side runs before and after the server (one engine at a time; the
mean of the two is the baseline, as the load of a shared machine moves); engine and server
start-up are excluded. The HTTP side is swept over the client's ``concurrency``: the ratio to
read is HTTP tok/s over offline tok/s, and where it stops growing.

    python benchmarks/bench_http.py                                  # SmolLM2, 32 problems x n=4 x 32 tokens
    python benchmarks/bench_http.py --problems 64 --max-tokens 64 --concurrency 1 4 16 64   # more in flight

On a busy 2-core CPU one request of n=4 decodes slowly (a batch of 4 reads the weights as often
as a batch of 128), so low concurrencies take minutes there.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests/support")]  # this checkout, not an installed copy

ENGINE = {
    "enforce_eager": True,
    "max_model_len": 1024,
    "block_size": 32,
    "enable_prefix_caching": True,
    "enable_chunked_prefill": False,
}
SERVER_ARGS = [
    "--max-model-len",
    "1024",
    "--block-size",
    "32",
    "--enable-prefix-caching",
    "--no-enable-chunked-prefill",
    "--seed",
    "0",
]


def run_stage(config: Any, problems: list[dict[str, Any]]) -> tuple[float, int, dict[str, str]]:
    """Seconds, completion tokens and {trace_id: completion} of one generate-stage pass."""
    from factory.stages.base import StageStats
    from factory.stages.generate import TraceGenerator

    stage = TraceGenerator(config)
    _ = stage.renderer  # tokenizer / engine load: not timed
    stage.generate(problems[:1], StageStats()).__next__()  # warm-up
    stats = StageStats()
    start = time.perf_counter()
    rows = list(stage.run(iter(problems), stats))
    seconds = time.perf_counter() - start
    stage.close()
    return seconds, stats.counters["completion_tokens"], {r["trace_id"]: r["completion"] for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:smollm2")
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 32])
    args = parser.parse_args()
    # a `timeout` or Ctrl-C ends the run through the finally blocks, so the server is stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from vllm_server import vllm_server

    from factory.models import resolve_model
    from factory.recipe import GenerateConfig, SourceConfig
    from factory.stages.base import StageStats
    from factory.stages.read import ProblemReader

    folder = resolve_model(args.model)
    common = {
        "n": args.n,
        "system_prompt": "Think step by step inside <think> </think>, then write the answer as \\boxed{answer}.",
        "prefill": "<think>\n",
        "sampling": {"temperature": 0.7, "top_p": 0.95, "max_tokens": args.max_tokens},
    }
    source = SourceConfig(
        path=str(ROOT / "data/math/train.jsonl"), fields={"prompt": "problem", "gold": "answer"}, limit=args.problems
    )
    problems = list(ProblemReader(source).run(None, StageStats()))

    offline_config = GenerateConfig(model=folder, engine=ENGINE, **common)
    print(f"model {folder}; {len(problems)} problems x n={args.n}, max_tokens={args.max_tokens}", flush=True)
    print(f"{'side':<31} {'load':>5} {'seconds':>8} {'tokens':>7} {'tok/s':>7}  same tokens as offline", flush=True)

    def row(side: str, seconds: float, tokens: int, same: str, load: float) -> None:
        print(f"{side:<31} {load:5.1f} {seconds:8.2f} {tokens:7d} {tokens / seconds:7.1f}  {same}", flush=True)

    # offline before and after the sweep: the machine's load moves, and the mean is the baseline
    load = os.getloadavg()[0]
    offline_s, offline_tokens, offline = run_stage(offline_config, problems)
    row("offline vllm backend (before)", offline_s, offline_tokens, "", load)
    gc.collect()
    http_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with vllm_server(Path(folder), "teacher", Path(tmp), SERVER_ARGS) as url:
            print(f"(server ready in {time.perf_counter() - start:.1f} s)", flush=True)
            for c in args.concurrency:
                config = GenerateConfig(
                    model="teacher",
                    backend="openai",
                    base_url=url,
                    tokenizer=folder,
                    engine={"api": "completions", "concurrency": c},
                    **common,
                )
                load = os.getloadavg()[0]
                s, tokens, http = run_stage(config, problems)
                same = sum(http.get(k) == v for k, v in offline.items())
                http_rows.append((f"openai backend, concurrency {c}", s, tokens, f"{same}/{len(offline)} traces", load))
                row(*http_rows[-1])
    load = os.getloadavg()[0]
    after_s, after_tokens, after = run_stage(offline_config, problems)
    same = sum(after.get(k) == v for k, v in offline.items())
    row("offline vllm backend (after)", after_s, after_tokens, f"{same}/{len(offline)} traces", load)
    baseline = (offline_tokens / offline_s + after_tokens / after_s) / 2
    print(f"offline baseline (mean) {baseline:.1f} tok/s; throughput ratios HTTP/offline:", flush=True)
    for side, s, tokens, _, _ in http_rows:
        print(f"  {side:<31} {tokens / s / baseline:6.2f}x", flush=True)


if __name__ == "__main__":
    main()
