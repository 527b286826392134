"""Model phases chained in one recipe (``factory chain RECIPE``; ``factory loop`` is its default form).

A recipe's ``chain.phases`` lists what DeepSeek-R1's pipeline does to a model, in order, each
phase taking the previous phase's model (or dataset) and yielding a new one:

``rejection_sample``  ``factory run`` with the current model as the teacher: sample, verify,
                      select, export an SFT set (R1's stages 1 and 3: cold-start data, then
                      rejection sampling of the RL checkpoint)
``sft``               ``factory train``: fine-tune ``model`` (the previous model, the base, or a
                      named phase's) on a rejection_sample phase's set (R1's stages 1 and 4)
``grpo``              ``factory grpo``: RL with the recipe's verifiers as rewards (R1's stages 2, 5);
                      ``grpo.prompts.from`` may name a rejection_sample phase: its run's pass rates
                      choose the prompts (that phase is then one of the job's inputs)

Before the first phase and after every phase, the current model is evaluated (``factory eval``) on
``eval.problems`` with the recipe's own prompts, sampling and per-problem seeds, so every number in
the report is measured the same way; a phase's ``set`` (its own prompts, problems or sizes) never
reaches the evaluations.

Every phase and every evaluation is a job: a ``factory`` process of its own (so each vLLM engine
and trainer gives its memory back) writing into ``RUN_DIR/chain/NN-name/``, and a done marker
(``done.json``) written last. The marker holds the job's key: its kind, the recipe sections it reads
(``READS``), its model and data, and the keys of the jobs that made them. A rerun skips every job
whose marker has the same key, so a kill between jobs loses nothing and a kill inside one redoes only
that job; a job whose sections or inputs changed is redone, and so is every job that uses what it
makes. An override that only another job reads (a GRPO setting, a later phase) redoes nothing before it.

The report: ``chain.json``, ``chain.md`` and ``chain.png``: pass@1 with its standard error
after every phase, and the paired per-problem change against the first model and the previous phase.
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

from factory.errors import RecipeError
from factory.grpo import SUMMARY_FILE as GRPO_SUMMARY
from factory.grpo import check_grpo_config
from factory.recipe import SECTION_ORDER, ChainConfig, PhaseConfig, Recipe, load_recipe
from factory.shards import write_json
from factory.summary import RunSummary
from factory.train import SUMMARY_FILE as TRAIN_SUMMARY

log = logging.getLogger(__name__)

MARKER = "done.json"
REPORT = "chain"  # chain.json, chain.md, chain.png in the run folder
# `factory loop`: R1's stage 3 as self-distillation (rejection-sampling fine-tuning)
LOOP = ChainConfig(phases=[PhaseConfig(kind="rejection_sample"), PhaseConfig(kind="sft")])


@dataclass
class Job:
    """One unit of the chain: a ``factory`` command, its folder and what it yields."""

    name: str  # "base", a phase's label, or "<label>/eval"
    kind: str  # eval | rejection_sample | sft | grpo
    folder: Path
    args: list[str]  # the factory command line (without the interpreter)
    recipe: dict[str, Any]  # the recipe the command runs with (the sections it reads go into the key)
    model: str | None = None  # the model it yields (a model phase) or evaluates (eval)
    data: str | list[str] | None = None  # the SFT set it yields (rejection_sample) or trains on (sft: one or a list)
    phase: str | None = None  # the phase an evaluation belongs to
    inputs: list[str] = field(default_factory=list)  # the jobs that made its model and its data
    key: str = ""
    status: str = "pending"  # ran | reused
    seconds: float = 0.0


# The recipe sections each kind of job reads: only they (and its inputs) decide whether it is redone.
READS = {
    "eval": ("generate", "verify", "eval"),
    "rejection_sample": SECTION_ORDER,
    "sft": ("train",),
    "grpo": ("source", "generate", "verify", "grpo"),
}


def _reads(job: Job) -> tuple[str, ...]:
    """The sections a job reads: a grpo job that scores its student first makes a data run (every data section)."""
    prompts = (job.recipe.get("grpo") or {}).get("prompts")
    if job.kind == "grpo" and prompts is not None and prompts.get("from_") is None:
        return (*SECTION_ORDER, *READS["grpo"])
    return READS[job.kind]


def _key(job: Job, inputs: Sequence[str]) -> str:
    """The job's identity: its kind, the recipe sections it reads, its model and data, and the keys
    of the jobs that made them."""
    sections = {name: job.recipe.get(name) for name in _reads(job)}
    h = hashlib.sha256(
        json.dumps([job.kind, sections, job.model, job.data, list(inputs)], sort_keys=True, default=str).encode()
    )
    return h.hexdigest()[:16]


def chain_root(recipe: Recipe) -> Path:
    return recipe.output_dir / "chain"


def first_model(recipe: Recipe, chain: ChainConfig) -> str:
    if chain.model:
        return chain.model
    if recipe.train is not None and recipe.train.student:
        return recipe.train.student
    return recipe.generate.model


def plan_jobs(
    recipe_path: str | Path, overrides: Sequence[str], recipe: Recipe, chain: ChainConfig, quiet: bool = False
) -> list[Job]:
    """Every job of the chain, in order, with its command line; checks each phase's recipe
    (its ``set`` applied) and its ``grpo.config`` keys before anything runs."""

    root = chain_root(recipe)
    sets = [a for item in overrides for a in ("--set", item)]
    q = ["-q"] if quiet else []
    base = first_model(recipe, chain)
    models: dict[str, str] = {"base": base}
    datasets: dict[str, str] = {}
    runs: dict[str, str] = {}  # a rejection_sample phase -> its run folder
    current = base
    made_by: dict[str, str] = {}  # a model or data path -> the job that made it
    jobs: list[Job] = []
    plain = recipe.to_dict()

    def evaluation(name: str, folder: Path, model: str, phase: str | None) -> Job:
        out = folder / "eval"
        return Job(
            f"{name}/eval" if phase else name,
            "eval",
            out,
            ["eval", "--recipe", str(recipe_path), *sets, "--model", model, "--out", str(out)],
            plain,
            model=model,
            phase=phase,
            inputs=[made_by[model]] if model in made_by else [],
        )

    if chain.evaluate:
        jobs.append(evaluation("base", root / "00-base", base, None))
    for i, phase in enumerate(chain.phases, 1):
        folder = root / f"{i:02d}-{phase.label}"
        where = f"chain.phases[{i - 1}].set"
        own = [f"{k}={json.dumps(v)}" for k, v in phase.set.items()]  # JSON is YAML: the value as written
        if phase.kind == "rejection_sample":
            ours = [f"run_dir={folder / 'run'}", f"generate.model={current}"]
            data = str(folder / "run" / "export" / "sft")
            cmd, model, uses = "run", None, [current]
        elif phase.kind == "sft":
            student = current if phase.model == "previous" else models[phase.model]
            trained_on = [datasets[d] for d in phase.data_phases] or [list(datasets.values())[-1]]
            data = trained_on if isinstance(phase.data, list) else trained_on[0]
            model = str(folder / "model")
            ours = [
                f"train.student={student}",
                f"train.data={json.dumps(data) if isinstance(data, list) else data}",
                f"train.output_dir={model}",
            ]
            cmd, uses = "train", [student, *trained_on]
        else:  # grpo
            model, data = str(folder / "model"), None
            ours = [f"grpo.student={current}", f"grpo.output_dir={model}"]
            cmd, uses = "grpo", [current]
        try:
            phase_recipe = load_recipe(recipe_path, [*overrides, *own, *ours])
            if phase.kind == "grpo" and phase_recipe.grpo is not None and phase_recipe.grpo.prompts is not None:
                scored_by = _scored_by(phase_recipe.grpo.prompts.from_, chain.phases, i - 1)
                if scored_by is not None:  # that phase's run: its pass rates, and the job depends on it
                    ours.append(f"grpo.prompts.from={runs[scored_by]}")
                    uses.append(datasets[scored_by])
                    phase_recipe = load_recipe(recipe_path, [*overrides, *own, *ours])
        except RecipeError as e:
            raise RecipeError(f"{where}: {e}") from None
        if phase.kind == "grpo" and phase_recipe.grpo is not None:
            check_grpo_config(phase_recipe.grpo.config)
        phase_sets = [a for item in [*overrides, *own, *ours] for a in ("--set", item)]
        args = [cmd, str(recipe_path), *phase_sets, *(q if cmd == "run" else [])]
        jobs.append(
            Job(
                phase.label,
                phase.kind,
                folder,
                args,
                phase_recipe.to_dict(),
                model=model,
                data=data,
                inputs=[made_by[u] for u in uses if u in made_by],
            )
        )
        made_by[model or data] = phase.label
        if phase.kind == "rejection_sample":
            datasets[phase.label], runs[phase.label] = data, str(folder / "run")
        else:
            models[phase.label] = current = model
            if chain.evaluate:
                jobs.append(evaluation(phase.label, folder, model, phase.label))
    return jobs


def _scored_by(source: str | None, phases: Sequence[PhaseConfig], index: int) -> str | None:
    """The rejection_sample phase (before ``phases[index]``) that ``grpo.prompts.from`` names; None
    where it names a run folder, or nothing."""
    if source is None:
        return None
    if {p.label: p.kind for p in phases[:index]}.get(source) == "rejection_sample":
        return source
    if source in {p.label for p in phases} or source in ("base", "previous"):
        raise RecipeError(f"grpo.prompts.from: {source!r} is not an earlier rejection_sample phase (nor a run folder)")
    return None


def assign_keys(jobs: list[Job]) -> list[Job]:
    """Give every job its key (see ``_key``), in order: an input's key is known before its users'."""
    keys: dict[str, str] = {}
    for job in jobs:
        job.key = keys[job.name] = _key(job, [keys[n] for n in job.inputs])
    return jobs


def run_chain(
    recipe_path: str | Path,
    overrides: Sequence[str] = (),
    *,
    chain: ChainConfig | None = None,
    quiet: bool = False,
    verbose: bool = False,
) -> dict[str, Any]:
    """Run (or resume) the recipe's chain (or ``chain``); write and return its report."""
    recipe = load_recipe(recipe_path, overrides)
    chain = chain or recipe.chain
    if chain is None:
        raise RecipeError("chain.phases: the recipe lists no phases; factory loop runs the default pair")
    if chain.evaluate and (recipe.eval is None or recipe.eval.problems is None):
        raise RecipeError("eval.problems: a chain evaluates every phase's model on held-out problems; name them")
    jobs = plan_jobs(recipe_path, overrides, recipe, chain, quiet)
    env = _child_env()
    by_name = {s.name: s for s in assign_keys(jobs)}
    for job in jobs:
        inputs = [by_name[n] for n in job.inputs]
        marker = job.folder / MARKER
        done = _read_marker(marker)
        remade = any(s.status == "ran" for s in inputs)  # an input made again may differ, whatever its key
        if not remade and done is not None and done.get("key") == job.key:
            job.status, job.seconds = "reused", done.get("seconds", 0.0)
            print(f"== {job.name}: done before, skipped", flush=True)
            continue
        if job.kind != "eval" and (done is not None or job.folder.exists()):
            # an evaluation reuses its own folder when its settings match and reruns otherwise
            log.warning("%s: redoing (its recipe or inputs changed, or it did not finish)", job.name)
            _clear(job)
        command = [sys.executable, "-m", "factory.cli", *(["-v"] if verbose else []), *job.args]
        print(f"== {job.name}: factory {' '.join(job.args)}", flush=True)
        start = time.monotonic()
        result = subprocess.run(command, check=False, env=env)
        if result.returncode != 0:
            raise RuntimeError(
                f"chain job {job.name!r} failed (exit {result.returncode}): factory {' '.join(job.args)}"
            )
        job.status, job.seconds = "ran", round(time.monotonic() - start, 1)
        write_marker(marker, job)
    report = chain_report(recipe, jobs)
    write_json(recipe.output_dir / f"{REPORT}.json", report)
    (recipe.output_dir / f"{REPORT}.md").write_text(chain_markdown(report))
    try:
        plot_chain(report, recipe.output_dir / f"{REPORT}.png")
    except Exception:  # the numbers are in the JSON and Markdown
        log.warning("could not plot the chain report", exc_info=True)
    return report


def _child_env() -> dict[str, str]:
    """The environment of the job processes: this checkout's packages first on the path."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([here, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_marker(path: Path, job: Job) -> None:
    """The job's done marker, written last (atomically): a rerun skips the job."""
    write_json(
        path,
        {
            "key": job.key,
            "name": job.name,
            "kind": job.kind,
            "args": job.args,
            "model": job.model,
            "data": job.data,
            "seconds": job.seconds,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )


def _clear(job: Job) -> None:
    """Remove what an unfinished or outdated phase left (its evaluation, inside its folder, goes too)."""
    shutil.rmtree(job.folder, ignore_errors=True)


# -- the report ------------------------------------------------------------------------------------


def paired(
    before: dict[str, Any], after: dict[str, Any], source: str | None = None
) -> tuple[float | None, float | None, int]:
    """Mean per-problem pass@1 difference, its standard error, and the number of problems paired
    (with ``source``: over that source's problems only)."""
    pb, pa = before["per_problem"], after["per_problem"]
    common = sorted(p for p in set(pb) & set(pa) if source is None or _source(pa[p], pb[p]) == source)
    diffs = [pa[p]["correct"] / pa[p]["n"] - pb[p]["correct"] / pb[p]["n"] for p in common]
    mean = statistics.fmean(diffs) if diffs else None
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else None
    return mean, se, len(common)


def _source(*entries: dict[str, Any]) -> str | None:
    """A problem's source, from whichever evaluation recorded it (older metrics did not)."""
    return next((e["source"] for e in entries if e.get("source") is not None), None)


def by_source(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per source (a problem family): pass@1 after, and the paired change from ``before``."""
    rows = {}
    for source, m in after.get("by_source", {}).items():
        rows[source] = {"pass@1": m.get("pass@1")}
        if before is not None:
            d, se, n = paired(before, after, source)
            rows[source] |= {"delta_vs_previous": d, "delta_vs_previous_stderr": se, "paired_problems": n}
    return rows


def _phase_summary(job: Job) -> dict[str, Any]:
    """What a phase made: the data run's counts, the trainer's steps and loss, GRPO's rewards."""
    try:
        if job.kind == "rejection_sample":
            run = RunSummary.from_dict(json.loads((job.folder / "run" / "summary.json").read_text()))
            return {
                "problems": run.problems,
                "traces": run.traces,
                "kept": run.kept,
                "problems_with_kept": run.problems_with_kept,
                "pass_rate": run.pass_rate,
            }
        if job.kind == "sft":
            s = json.loads((Path(job.model) / TRAIN_SUMMARY).read_text())
            return {
                "rows": s["rows"],
                "steps": s["steps"],
                "train_loss": s["train_loss"],
                "train_seconds": s["seconds"],
                "student": s["settings"]["student"],
                "data": s["settings"]["data"],
            }
        if job.kind == "grpo":
            s = json.loads((Path(job.model) / GRPO_SUMMARY).read_text())
            keys = (
                "prompts",
                "prompts_seen",
                "steps",
                "generation",
                "reward_first",
                "reward_last",
                "reward_means",
                "frac_reward_zero_std_mean",
                "prompt_selection",
                "groups",
                "zero_variance_groups",
                "zero_variance",
                "beta",
            )
            return {k: s.get(k) for k in keys} | {"train_seconds": s.get("seconds")}
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        pass
    return {}


METRICS = ("pass@1", "pass@1_stderr", "format", "truncated", "reasoning_tokens_mean", "completion_tokens_mean")


def chain_report(recipe: Recipe, jobs: list[Job]) -> dict[str, Any]:
    rows = []
    evals: list[tuple[str, dict[str, Any]]] = []
    for job in jobs:
        if job.kind == "eval":
            m = json.loads((job.folder / "metrics.json").read_text())
            row: dict[str, Any] = {
                "after": job.phase or "base",
                "model": job.model,
                "status": job.status,
                "folder": str(job.folder),
            }
            row |= {k: m.get(k) for k in METRICS}
            row |= {k: v for k, v in m.items() if k.startswith(("pass@", "maj@")) and k not in row}
            row["by_source"] = by_source(evals[-1][1] if evals else None, m)
            if evals:
                for label, (_, ref) in (("vs_first", evals[0]), ("vs_previous", evals[-1])):
                    d, se, n = paired(ref, m)
                    row[f"delta_{label}"], row[f"delta_{label}_stderr"], row["paired_problems"] = d, se, n
            evals.append((row["after"], m))
            rows.append({"job": job.name, "kind": "eval", **row})
        else:
            rows.append(
                {
                    "job": job.name,
                    "kind": job.kind,
                    "status": job.status,
                    "seconds": job.seconds,
                    "folder": str(job.folder),
                    "model": job.model,
                    "data": job.data,
                    **_phase_summary(job),
                }
            )
    first = evals[0][1] if evals else None
    return {
        "recipe": recipe.name,
        "held_out": None
        if first is None
        else {
            "path": first["settings"]["problems"]["path"],
            "problems": first["problems"],
            "n": first["settings"]["n"],
            "sampling": first["settings"]["generate"]["sampling"],
        },
        "jobs": rows,
        "pass@1": {name: m["pass@1"] for name, m in evals},
    }


def _pct(x: float | None, signed: bool = False) -> str:
    return "-" if x is None else (f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}")


def chain_markdown(report: dict[str, Any]) -> str:
    held = report["held_out"]
    lines = [f"# Pipeline: {report['recipe']}", ""]
    if held:
        lines += [
            f"Held-out: {held['problems']} problems from `{held['path']}`, n={held['n']} samples each, sampling "
            f"{json.dumps(held['sampling'], sort_keys=True)}; "
            "the same prompts and per-problem seeds after every phase.",
            "",
        ]
    lines += [
        "| after | pass@1 (%) | ± s.e. | change vs first (paired ± s.e.) | change vs previous "
        "| format (%) | truncated (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["jobs"]:
        if s["kind"] != "eval":
            continue
        vs = [
            f"{_pct(s.get(f'delta_{k}'), True)} ± {_pct(s.get(f'delta_{k}_stderr'))}"
            if s.get(f"delta_{k}") is not None
            else "-"
            for k in ("vs_first", "vs_previous")
        ]
        lines.append(
            f"| {s['after']} | {_pct(s['pass@1'])} | {_pct(s['pass@1_stderr'])} | {vs[0]} | {vs[1]} | "
            f"{_pct(s.get('format'))} | {_pct(s.get('truncated'))} |"
        )
    lines += _source_table([s for s in report["jobs"] if s["kind"] == "eval"])
    lines += ["", "## Jobs", "", "| job | kind | status | wall seconds | what it made |", "|---|---|---|---|---|"]
    for s in report["jobs"]:
        if s["kind"] == "eval":
            continue
        lines.append(f"| {s['job']} | {s['kind']} | {s['status']} | {s['seconds']} | {_made(s)} |")
    return "\n".join(lines) + "\n"


def _source_table(evals: list[dict[str, Any]]) -> list[str]:
    """Per source: pass@1 after every evaluation, with its paired change against the one before."""
    sources = sorted({src for e in evals for src in e.get("by_source") or {}})
    if len(sources) < 2:
        return []
    lines = [
        "",
        "## By source",
        "",
        "pass@1 (%) per source, and the paired change (± s.e.) against the evaluation before.",
        "",
        "| source | " + " | ".join(e["after"] for e in evals) + " |",
        "|---|" + "---|" * len(evals),
    ]
    for src in sources:
        cells = []
        for e in evals:
            cell = (e.get("by_source") or {}).get(src, {})
            text = _pct(cell.get("pass@1"))
            if cell.get("delta_vs_previous") is not None:
                text += f" ({_pct(cell['delta_vs_previous'], True)} ± {_pct(cell.get('delta_vs_previous_stderr'))})"
            cells.append(text)
        lines.append(f"| {src} | " + " | ".join(cells) + " |")
    return lines


def comparison_markdown(before: dict[str, Any], after: dict[str, Any], labels: tuple[str, str]) -> str:
    """Two evaluations of the same problems (``factory eval --against``): pass@1 of each, the paired
    change, and the same per source."""
    d, se, n = paired(before, after)
    lines = [
        f"pass@1 {labels[0]} {_pct(before['pass@1'])} %, {labels[1]} {_pct(after['pass@1'])} %: "
        f"change {_pct(d, True)} ± {_pct(se)} points (paired over {n} problems)",
    ]
    rows = [
        {"after": labels[0], "by_source": by_source(None, before)},
        {"after": labels[1], "by_source": by_source(before, after)},
    ]
    return "\n".join(lines + _source_table(rows)) + "\n"


def _made(s: dict[str, Any]) -> str:
    if s["kind"] == "rejection_sample" and "kept" in s:
        rate = ", ".join(f"{k} {_pct(v)} %" for k, v in (s.get("pass_rate") or {}).items())
        return (
            f"{s['kept']} rows from {s['problems_with_kept']} of {s['problems']} problems "
            f"({s['traces']} traces; pass rate {rate})"
        )
    if s["kind"] == "sft" and "rows" in s:
        return f"{s['steps']} steps on {s['rows']} rows, train loss {s['train_loss']:.3f}; from `{s['student']}`"
    if s["kind"] == "grpo" and "steps" in s:
        first, last = s.get("reward_first"), s.get("reward_last")
        reward = (
            f"reward {first:.3f} → {last:.3f} (first/last 10 steps)" if first is not None and last is not None else ""
        )
        seen = f"{s['prompts_seen']} of " if s.get("prompts_seen") else ""
        made = f"{s['steps']} steps ({seen}{s['prompts']} prompts), {reward}; generation: {s['generation']}"
        chosen = s.get("prompt_selection")
        if chosen:
            lo, hi = chosen["pass_rate"]
            made += f"; prompts: {chosen['selected']} of {chosen['problems']} with pass rate in [{lo}, {hi}]"
        if s.get("groups"):
            made += f"; zero-variance groups {s['zero_variance_groups']} of {s['groups']} ({s['zero_variance']})"
        if s.get("beta"):
            made += f"; β {s['beta']}"
        return made
    return ""


def plot_chain(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [s for s in report["jobs"] if s["kind"] == "eval"]
    if not rows:
        return
    x = list(range(len(rows)))
    y = [100 * (s["pass@1"] or 0.0) for s in rows]
    err = [100 * (s["pass@1_stderr"] or 0.0) for s in rows]
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(rows)), 4))
    ax.errorbar(x, y, yerr=err, marker="o", capsize=4)
    for xi, yi in zip(x, y, strict=True):
        ax.annotate(f"{yi:.1f}", (xi, yi), textcoords="offset points", xytext=(6, 6))
    ax.set_xticks(x, [s["after"] for s in rows], rotation=20)
    ax.set_ylabel("pass@1 (%) ± s.e.")
    ax.set_title(f"{report['recipe']}: pass@1 after each phase")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
