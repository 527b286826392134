"""Run a recipe: claim its run folder, build its plan, hand the plan to an executor, summarise.

What the steps are is :mod:`factory.plan`'s business; how shards are run, written and marked
done, :mod:`factory.executors`'. A rerun of the same recipe resumes where the last run stopped; a
run folder made by a different data recipe is refused rather than mixed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import yaml

from factory.backends import BACKENDS
from factory.executors import EXECUTORS, step_stats
from factory.plan import build_plan
from factory.recipe import MOVED_KEYS, Recipe, RecipeError
from factory.shards import RunDir, write_json
from factory.stages.base import StageStats

log = logging.getLogger(__name__)

# The sections that decide what the data run produces; train/eval settings may change freely
# without invalidating the data already made.
DATA_SECTIONS = ("name", "source", "decontaminate", "problem_dedup", "generate", "vote", "verify", "select", "export")
# generate keys that say where the teacher answers, not what it samples (another server pool of
# the same model, a rotated key): a run folder resumes across them.
WHERE_KEYS = ("base_url", "api_key_env")


def run_recipe(recipe: Recipe, *, progress: bool = True, stop_after: str | None = None, executor: str = "local") -> dict[str, Any]:
    """Run (or resume) a recipe and return its summary.

    ``stop_after`` ends the run after the named step (used to inspect or test partial runs).
    """
    run = RunDir(recipe.output_dir)
    _claim(run, recipe)
    plan = build_plan(recipe)
    write_json(run.root / "plan.json", plan.describe())
    EXECUTORS[executor](run, progress).run(plan, stop_after)
    summary = summarize(recipe, run)
    write_json(run.root / "summary.json", summary)
    return summary


def _claim(run: RunDir, recipe: Recipe) -> None:
    """Record the recipe in the run folder; refuse to resume a folder made by a different data recipe."""
    path = run.root / "recipe.json"
    current = recipe.to_dict()
    if path.exists():
        previous = _data_settings(json.loads(path.read_text()))
        now = _data_settings(json.loads(json.dumps(current, default=str)))
        changed = [k for k in DATA_SECTIONS if previous.get(k) != now.get(k)]
        if changed:
            raise RecipeError(
                f"{run.root} holds a run of a different recipe (sections changed: {', '.join(changed)}); "
                "delete it or set run_dir to a new folder"
            )
        log.info("resuming %s", run.root)
        return
    write_json(path, current)
    (run.root / "recipe.yaml").write_text(yaml.safe_dump(current, sort_keys=False, allow_unicode=True))


def _data_settings(recipe: dict[str, Any]) -> dict[str, Any]:
    """The recipe as far as it decides the data: the backend's runtime-only engine options aside,
    and keys that moved sections read where they are now (a folder made before the move resumes)."""
    recipe = dict(recipe)
    for (section, key), new in MOVED_KEYS.items():
        if key in (recipe.get(section) or {}):
            recipe[section] = dict(recipe[section])
            recipe.setdefault(new, recipe[section].pop(key))
    generate = {k: v for k, v in (recipe.get("generate") or {}).items() if k not in WHERE_KEYS}
    backend = BACKENDS.get(generate.get("backend", "vllm"))
    if backend is not None:
        generate["engine"] = {k: v for k, v in (generate.get("engine") or {}).items() if k not in backend.runtime_options}
    return {**recipe, "generate": generate}


def summarize(recipe: Recipe, run: RunDir) -> dict[str, Any]:
    """Counts for the CLI and ``summary.json``, all derived from the stage stats on disk."""

    def stage(step: str, name: str | None = None) -> StageStats:
        return step_stats(run, step).get(name or step, StageStats())

    read, gen, ver, sel = stage("read"), stage("generate"), stage("verify"), stage("select")
    filtered = StageStats()
    for name in ("decontaminate", "dedup_problems"):
        filtered.add(stage("read", name))
    tokens = gen.counters.get("completion_tokens", 0)
    verifiers = {name: ver.parts.get(name, StageStats()) for name in recipe.verify}
    return {
        "recipe": recipe.name,
        "run_dir": str(run.root),
        "problems": read.rows_out - sum(filtered.dropped.values()),
        "bad_rows": read.dropped.get("bad_row", 0),
        "traces": gen.rows_out,
        "truncated": gen.counters.get("finish_length", 0),
        "completion_tokens": tokens,
        "generate_seconds": round(gen.seconds, 2),
        "tokens_per_second": round(tokens / gen.seconds, 1) if gen.seconds else None,
        "pass_rate": {name: round(v.rows_out / v.rows_in, 4) if v.rows_in else None for name, v in verifiers.items()},
        "verdict_reasons": {
            name: dict(sorted({"ok": v.rows_out, **v.dropped}.items())) if v.rows_in else {} for name, v in verifiers.items()
        },
        "problems_filtered": dict(filtered.dropped),
        "pseudo_labelled": stage("vote").counters.get("problems_pseudo_labelled", 0),
        "kept": sel.rows_out,
        "rejected": sum(sel.dropped.values()),
        "reject_reasons": dict(sel.dropped.most_common()),
        "problems_with_kept": sel.parts.get("keep_k", StageStats()).counters.get("problems_with_kept", 0),
        "sft_dir": str(run.root / "export" / "sft"),
        "rejected_dir": str(run.root / "export" / "rejected"),
    }
