"""Recipes for pipeline tests on the fake backend (factory.backends.fake): no engine needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from factory.recipe import Recipe, parse_recipe

TOP_LEVEL = ("decontaminate", "problem_dedup", "vote")  # sections of their own; the rest is select's


def make_problems(path: Path, n: int = 10) -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"p{i:02d}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n")
    return path


def recipe_for(tmp_path: Path, engine: dict[str, Any] | None = None, **options: Any) -> Recipe:
    """10 problems in shards of 3, n=4 on the fake backend, math + format, k=2 shortest.

    ``engine``: the fake backend's knobs; other keyword arguments go to their own section
    (``decontaminate``, ``problem_dedup``, ``vote``) or to ``select``.
    """
    top = {k: options.pop(k) for k in TOP_LEVEL if k in options}
    return parse_recipe(
        {
            "name": "t",
            "run_dir": str(tmp_path / "run"),
            "source": {
                "path": str(make_problems(tmp_path / "p.jsonl")),
                "fields": {"prompt": "problem", "gold": "answer"},
                "shard_size": 3,
            },
            "generate": {"n": 4, "backend": "fake", "engine": engine or {}},
            "verify": {"math": {}, "format": {}},
            "select": {"k": 2, "strategy": "shortest", **options},
            **top,
        }
    )


def openai_recipe(tmp: Path, url: str, problems: int, shard_size: int) -> Recipe:
    """``problems`` sums from a teacher behind an OpenAI-compatible server at ``url`` (a stub), n=2,
    one retry, math only."""
    tmp.mkdir(exist_ok=True)
    return parse_recipe(
        {
            "name": "t",
            "run_dir": str(tmp / "run"),
            "source": {
                "path": str(make_problems(tmp / "p.jsonl", problems)),
                "fields": {"prompt": "problem", "gold": "answer"},
                "shard_size": shard_size,
            },
            "generate": {
                "model": "teacher",
                "backend": "openai",
                "base_url": url,
                "n": 2,
                "engine": {"backoff_s": 0.01, "max_retries": 1, "timeout_s": 5.0, "concurrency": 2},
            },
            "verify": {"math": {}},
        }
    )
