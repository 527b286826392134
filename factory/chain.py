"""Stages chained in one recipe (``factory pipeline RECIPE``; ``factory loop`` is its default form).

A recipe's ``pipeline.stages`` lists what DeepSeek-R1's pipeline does to a model, in order, each
stage taking the previous stage's model (or dataset) and yielding a new one:

``rejection_sample``  ``factory run`` with the current model as the teacher: sample, verify,
                      select, export an SFT set (R1's stages 1 and 3: cold-start data, then
                      rejection sampling of the RL checkpoint)
``sft``               ``factory train``: fine-tune ``model`` (the previous model, the base, or a
                      named stage's) on a rejection_sample stage's set (R1's stages 1 and 4)
``grpo``              ``factory grpo``: RL with the recipe's verifiers as rewards (R1's stages 2, 5)

Before the first stage and after every stage, the current model is evaluated (``factory eval``) on
``eval.problems`` with the recipe's own prompts, sampling and per-problem seeds, so every number in
the report is measured the same way; a stage's ``set`` (its own prompts, problems or sizes) never
reaches the evaluations.

Every stage and every evaluation is a step: a ``factory`` process of its own (so each vLLM engine
and trainer gives its memory back) writing into ``RUN_DIR/pipeline/NN-name/``, and a done marker
(``done.json``) written last. The marker holds the step's key: its kind, the recipe sections it reads
(``READS``), its model and data, and the keys of the steps that made them. A rerun skips every step
whose marker has the same key, so a kill between steps loses nothing and a kill inside one redoes only
that step; a step whose sections or inputs changed is redone, and so is every step that uses what it
makes. An override that only another step reads (a GRPO setting, a later stage) redoes nothing before it.

The report: ``pipeline.json``, ``pipeline.md`` and ``pipeline.png``: pass@1 with its standard error
after every stage, and the paired per-problem change against the first model and the previous stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.pipeline import DATA_SECTIONS
from factory.recipe import PipelineConfig, Recipe, RecipeError, StageConfig, load_recipe
from factory.shards import write_json

log = logging.getLogger(__name__)

MARKER = "done.json"
REPORT = "pipeline"  # pipeline.json, pipeline.md, pipeline.png in the run folder
# `factory loop`: R1's stage 3 as self-distillation (rejection-sampling fine-tuning)
LOOP = PipelineConfig(stages=[StageConfig(kind="rejection_sample"), StageConfig(kind="sft")])


@dataclass
class Step:
    """One unit of the chain: a ``factory`` command, its folder and what it yields."""

    name: str  # "base", a stage's label, or "<label>/eval"
    kind: str  # eval | rejection_sample | sft | grpo
    folder: Path
    args: list[str]  # the factory command line (without the interpreter)
    recipe: dict[str, Any]  # the recipe the command runs with (the sections it reads go into the key)
    model: str | None = None  # the model it yields (a model stage) or evaluates (eval)
    data: str | list[str] | None = None  # the SFT set it yields (rejection_sample) or trains on (sft: one or a list)
    stage: str | None = None  # the stage an evaluation belongs to
    inputs: list[str] = field(default_factory=list)  # the steps that made its model and its data
    key: str = ""
    status: str = "pending"  # ran | reused
    seconds: float = 0.0


# The recipe sections each kind of step reads: only they (and its inputs) decide whether it is redone.
READS = {
    "eval": ("generate", "verify", "eval"),
    "rejection_sample": DATA_SECTIONS,
    "sft": ("train",),
    "grpo": ("source", "generate", "verify", "grpo"),
}


def _key(step: Step, inputs: Sequence[str]) -> str:
    """The step's identity: its kind, the recipe sections it reads, its model and data, and the keys
    of the steps that made them."""
    sections = {name: step.recipe.get(name) for name in READS[step.kind]}
    h = hashlib.sha256(json.dumps([step.kind, sections, step.model, step.data, list(inputs)], sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def chain_root(recipe: Recipe) -> Path:
    return recipe.output_dir / "pipeline"


def first_model(recipe: Recipe, pipeline: PipelineConfig) -> str:
    if pipeline.model:
        return pipeline.model
    if recipe.train is not None and recipe.train.student:
        return recipe.train.student
    return recipe.generate.model


def plan_steps(
    recipe_path: str | Path, overrides: Sequence[str], recipe: Recipe, pipeline: PipelineConfig, quiet: bool = False
) -> list[Step]:
    """Every step of the chain, in order, with its command line; checks each stage's recipe
    (its ``set`` applied) and its ``grpo.config`` keys before anything runs."""
    from factory.grpo import check_grpo_config

    root = chain_root(recipe)
    sets = [a for item in overrides for a in ("--set", item)]
    q = ["-q"] if quiet else []
    base = first_model(recipe, pipeline)
    models: dict[str, str] = {"base": base}
    datasets: dict[str, str] = {}
    current = base
    made_by: dict[str, str] = {}  # a model or data path -> the step that made it
    steps: list[Step] = []
    plain = recipe.to_dict()

    def evaluation(name: str, folder: Path, model: str, stage: str | None) -> Step:
        out = folder / "eval"
        return Step(f"{name}/eval" if stage else name, "eval", out,
                    ["eval", "--recipe", str(recipe_path), *sets, "--model", model, "--out", str(out)],
                    plain, model=model, stage=stage, inputs=[made_by[model]] if model in made_by else [])

    if pipeline.evaluate:
        steps.append(evaluation("base", root / "00-base", base, None))
    for i, stage in enumerate(pipeline.stages, 1):
        folder = root / f"{i:02d}-{stage.label}"
        where = f"pipeline.stages[{i - 1}].set"
        own = [f"{k}={json.dumps(v)}" for k, v in stage.set.items()]  # JSON is YAML: the value as written
        if stage.kind == "rejection_sample":
            ours = [f"run_dir={folder / 'run'}", f"generate.model={current}"]
            data = str(folder / "run" / "export" / "sft")
            cmd, model, uses = "run", None, [current]
        elif stage.kind == "sft":
            student = current if stage.model == "previous" else models[stage.model]
            trained_on = [datasets[d] for d in stage.data_stages] or [list(datasets.values())[-1]]
            data = trained_on if isinstance(stage.data, list) else trained_on[0]
            model = str(folder / "model")
            ours = [f"train.student={student}", f"train.data={json.dumps(data) if isinstance(data, list) else data}", f"train.output_dir={model}"]
            cmd, uses = "train", [student, *trained_on]
        else:  # grpo
            model, data = str(folder / "model"), None
            ours = [f"grpo.student={current}", f"grpo.output_dir={model}"]
            cmd, uses = "grpo", [current]
        try:
            stage_recipe = load_recipe(recipe_path, [*overrides, *own, *ours])
        except RecipeError as e:
            raise RecipeError(f"{where}: {e}") from None
        if stage.kind == "grpo" and stage_recipe.grpo is not None:
            check_grpo_config(stage_recipe.grpo.config)
        stage_sets = [a for item in [*overrides, *own, *ours] for a in ("--set", item)]
        args = [cmd, str(recipe_path), *stage_sets, *(q if cmd == "run" else [])]
        steps.append(Step(stage.label, stage.kind, folder, args, stage_recipe.to_dict(), model=model, data=data,
                          inputs=[made_by[u] for u in uses if u in made_by]))
        made_by[model or data] = stage.label
        if stage.kind == "rejection_sample":
            datasets[stage.label] = data
        else:
            models[stage.label] = current = model
            if pipeline.evaluate:
                steps.append(evaluation(stage.label, folder, model, stage.label))
    return steps


def assign_keys(steps: list[Step]) -> list[Step]:
    """Give every step its key (see ``_key``), in order: an input's key is known before its users'."""
    keys: dict[str, str] = {}
    for step in steps:
        step.key = keys[step.name] = _key(step, [keys[n] for n in step.inputs])
    return steps


def run_chain(
    recipe_path: str | Path,
    overrides: Sequence[str] = (),
    *,
    pipeline: PipelineConfig | None = None,
    quiet: bool = False,
    verbose: bool = False,
) -> dict[str, Any]:
    """Run (or resume) the recipe's pipeline (or ``pipeline``); write and return its report."""
    recipe = load_recipe(recipe_path, overrides)
    pipeline = pipeline or recipe.pipeline
    if pipeline is None:
        raise RecipeError("pipeline: the recipe lists no stages (pipeline.stages); factory loop runs the default pair")
    if pipeline.evaluate and (recipe.eval is None or recipe.eval.problems is None):
        raise RecipeError("eval.problems: a pipeline evaluates every stage on held-out problems; name them")
    steps = plan_steps(recipe_path, overrides, recipe, pipeline, quiet)
    env = _child_env()
    by_name = {s.name: s for s in assign_keys(steps)}
    for step in steps:
        inputs = [by_name[n] for n in step.inputs]
        marker = step.folder / MARKER
        done = _read_marker(marker)
        remade = any(s.status == "ran" for s in inputs)  # an input made again may differ, whatever its key
        if not remade and done is not None and done.get("key") == step.key:
            step.status, step.seconds = "reused", done.get("seconds", 0.0)
            print(f"== {step.name}: done before, skipped", flush=True)
            continue
        if step.kind != "eval" and (done is not None or step.folder.exists()):
            # an evaluation reuses its own folder when its settings match and reruns otherwise
            log.warning("%s: redoing (its recipe or inputs changed, or it did not finish)", step.name)
            _clear(step)
        command = [sys.executable, "-m", "factory.cli", *(["-v"] if verbose else []), *step.args]
        print(f"== {step.name}: factory {' '.join(step.args)}", flush=True)
        start = time.monotonic()
        result = subprocess.run(command, check=False, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"pipeline step {step.name!r} failed (exit {result.returncode}): factory {' '.join(step.args)}")
        step.status, step.seconds = "ran", round(time.monotonic() - start, 1)
        write_marker(marker, step)
    report = chain_report(recipe, steps)
    write_json(recipe.output_dir / f"{REPORT}.json", report)
    (recipe.output_dir / f"{REPORT}.md").write_text(chain_markdown(report))
    try:
        plot_chain(report, recipe.output_dir / f"{REPORT}.png")
    except Exception:  # the numbers are in the JSON and Markdown
        log.warning("could not plot the pipeline report", exc_info=True)
    return report


def _child_env() -> dict[str, str]:
    """The environment of the step processes: this checkout's packages first on the path."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([here, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_marker(path: Path, step: Step) -> None:
    """The step's done marker, written last (atomically): a rerun skips the step."""
    write_json(path, {"key": step.key, "name": step.name, "kind": step.kind, "args": step.args,
                      "model": step.model, "data": step.data, "seconds": step.seconds,
                      "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def _clear(step: Step) -> None:
    """Remove what an unfinished or outdated stage left (its evaluation, inside its folder, goes too)."""
    shutil.rmtree(step.folder, ignore_errors=True)


# -- the report ------------------------------------------------------------------------------------


def paired(before: dict[str, Any], after: dict[str, Any]) -> tuple[float | None, float | None, int]:
    """Mean per-problem pass@1 difference, its standard error, and the number of problems paired."""
    pb, pa = before["per_problem"], after["per_problem"]
    common = sorted(set(pb) & set(pa))
    diffs = [pa[p]["correct"] / pa[p]["n"] - pb[p]["correct"] / pb[p]["n"] for p in common]
    mean = statistics.fmean(diffs) if diffs else None
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else None
    return mean, se, len(common)


def _stage_summary(step: Step) -> dict[str, Any]:
    """What a stage made: the data run's counts, the trainer's steps and loss, GRPO's rewards."""
    try:
        if step.kind == "rejection_sample":
            s = json.loads((step.folder / "run" / "summary.json").read_text())
            return {k: s.get(k) for k in ("problems", "traces", "kept", "problems_with_kept", "pass_rate")}
        if step.kind == "sft":
            from factory.train import SUMMARY_FILE

            s = json.loads((Path(step.model) / SUMMARY_FILE).read_text())
            return {"rows": s["rows"], "steps": s["steps"], "train_loss": s["train_loss"], "train_seconds": s["seconds"],
                    "student": s["settings"]["student"], "data": s["settings"]["data"]}
        if step.kind == "grpo":
            from factory.grpo import SUMMARY_FILE

            s = json.loads((Path(step.model) / SUMMARY_FILE).read_text())
            keys = ("prompts", "prompts_seen", "steps", "generation", "reward_first", "reward_last", "reward_means",
                    "frac_reward_zero_std_mean")
            return {k: s.get(k) for k in keys} | {"train_seconds": s.get("seconds")}
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        pass
    return {}


METRICS = ("pass@1", "pass@1_stderr", "format", "truncated", "reasoning_tokens_mean", "completion_tokens_mean")


def chain_report(recipe: Recipe, steps: list[Step]) -> dict[str, Any]:
    stages = []
    evals: list[tuple[str, dict[str, Any]]] = []
    for step in steps:
        if step.kind == "eval":
            m = json.loads((step.folder / "metrics.json").read_text())
            row: dict[str, Any] = {"after": step.stage or "base", "model": step.model, "status": step.status,
                                   "folder": str(step.folder)}
            row |= {k: m.get(k) for k in METRICS}
            row |= {k: v for k, v in m.items() if k.startswith(("pass@", "maj@")) and k not in row}
            if evals:
                for label, (_, ref) in (("vs_first", evals[0]), ("vs_previous", evals[-1])):
                    d, se, n = paired(ref, m)
                    row[f"delta_{label}"], row[f"delta_{label}_stderr"], row["paired_problems"] = d, se, n
            evals.append((row["after"], m))
            stages.append({"step": step.name, "kind": "eval", **row})
        else:
            stages.append({"step": step.name, "kind": step.kind, "status": step.status, "seconds": step.seconds,
                           "folder": str(step.folder), "model": step.model, "data": step.data, **_stage_summary(step)})
    first = evals[0][1] if evals else None
    return {
        "recipe": recipe.name,
        "held_out": None if first is None else {
            "path": first["settings"]["problems"]["path"], "problems": first["problems"], "n": first["settings"]["n"],
            "sampling": first["settings"]["generate"]["sampling"],
        },
        "steps": stages,
        "pass@1": {name: m["pass@1"] for name, m in evals},
    }


def _pct(x: float | None, signed: bool = False) -> str:
    return "-" if x is None else (f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}")


def chain_markdown(report: dict[str, Any]) -> str:
    held = report["held_out"]
    lines = [f"# Pipeline: {report['recipe']}", ""]
    if held:
        lines += [f"Held-out: {held['problems']} problems from `{held['path']}`, n={held['n']} samples each, sampling "
                  f"{json.dumps(held['sampling'], sort_keys=True)}; the same prompts and per-problem seeds after every stage.", ""]
    lines += ["| after | pass@1 (%) | ± s.e. | change vs first (paired ± s.e.) | change vs previous | format (%) | truncated (%) |",
              "|---|---|---|---|---|---|---|"]
    for s in report["steps"]:
        if s["kind"] != "eval":
            continue
        vs = [f"{_pct(s.get(f'delta_{k}'), True)} ± {_pct(s.get(f'delta_{k}_stderr'))}" if s.get(f"delta_{k}") is not None else "-"
              for k in ("vs_first", "vs_previous")]
        lines.append(f"| {s['after']} | {_pct(s['pass@1'])} | {_pct(s['pass@1_stderr'])} | {vs[0]} | {vs[1]} | "
                     f"{_pct(s.get('format'))} | {_pct(s.get('truncated'))} |")
    lines += ["", "## Stages", "", "| stage | kind | status | wall seconds | what it made |", "|---|---|---|---|---|"]
    for s in report["steps"]:
        if s["kind"] == "eval":
            continue
        lines.append(f"| {s['step']} | {s['kind']} | {s['status']} | {s['seconds']} | {_made(s)} |")
    return "\n".join(lines) + "\n"


def _made(s: dict[str, Any]) -> str:
    if s["kind"] == "rejection_sample" and "kept" in s:
        rate = ", ".join(f"{k} {_pct(v)} %" for k, v in (s.get("pass_rate") or {}).items())
        return f"{s['kept']} rows from {s['problems_with_kept']} of {s['problems']} problems ({s['traces']} traces; pass rate {rate})"
    if s["kind"] == "sft" and "rows" in s:
        return f"{s['steps']} steps on {s['rows']} rows, train loss {s['train_loss']:.3f}; from `{s['student']}`"
    if s["kind"] == "grpo" and "steps" in s:
        first, last = s.get("reward_first"), s.get("reward_last")
        reward = f"reward {first:.3f} → {last:.3f} (first/last 10 steps)" if first is not None and last is not None else ""
        seen = f"{s['prompts_seen']} of " if s.get("prompts_seen") else ""
        return f"{s['steps']} steps ({seen}{s['prompts']} prompts), {reward}; generation: {s['generation']}"
    return ""


def plot_chain(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [s for s in report["steps"] if s["kind"] == "eval"]
    if not rows:
        return
    x = list(range(len(rows)))
    y = [100 * (s["pass@1"] or 0.0) for s in rows]
    err = [100 * (s["pass@1_stderr"] or 0.0) for s in rows]
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(rows)), 4))
    ax.errorbar(x, y, yerr=err, marker="o", capsize=4)
    for xi, yi in zip(x, y):
        ax.annotate(f"{yi:.1f}", (xi, yi), textcoords="offset points", xytext=(6, 6))
    ax.set_xticks(x, [s["after"] for s in rows], rotation=20)
    ax.set_ylabel("pass@1 (%) ± s.e.")
    ax.set_title(f"{report['recipe']}: pass@1 after each stage")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
