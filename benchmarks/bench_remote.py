"""The code verifier through a remote ``factory sandbox serve`` on loopback vs the local warm sandbox.

The same mix of small stdin/stdout programs as ``bench_sandbox.py`` (500 by default: 60% correct,
25% wrong, 14% crashing, one in 250 spinning), one test each, judged by ``verify_code`` called
from a pool of client threads, each call timed end to end (extraction, the sandbox or the HTTP
round trip, judging):

- ``local``: the warm sandbox in this process, ``concurrency`` threads (default: the cores), and
  ``local x2`` from twice as many threads (the same client side as ``remote x2``);
- ``remote xC``: ``CodeConfig(remote=URL)`` against a server started here with ``--workers`` =
  ``concurrency`` (so both run as many programs at once), from ``C`` x ``concurrency`` client
  threads (1x leaves the server idle during each round trip; 2x keeps its queue fed).

Prints executions/s, p50/p99 latency, the ratio to local (goal: remote >= 0.8x on loopback) and
how many passed; the pools alternate ``--rounds`` times.

    python benchmarks/bench_remote.py
    python benchmarks/bench_remote.py -n 300 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sandbox import SPIN, TIME_LIMIT_S, WALL_LIMIT_S, make_programs, percentile  # noqa: E402
from tests.support.servers import free_port  # noqa: E402
from verifiers import CodeConfig, verify_code  # noqa: E402


def run_pool(programs: list[tuple[str, str, str]], config: CodeConfig, threads: int) -> tuple[float, list[float], int]:
    def one(item: tuple[str, str, str]) -> tuple[float, bool]:
        program, stdin, expected = item
        start = time.perf_counter()
        verdict = verify_code(program, [{"input": stdin, "output": expected}], config=config)
        return time.perf_counter() - start, verdict.passed

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, programs))
    return time.perf_counter() - start, [r[0] for r in results], sum(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--programs", type=int, default=500)
    parser.add_argument("-c", "--concurrency", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "FACTORY_SANDBOX_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    command = [
        sys.executable,
        "-m",
        "factory.cli",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(args.concurrency),
        "--queue",
        "256",
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.25)
        limits = {"time_limit_s": TIME_LIMIT_S, "wall_limit_s": WALL_LIMIT_S}
        c = args.concurrency
        pools = {
            "local": lambda progs: run_pool(progs, CodeConfig(**limits), c),
            "local x2": lambda progs: run_pool(progs, CodeConfig(**limits), 2 * c),
            "remote x1": lambda progs: run_pool(progs, CodeConfig(**limits, remote=url, remote_concurrency=c), c),
            "remote x2": lambda progs: run_pool(
                progs, CodeConfig(**limits, remote=url, remote_concurrency=2 * c), 2 * c
            ),
        }
        programs = make_programs(args.programs)
        for pool in pools.values():  # zygotes started, connections open
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
    finally:
        server.terminate()
        server.wait(timeout=30)
    n = len(programs) * args.rounds
    print(
        f"{len(programs)} programs x {args.rounds} round(s) ({sum(p == SPIN for p, _, _ in programs)} spinning), "
        f"concurrency {c}, {os.cpu_count()} CPUs, load average {load:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    print(f"{'pool':<10} {'exec/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs local':>9} {'passed':>7}")
    for name in pools:
        lat = latencies[name]
        p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
        ratio = walls["local"] / walls[name]
        print(f"{name:<10} {n / walls[name]:8.1f} {p50:8.1f} {p99:8.1f} {ratio:8.2f}x {passes[name]:>7}")
    print("goal: remote >= 0.8x local on loopback")


if __name__ == "__main__":
    main()
