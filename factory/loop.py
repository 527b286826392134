"""The R1-style loop in one command: ``factory loop RECIPE``.

It is the default chain (:mod:`factory.chain`) ``[rejection_sample, sft]``, each phase
evaluated, so it runs as

1. evaluate the student as it is on the held-out problems (``eval.problems``);
2. run the recipe with the student as the teacher: sample, verify, select and export traces on the
   training split (``source``);
3. fine-tune the student on the exported set (``train``);
4. evaluate the trained student on the same held-out problems, with the same prompts and seeds;

each a job: a ``factory`` process of its own with a done marker, under ``RUN_DIR/chain/`` (a rerun
after a crash redoes only what is missing). Besides the chain's report (``chain.json``,
``chain.md``, ``chain.png``) it writes ``loop.json`` and ``loop.md`` into the run folder:
before/after pass@1 with their sample sizes, the paired per-problem difference with its standard
error, and the run's settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from factory.chain import LOOP, paired, run_chain
from factory.errors import RecipeError
from factory.evaluate import difficulty_table
from factory.recipe import Recipe, load_recipe
from factory.shards import write_json
from factory.summary import RunSummary
from factory.train import SUMMARY_FILE

log = logging.getLogger(__name__)


def eval_root(recipe: Recipe) -> Path:
    ev = recipe.eval
    return Path(ev.output_dir) if ev is not None and ev.output_dir else recipe.output_dir / "eval"


def run_loop(
    recipe_path: str | Path, overrides: Sequence[str] = (), quiet: bool = False, verbose: bool = False
) -> dict[str, Any]:
    recipe = load_recipe(recipe_path, overrides)
    if recipe.eval is None or recipe.eval.problems is None:
        raise RecipeError("eval.problems: the loop needs held-out problems to evaluate before and after training")
    report = run_chain(recipe_path, overrides, chain=LOOP, quiet=quiet, verbose=verbose)
    jobs = {s["job"]: s for s in report["jobs"]}
    before = json.loads((Path(jobs["base"]["folder"]) / "metrics.json").read_text())
    after = json.loads((Path(jobs["sft/eval"]["folder"]) / "metrics.json").read_text())
    summary = RunSummary.from_dict(
        json.loads((Path(jobs["rejection_sample"]["folder"]) / "run" / "summary.json").read_text())
    )
    trained = json.loads((Path(jobs["sft"]["model"]) / SUMMARY_FILE).read_text())
    result = compare(before, after)
    result["data"] = {
        "problems": summary.problems,
        "traces": summary.traces,
        "kept": summary.kept,
        "problems_with_kept": summary.problems_with_kept,
        "pass_rate": summary.pass_rate,
    }
    result["train"] = {k: trained[k] for k in ("rows", "steps", "train_loss", "seconds", "sft_config", "lora")}
    result["recipe"] = recipe.name
    write_json(recipe.output_dir / "loop.json", result)
    (recipe.output_dir / "loop.md").write_text(loop_markdown(result, before, after))
    return result


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Before/after metrics and the paired per-problem pass@1 difference (with its standard error)."""

    pb, pa = before["per_problem"], after["per_problem"]
    common = sorted(set(pb) & set(pa))
    diffs = [pa[p]["correct"] / pa[p]["n"] - pb[p]["correct"] / pb[p]["n"] for p in common]
    delta, stderr, problems = paired(before, after)
    keys = [k for k in before if k.startswith(("pass@", "maj@", "format", "reasoning_tokens_mean", "truncated"))]
    return {
        "problems": problems,
        "samples_before": before["samples"],
        "samples_after": after["samples"],
        "before": {k: before.get(k) for k in keys},
        "after": {k: after.get(k) for k in keys},
        "delta_pass@1": delta,
        "delta_pass@1_stderr": stderr,
        "problems_improved": sum(d > 0 for d in diffs),
        "problems_worse": sum(d < 0 for d in diffs),
        "models": {"before": before["settings"]["model"], "after": after["settings"]["model"]},
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def loop_markdown(result: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> str:
    s = before["settings"]
    d, se = result["delta_pass@1"], result["delta_pass@1_stderr"]
    rows = [
        k
        for k in result["before"]
        if k.startswith(("pass@", "maj@", "format", "truncated")) and not k.endswith("stderr")
    ]
    lines = [
        f"# Loop: {result['recipe']}",
        "",
        f"Held-out: {result['problems']} problems from `{s['problems']['path']}`, n={s['n']} samples each "
        f"({result['samples_before']} samples before, {result['samples_after']} after), sampling "
        f"{json.dumps(s['generate']['sampling'], sort_keys=True)}, same prompts and per-problem seeds.",
        f"Training data: {result['data']['kept']} kept traces from {result['data']['problems_with_kept']} of "
        f"{result['data']['problems']} training problems ({result['data']['traces']} sampled); "
        f"SFT {result['train']['steps']} steps, final train loss {result['train']['train_loss']:.3f}.",
        "",
        "| metric (%) | before | after | change |",
        "|---|---|---|---|",
    ]
    for k in rows:
        b, a = result["before"].get(k), result["after"].get(k)
        change = "-" if a is None or b is None else f"{100 * (a - b):+.1f}"
        lines.append(f"| {k} | {_pct(b)} | {_pct(a)} | {change} |")
    rt_b, rt_a = result["before"].get("reasoning_tokens_mean"), result["after"].get("reasoning_tokens_mean")
    lines.append(
        f"| reasoning tokens (mean) | {rt_b if rt_b is None else round(rt_b)} "
        f"| {rt_a if rt_a is None else round(rt_a)} | |"
    )
    lines += [
        "",
        f"pass@1 change {100 * d:+.1f} points"
        + (f" ± {100 * se:.1f} (s.e., paired over problems)" if se is not None else "")
        + f"; {result['problems_improved']} problems improved, {result['problems_worse']} got worse.",
    ]
    for title, label, table in (
        ("By difficulty", "difficulty", difficulty_table(before)),
        ("By source", "source", before["by_source"]),
    ):
        if not table:
            continue
        lines += ["", f"## {title} (pass@1 %)", "", f"| {label} | problems | before | after |", "|---|---|---|---|"]
        other = after[f"by_{label}"]
        for name, m in table.items():
            lines.append(
                f"| {name} | {m['problems']} | {_pct(m['pass@1'])} | {_pct(other.get(name, {}).get('pass@1'))} |"
            )
    return "\n".join(lines) + "\n"
