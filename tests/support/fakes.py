"""A stand-in for the vLLM generate stage, for pipeline tests that need no engine."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

from factory.recipe import Recipe, parse_recipe
from factory.records import Trace
from factory.stages.base import StageStats
from verifiers.text import split_think


def fake_completion(problem_id: str, index: int, gold: str | None) -> tuple[str, str]:
    """Deterministic: about half the samples are right; one in eight is truncated."""
    h = int(hashlib.sha256(f"{problem_id}/{index}".encode()).hexdigest(), 16)
    if h % 8 == 0:
        return "<think>\nI am still thinking about", "length"
    answer = gold if h % 2 == 0 else f"{gold}9"
    words = " step" * (1 + h % 7)
    return f"<think>\nLet me work it out:{words}.\n</think>\nThe answer is \\boxed{{{answer}}}.", "stop"


class FakeGenerator:
    name: ClassVar[str] = "generate"

    def __init__(self, config: Any, crash_after_rows: int | None = None) -> None:
        self.config = config
        self.crash_after_rows = crash_after_rows
        self.calls = 0

    def run(self, rows, stats: StageStats):
        self.calls += 1
        for problem in rows:
            stats.rows_in += 1
            for i in range(self.config.n):
                if self.crash_after_rows is not None and stats.rows_out >= self.crash_after_rows:
                    raise KeyboardInterrupt("simulated kill in the middle of a shard")
                completion, finish = fake_completion(problem["id"], i, problem["gold"])
                reasoning, answer = split_think(completion)
                stats.rows_out += 1
                stats.counters["completion_tokens"] += len(completion.split())
                yield Trace(
                    trace_id=f"{problem['id']}/{i}", problem_id=problem["id"], sample_index=i,
                    source=problem["source"], domain=problem["domain"], language=problem["language"],
                    gold=problem["gold"], tests=problem["tests"], metadata=problem["metadata"],
                    prompt_messages=[{"role": "user", "content": problem["prompt"]}], few_shot_turns=0,
                    prompt_text=problem["prompt"], prefill="", completion=completion, reasoning=reasoning,
                    answer=answer, finish_reason=finish, prompt_tokens=len(problem["prompt"].split()),
                    completion_tokens=len(completion.split()), model="fake", model_revision="0",
                    sampling_params="{}", seed=0, chat_template_hash="0", generator="fake",
                ).to_row()

    def close(self) -> None:
        pass


def make_problems(path: Path, n: int = 10) -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"p{i:02d}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n")
    return path


def recipe_for(tmp_path: Path, **select) -> Recipe:
    return parse_recipe({
        "name": "t",
        "run_dir": str(tmp_path / "run"),
        "source": {"path": str(make_problems(tmp_path / "p.jsonl")), "fields": {"prompt": "problem", "gold": "answer"},
                   "shard_size": 3},
        "generate": {"n": 4},
        "verify": {"math": {}, "format": {}},
        "select": {"k": 2, "strategy": "shortest", **select},
    })
