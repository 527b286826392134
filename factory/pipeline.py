"""Run a recipe: claim its run folder, build its plan, hand the plan to an executor, summarise.

What the steps are is :mod:`factory.plan`'s business; how shards are run, written and marked
done, :mod:`factory.executors`'. A rerun resumes where the last run stopped, step by step:

- the same recipe: every finished shard is kept;
- ``vote``, ``verify``, ``select`` or ``export`` changed: the first step that uses a changed
  section and every step after it run again, and nothing before it (no trace is regenerated);
  the summary's ``redone`` says which;
- engine settings that cannot change the sampled tokens (memory, batch sizes, parallelism,
  ``enforce_eager``: the backend's ``runtime_options``), ``executor`` (where shards run) and
  ``train``/``eval`` never matter;
- ``source``, ``decontaminate``, ``problem_dedup`` or ``generate`` changed (other problems, other
  prompts, another model, other sampling): refused, since the traces would have to be
  regenerated; use a new ``run_dir``.

One run at a time holds a run folder (a lock); a second ``factory run`` on it is refused. An
object store has no locks: a run folder there is locked on the machine that runs the driver only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from factory.backends import BACKENDS
from factory.executors import EXECUTORS, step_stats
from factory.plan import build_plan
from factory.recipe import MOVED_KEYS, Recipe, RecipeError, verifier_config
from factory.shards import RunDir
from factory.stages.base import StageStats

log = logging.getLogger(__name__)

# The sections that decide what the data run produces (in step order); train/eval settings may
# change freely without invalidating the data already made.
DATA_SECTIONS = ("source", "decontaminate", "problem_dedup", "generate", "vote", "verify", "judge", "select", "refine", "export")
# generate keys that say where the teacher answers, not what it samples (another server pool of
# the same model, a rotated key): a run folder resumes across them.
WHERE_KEYS = ("base_url", "api_key_env")


def run_recipe(recipe: Recipe, *, progress: bool = True, stop_after: str | None = None) -> dict[str, Any]:
    """Run (or resume) a recipe on the executor its ``executor`` section names; return its summary.

    ``stop_after`` ends the run after the named step (used to inspect or test partial runs).
    """
    run = RunDir(recipe.run_location)
    plan = build_plan(recipe)
    run_executor = EXECUTORS[recipe.executor.kind](run, progress, recipe.executor)
    with _lock(run):
        redone = _claim(run, recipe, plan, run_executor)
        run.write_json("plan.json", plan.describe())
        run_executor.run(plan, stop_after)
        summary = {**summarize(recipe, run), "redone": redone}
        run.write_json("summary.json", summary)
        if stop_after is None:
            summary["card"] = _write_card(run)
    return summary


def _write_card(run: RunDir) -> str | None:
    """The dataset card and plots (``factory report`` writes the same); a failure here costs no data."""
    from factory.report import write_report

    try:
        return write_report(run.location)
    except Exception:
        log.warning("could not write the dataset card of %s (the data is complete; try factory report)", run, exc_info=True)
        return None


@contextlib.contextmanager
def _lock(run: RunDir) -> Iterator[None]:
    """Hold the run folder for this process; the lock goes with the process, however it ends.
    A folder on an object store is locked by a file on this machine."""
    if run.local is not None:
        run.local.mkdir(parents=True, exist_ok=True)
        lock = run.local / ".lock"
    else:
        key = hashlib.sha256(run.address.encode()).hexdigest()[:16]
        lock = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "factory" / "locks" / f"{key}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise RecipeError(f"{run} is being written by another factory run (pid {holder}); "
                              "wait for it to finish or set run_dir to another folder") from None
        f.seek(0), f.truncate(), f.write(str(os.getpid())), f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _claim(run: RunDir, recipe: Recipe, plan: Any, executor: Any) -> list[str]:
    """Record the recipe in the run folder, comparing it with the one a previous run recorded.

    Returns the steps made stale by a changed section (forgotten here, so they run again); a
    change to a section the traces depend on is refused.
    """
    current = recipe.to_dict()
    redone: list[str] = []
    if run.exists("recipe.json"):
        previous = _data_settings(run.read_json("recipe.json"))
        now = _data_settings(json.loads(json.dumps(current, default=str)))
        changed = [k for k in DATA_SECTIONS if previous.get(k) != now.get(k)]
        stale = plan.affected_by(changed)
        fixed = [k for k in changed if any(k in step.sections and step.fixed for step in plan.steps)]
        if fixed:
            raise RecipeError(
                f"{run} holds a run of a different recipe (sections changed: {', '.join(fixed)}); its traces "
                "would have to be regenerated: delete the folder or set run_dir to a new one"
            )
        if stale:
            log.warning("%s: %s changed; redoing %s (every generated trace is kept)", run, ", ".join(changed),
                        ", ".join(s.name for s in stale))
            executor.invalidate(stale)
            redone = [s.name for s in stale]
        else:
            log.info("resuming %s", run)
    run.write_json("recipe.json", current)
    run.write_text("recipe.yaml", yaml.safe_dump(current, sort_keys=False, allow_unicode=True))
    return redone


def _data_settings(recipe: dict[str, Any]) -> dict[str, Any]:
    """The recipe as far as it decides the data: the backend's runtime-only engine options aside,
    and keys that moved sections read where they are now (a folder made before the move resumes)."""
    recipe = dict(recipe)
    for (section, key), new in MOVED_KEYS.items():
        if key in (recipe.get(section) or {}):
            recipe[section] = dict(recipe[section])
            recipe.setdefault(new, recipe[section].pop(key))
    if isinstance(recipe.get("verify"), dict):  # options as configs, defaults filled in (older folders kept only what was set)
        try:
            recipe["verify"] = {name: dataclasses.asdict(verifier_config(name, o)) for name, o in recipe["verify"].items()}
        except RecipeError:
            pass  # a verifier or option this version does not know: the comparison reports the section
    out = dict(recipe)
    for section in ("generate", "judge", "refine"):  # each a model on a backend
        if not isinstance(recipe.get(section), dict):
            continue
        settings = {k: v for k, v in recipe[section].items() if k not in WHERE_KEYS}
        backend = BACKENDS.get(settings.get("backend", "vllm"))
        if backend is not None:
            settings["engine"] = {k: v for k, v in (settings.get("engine") or {}).items() if k not in backend.runtime_options}
        out[section] = settings
    return out


def _model_stages(recipe: Recipe, judge: StageStats, sel: StageStats, refine: StageStats) -> dict[str, Any]:
    """What the judge, the ranking and the rewriter did (only the sections the recipe has)."""
    from factory.stages.judge import agreement

    out: dict[str, Any] = {}
    if recipe.judge is not None:
        out["judge"] = {
            "sent": judge.counters.get("sent", 0),
            "by_role": {role: {"judged": p.rows_in, "correct": p.rows_out, **p.dropped} for role, p in sorted(judge.parts.items())},
            "undecided_but_failed_rules": judge.counters.get("undecided_but_failed_rules", 0),
            **agreement(judge.counters),
        }
    if recipe.select.rank is not None:
        rank = sel.parts.get("rank", StageStats())
        out["rank"] = {"scored": rank.rows_out, "unscored": rank.counters.get("unscored", 0),
                       "judge_calls": rank.counters.get("judge_calls", 0)}
    if recipe.refine is not None:
        out["refine"] = {"sent": refine.rows_in, "refined": refine.counters.get("refined", 0),
                         "refused": {k.removeprefix("refused_"): v for k, v in refine.counters.items() if k.startswith("refused_")},
                         "kept_original": refine.counters.get("kept_original", 0)}
    return out


def summarize(recipe: Recipe, run: RunDir) -> dict[str, Any]:
    """Counts for the CLI and ``summary.json``, all derived from the stage stats on disk."""

    def stage(step: str, name: str | None = None) -> StageStats:
        return step_stats(run, step).get(name or step, StageStats())

    read, gen, ver, sel = stage("read"), stage("generate"), stage("verify"), stage("select")
    refine = stage("refine")
    refused = sum(refine.dropped.values())  # rewrites refused and rejected: kept by select, not exported
    filtered = StageStats()
    for name in ("decontaminate", "dedup_problems"):
        filtered.add(stage("read", name))
    tokens = gen.counters.get("completion_tokens", 0)
    verifiers = {name: ver.parts.get(name, StageStats()) for name in recipe.verify}
    return {
        "recipe": recipe.name,
        "run_dir": run.display(),
        "problems": read.rows_out - sum(filtered.dropped.values()),
        "bad_rows": read.dropped.get("bad_row", 0),
        "traces": gen.rows_out,
        "failed_problems": dict(gen.dropped),  # requests that got no samples (rows in traces_failed/), by reason
        "truncated": gen.counters.get("finish_length", 0),
        "completion_tokens": tokens,
        "generate_seconds": round(gen.seconds, 2),
        "tokens_per_second": round(tokens / gen.seconds, 1) if gen.seconds else None,
        "pass_rate": {name: round(v.rows_out / v.rows_in, 4) if v.rows_in else None for name, v in verifiers.items()},
        "pass_rate_by_domain": {
            name: {d: round(p.rows_out / p.rows_in, 4) for d, p in sorted(v.parts.items()) if p.rows_in} for name, v in verifiers.items()
        },
        "not_applicable": {name: v.counters.get("not_applicable", 0) for name, v in verifiers.items()},
        "verdict_reasons": {
            name: dict(sorted({"ok": v.rows_out, **v.dropped}.items())) if v.rows_in else {} for name, v in verifiers.items()
        },
        "problems_filtered": dict(filtered.dropped),
        "pseudo_labelled": stage("vote").counters.get("problems_pseudo_labelled", 0),
        "kept": sel.rows_out - refused,
        "rejected": sum(sel.dropped.values()) + refused,
        "reject_reasons": dict((sel.dropped + refine.dropped).most_common()),
        "problems_with_kept": (refine if recipe.refine is not None else sel.parts.get("keep_k", StageStats())).counters.get(
            "problems_with_kept", 0),
        **_model_stages(recipe, stage("judge"), sel, refine),
        "sft_dir": run.display("export", "sft"),
        "rejected_dir": run.display("export", "rejected"),
    }
