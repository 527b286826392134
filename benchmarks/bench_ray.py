"""The Ray executor against the local one, and over 1, 2, 4, 8 generation replicas.

Both parts run the whole plan (read, generate, verify, select, difficulty, export) on the fake
backend with ``seconds_per_token``: each sample sleeps as a GPU would take to sample it, without
using the CPU, so what is measured is the orchestration (actors, tasks, shard writes), not this
machine's cores. The verifiers are real (math, format) and run as Ray tasks.

1. Overhead: the same recipe on the local executor and on Ray with one replica. Goal: Ray <= 1.10x.
2. Scaling: fixed work (``--problems`` x ``--n``) over N replicas; throughput (samples a second)
   per N and the scaling efficiency ``T(1) / (N * T(N))``. Goal at N = 8: >= 0.9. Two clocks:
   the whole run (which counts starting the N replica processes and the last shard's
   verification tail) and the generate step (the summary's ``generate_seconds``: from the
   replicas being up to the last shard written).

Ray is started once before the first run (the time is printed apart): a cluster outlives its
runs. Each run starts its own replicas, so their start-up is counted. Every run's SFT and rejected
sets are compared with the local run's.

    python benchmarks/bench_ray.py                                   # 64 problems x n=4
    python benchmarks/bench_ray.py --seconds-per-token 0.02 --rounds 3 --replicas 1 2 4 8
    python benchmarks/bench_ray.py --cpus-per-replica 0.1      # leave the tasks CPUs while replicas run
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's factory, for the driver (Ray's workers get the working directory)


def recipe(folder: Path, problems: Path, args: argparse.Namespace, executor: dict[str, Any]) -> Any:
    from factory.recipe import parse_recipe

    return parse_recipe(
        {
            "name": "bench-ray",
            "run_dir": str(folder),
            "source": {
                "path": str(problems),
                "fields": {"prompt": "problem", "gold": "answer"},
                "shard_size": args.shard_size,
            },
            "generate": {"n": args.n, "backend": "fake", "engine": {"seconds_per_token": args.seconds_per_token}},
            "verify": {"math": {}, "format": {}},
            "select": {"k": 2, "strategy": "shortest"},
            "executor": executor,
        }
    )


def timed_run(
    folder: Path, problems: Path, args: argparse.Namespace, executor: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    from factory.run import run_recipe

    start = time.perf_counter()
    summary = run_recipe(recipe(folder, problems, args, executor), progress=False)
    return time.perf_counter() - start, summary


def data(folder: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(folder / sub).assign(_set=sub) for sub in ("export/sft", "export/rejected")]
    return pd.concat(frames).sort_values("trace_id").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--shard-size", type=int, default=2)
    parser.add_argument("--seconds-per-token", type=float, default=0.01)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2, help="the local Ray's num_cpus")
    parser.add_argument("--cpus-per-task", type=float, default=1.0)
    parser.add_argument("--cpus-per-replica", type=float, default=0.25, help="a sleeping replica needs next to none")
    args = parser.parse_args()

    import ray

    # the executor's own lines: how long the replicas took to start, and when tasks must wait for CPUs
    logging.basicConfig(format="    %(name)s: %(message)s")
    logging.getLogger("factory.executors.ray").setLevel(logging.INFO)
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    problems = work / "problems.jsonl"
    with problems.open("w") as f:
        for i in range(args.problems):
            f.write(json.dumps({"id": f"p{i:04d}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n")
    start = time.perf_counter()
    ray.init(
        num_cpus=args.cpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=tempfile.mkdtemp(prefix="ray", dir="/tmp"),
    )
    print(f"ray.init: {time.perf_counter() - start:.1f} s (not counted below)")
    on_ray = {"kind": "ray", "cpus_per_replica": args.cpus_per_replica, "cpus_per_task": args.cpus_per_task}
    samples = args.problems * args.n
    runs = 0

    def run(executor: dict[str, Any]) -> tuple[float, dict[str, Any], Path]:
        nonlocal runs
        runs += 1
        folder = work / f"run{runs}"
        seconds, summary = timed_run(folder, problems, args, executor)
        return seconds, summary, folder

    # 1. overhead: local vs Ray with one replica, alternating which goes first
    local_s, ray_s = [], []
    reference = None
    for r in range(args.rounds):
        order = [("local", {"kind": "local"}), ("ray", {**on_ray, "replicas": 1})]
        for name, executor in order if r % 2 == 0 else order[::-1]:
            seconds, summary, folder = run(executor)
            (local_s if name == "local" else ray_s).append(seconds)
            if name == "local" and reference is None:
                reference = data(folder)
            print(f"  round {r + 1} {name:5s}: {seconds:6.2f} s, {summary['traces']} traces, {summary['kept']} kept")
    lm, rm = statistics.median(local_s), statistics.median(ray_s)
    print(f"overhead: local {lm:.2f} s, ray (1 replica) {rm:.2f} s, ratio {rm / lm:.3f}x (goal <= 1.10x)")

    # 2. scaling over N replicas, fixed work
    times: dict[int, float] = {}
    generating: dict[int, float] = {}
    same = True
    for n in args.replicas:
        results, gen = [], []
        for _ in range(args.rounds):
            seconds, summary, folder = run({**on_ray, "replicas": n})
            results.append(seconds)
            gen.append(summary["generate_seconds"])
            same &= data(folder).equals(reference)
        times[n], generating[n] = statistics.median(results), statistics.median(gen)
        print(
            f"  N={n}: run {', '.join(f'{s:.2f}' for s in results)} s; "
            f"generate step {', '.join(f'{s:.2f}' for s in gen)} s"
        )
    first = args.replicas[0]
    print("N  | run: samples/s  efficiency | generate step: samples/s  efficiency")
    for n in args.replicas:
        t, g = times[n], generating[n]
        print(
            f"{n:<2} | {samples / t:15.1f}  {first * times[first] / (n * t):10.3f} | "
            f"{samples / g:24.1f}  {first * generating[first] / (n * g):10.3f}"
        )
    print(f"every Ray run's SFT + rejected sets equal the local run's: {same}")
    ray.shutdown()


if __name__ == "__main__":
    main()
