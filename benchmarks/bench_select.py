"""Selection, dedup and decontamination throughput and peak memory on synthetic traces.

    python benchmarks/bench_select.py                         # 100k problems x 10 traces, 5k benchmark
    python benchmarks/bench_select.py --problems 20000        # a smaller size

Each part runs in its own subprocess (so its peak RSS is its own) over rows made on the fly by
a seeded generator, streamed through the stages exactly as the pipeline does (one shard of
``--shard`` problems at a time); nothing is held but the stages' own state. Parts:

- ``source``: only making the synthetic rows (the baseline subtracted from the others);
- ``select``: TraceSelector with pass-rate band + keep-k (shortest), no dedup;
- ``select+dedup``: the same plus run-wide trace near-dedup (MinHash LSH, threshold 0.8);
- ``problems``: decontamination (13-grams vs the 5k-problem benchmark file) + problem dedup.

Synthetic data: problems are ~25-word templated word problems (2% copy a benchmark problem,
3% repeat an earlier problem), traces ~60 words, 10 per problem, where two in ten repeat an
earlier trace of the problem and ~45% pass. Row dicts have the columns of a verified trace.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

WORDS = (
    "apple train number square circle angle prime sum product ratio speed distance time hour minute digit "
    "factor remainder triangle perimeter area volume chord radius value even odd integer fraction decimal"
).split()
STEPS = (
    "first we note that then we compute so the total is hence subtracting gives which means multiply by "
    "divide by adding we get therefore checking again the answer is"
).split()


def problem_text(rng: random.Random) -> str:
    a, b = rng.randint(2, 999), rng.randint(2, 999)
    topic = " ".join(rng.choices(WORDS, k=12))
    return (f"A {rng.choice(WORDS)} problem about {topic}: if x equals {a} and y equals {b}, "
            f"what is x times y plus {rng.randint(1, 99)}?")


def benchmark_items(n: int) -> list[dict]:
    rng = random.Random(99)
    return [{"id": f"bench-{i}", "problem": problem_text(rng)} for i in range(n)]


def problems(n: int, bench: list[dict]) -> Iterator[dict]:
    rng = random.Random(1)
    recent: list[str] = []
    for i in range(n):
        r = rng.random()
        if r < 0.02:
            text = "Consider this: " + rng.choice(bench)["problem"]
        elif r < 0.05 and recent:
            text = rng.choice(recent)
        else:
            text = problem_text(rng)
        recent = (recent + [text])[-100:]
        yield {
            "id": f"p{i:07d}",
            "source": f"src{i % 4}",
            "prompt": text,
            "messages": None,
            "gold": "1",
            "tests": None,
            "domain": "math",
            "language": "en",
            "metadata": "{}",
        }


def traces(n_problems: int, n: int) -> Iterator[dict]:
    rng = random.Random(2)
    chat = [{"role": "user", "content": "problem"}]
    for p in range(n_problems):
        pid = f"p{p:07d}"
        seen: list[str] = []
        for i in range(n):
            if seen and rng.random() < 0.2:
                completion = rng.choice(seen)
            else:
                body = " ".join(rng.choices(STEPS, k=50)) + f" {rng.randint(0, 10**6)} {pid}"
                completion = f"<think>\n{body}\n</think>\nThe answer is \\boxed{{{rng.randint(0, 9)}}}."
                seen.append(completion)
            passed = rng.random() < 0.45
            yield {
                "trace_id": f"{pid}/{i}",
                "problem_id": pid,
                "sample_index": i,
                "source": f"src{p % 4}",
                "domain": "math",
                "language": "en",
                "gold": "1",
                "tests": None,
                "metadata": "{}",
                "prompt_messages": chat,
                "few_shot_turns": 0,
                "prompt_text": "problem",
                "prefill": "",
                "completion": completion,
                "reasoning": None,
                "answer": "",
                "finish_reason": "stop",
                "prompt_tokens": 20,
                "completion_tokens": len(completion) // 4,
                "model": "m",
                "model_revision": "r",
                "sampling_params": "{}",
                "seed": 0,
                "chat_template_hash": "h",
                "generator": "g",
                "math_passed": passed,
                "math_reason": "ok" if passed else "wrong_answer",
                "math_score": float(passed),
                "math_extracted": "1",
                "math_details": None,
            }


def part(name: str, args: argparse.Namespace, bench_path: Path) -> dict:
    from factory.recipe import BenchmarkFile, DecontaminateConfig, DedupConfig, SelectConfig
    from factory.stages.base import StageStats, batched
    from factory.stages.decontaminate import ProblemDecontaminator
    from factory.stages.dedup import ProblemDeduplicator
    from factory.stages.select import TraceSelector

    total = args.problems * args.n
    start, cpu = time.perf_counter(), time.process_time()
    stats = StageStats()
    if name == "problems":
        bench = json.loads(bench_path.with_suffix(".ids.json").read_text())
        rows = problems(args.problems, bench)
        decon = ProblemDecontaminator(DecontaminateConfig(benchmarks=[BenchmarkFile(path=str(bench_path))]))
        dedup = ProblemDeduplicator(DedupConfig())
        s1, s2 = StageStats(), StageStats()
        count = sum(1 for _ in dedup.run(decon.run(rows, s1), s2))
        out = {"rows": count, "contaminated": s1.dropped.get("contaminated", 0), "duplicates": dict(s2.dropped)}
        total = args.problems
    else:
        config = SelectConfig(
            k=4,
            strategy="shortest",
            max_pass_rate=0.95,
            trace_dedup=DedupConfig(scope="run") if name == "select+dedup" else None,
        )
        selector = TraceSelector(config, ["math"])
        count = 0
        for shard in batched(traces(args.problems, args.n), args.shard * args.n):
            if name == "source":
                count += len(shard)
                continue
            for _ in selector.run(iter(shard), stats):
                count += 1
        out = {"rows": count, "kept": stats.rows_out, "dropped": dict(stats.dropped)}
        total = count
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    out.update(
        part=name,
        seconds=round(seconds, 2),
        cpu_seconds=round(cpu, 2),
        per_second=round(total / seconds),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=100_000)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--bench", type=int, default=5_000)
    ap.add_argument("--shard", type=int, default=64, help="problems per shard")
    ap.add_argument("--parts", default="source,select,select+dedup,problems")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--bench-file", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    if args.part:
        print(json.dumps(part(args.part, args, Path(args.bench_file))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        bench_path = Path(tmp) / "bench.jsonl"
        items = benchmark_items(args.bench)
        bench_path.write_text("".join(json.dumps(r) + "\n" for r in items))
        bench_path.with_suffix(".ids.json").write_text(json.dumps(items))
        results = []
        for name in args.parts.split(","):
            cmd = [
                sys.executable,
                __file__,
                "--part",
                name,
                "--bench-file",
                str(bench_path),
                "--problems",
                str(args.problems),
                "--n",
                str(args.n),
                "--shard",
                str(args.shard),
            ]
            res = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            )
            results.append(res)
            print(json.dumps(res), flush=True)
    base = next((r for r in results if r["part"] == "source"), None)
    print(f"\n{args.problems} problems x {args.n} traces, benchmark {args.bench} problems")
    print("net: minus the time spent making the synthetic rows (part 'source'); CPU: process time, which")
    print("does not count waiting for a core on a shared machine")
    print(
        f"{'part':<14}{'wall s':>8}{'CPU s':>8}{'rows/s':>9}{'net rows/s':>12}{'net rows/CPU s':>16}{'peak RSS MB':>13}"
    )
    for r in results:
        net = net_cpu = ""
        if base and r["part"] in ("select", "select+dedup") and r["seconds"] > base["seconds"]:
            net = f"{r['rows'] / (r['seconds'] - base['seconds']):,.0f}"
            net_cpu = f"{r['rows'] / max(r['cpu_seconds'] - base['cpu_seconds'], 1e-9):,.0f}"
        elif r["part"] == "problems":
            net_cpu = f"{r['rows'] / r['cpu_seconds']:,.0f}"
        print(
            f"{r['part']:<14}{r['seconds']:>8}{r['cpu_seconds']:>8}{r['per_second']:>9,}{net:>12}{net_cpu:>16}"
            f"{r['peak_rss_mb']:>13}"
        )
    if args.out:
        args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, "results": results}, indent=2))


if __name__ == "__main__":
    main()
