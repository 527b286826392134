"""The dataset card of a run: ``factory report RUN_DIR`` writes ``RUN_DIR/README.md`` and plots.

Every number comes from the run folder: stage counts from the stats the pipeline wrote
(``stats/*.json``, ``_markers/``), distributions from one streaming pass over ``selected/``
(a few columns, a batch at a time), decontamination hits and duplicate problems from
``problems_rejected/``. The card starts with the YAML header the Hugging Face Hub reads
(``configs`` points at ``export/sft``), and the plots are PNGs drawn with matplotlib's Agg
backend: pass-rate histogram, reasoning-length histogram for kept and rejected traces, kept rows
per source.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from factory.executors import step_stats
from factory.shards import RunDir
from factory.stages.judge import agreement

log = logging.getLogger(__name__)

PASS_RATE_BINS = np.linspace(0.0, 1.0, 11)


@dataclass
class SourceCounts:
    problems: int = 0
    traces: int = 0
    kept: int = 0
    problems_with_kept: int = 0


@dataclass
class RunData:
    """What the card says, gathered from a run folder."""

    run: RunDir
    recipe: dict[str, Any]
    plan: dict[str, Any]  # plan.json: the steps, their stages and the select policies, in order
    stages: dict[str, dict[str, Any]]  # stage name -> summed stats, in the plan's order
    reject_reasons: Counter[str] = field(default_factory=Counter)
    sources: dict[str, SourceCounts] = field(default_factory=dict)
    pass_rates: np.ndarray = field(default_factory=lambda: np.zeros(0))  # one per problem
    kept_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rejected_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    languages: Counter[str] = field(default_factory=Counter)
    problems_rejected: list[dict[str, Any]] = field(default_factory=list)
    pseudo_labelled: int = 0
    sft_rows: int = 0
    pair_rows: int = 0  # export/pairs: preference pairs (export.pairs)

    @property
    def traces(self) -> int:
        return sum(s.traces for s in self.sources.values())

    @property
    def kept(self) -> int:
        return sum(s.kept for s in self.sources.values())

    @property
    def problems(self) -> int:
        return sum(s.problems for s in self.sources.values())


def collect(run_dir: str | Path) -> RunData:
    """Read everything the card needs from ``run_dir`` (streaming over the trace shards)."""
    run = RunDir(run_dir)
    if not run.exists("recipe.json"):
        raise ValueError(f"{run} is not a run folder (no recipe.json)")
    recipe = run.read_json("recipe.json")
    plan = run.read_json("plan.json")
    stages: dict[str, dict[str, Any]] = {}
    for step in plan["steps"]:  # a step that stopped part way: the sum of its finished shards
        stats = step_stats(run, step["name"])
        for stage in step["stages"]:
            if stage["name"] in stats:
                stages[stage["name"]] = stats[stage["name"]].to_dict()
    data = RunData(run=run, recipe=recipe, plan=plan, stages=stages)
    _scan_selected(data, run)
    for path in run.shards("problems_rejected"):
        data.problems_rejected += (
            run.parquet(path).read(columns=["id", "source", "prompt", "reject_reason", "reject_details"]).to_pylist()
        )
    for path in run.shards("problems_scored"):
        table = run.parquet(path).read(columns=["pseudo_label"])
        data.pseudo_labelled += sum(bool(x) for x in table.column("pseudo_label").to_pylist())
    data.sft_rows = sum(run.parquet(p).metadata.num_rows for p in run.shards("export/sft"))
    data.pair_rows = sum(run.parquet(p).metadata.num_rows for p in run.shards("export/pairs"))
    return data


def _scan_selected(data: RunData, run: RunDir) -> None:
    columns = ["problem_id", "source", "language", "pass_rate", "keep", "reject_reason", "completion_tokens"]
    rates: list[float] = []
    kept_tokens: list[np.ndarray] = []
    rejected_tokens: list[np.ndarray] = []
    folder = "refined" if (data.recipe.get("refine") and run.shards("refined")) else "selected"  # what the export read
    for path in run.shards(folder):
        last_problem, last_kept = None, False
        for batch in run.parquet(path).iter_batches(columns=columns, batch_size=65536):
            cols = batch.to_pydict()
            keep = np.array(cols["keep"], dtype=bool)
            tokens = np.array(cols["completion_tokens"], dtype=np.int64)
            kept_tokens.append(tokens[keep])
            rejected_tokens.append(tokens[~keep])
            data.reject_reasons.update(r for r in cols["reject_reason"] if r is not None)
            data.languages.update(cols["language"])
            for pid, source, rate, k in zip(
                cols["problem_id"], cols["source"], cols["pass_rate"], cols["keep"], strict=True
            ):
                counts = data.sources.setdefault(source, SourceCounts())
                counts.traces += 1
                counts.kept += bool(k)
                if pid != last_problem:  # a problem's traces are contiguous within a shard
                    counts.problems += 1
                    rates.append(rate)
                    last_problem, last_kept = pid, False
                if k and not last_kept:
                    counts.problems_with_kept += 1
                    last_kept = True
    data.pass_rates = np.array(rates, dtype=float)
    data.kept_tokens = np.concatenate(kept_tokens) if kept_tokens else np.zeros(0, np.int64)
    data.rejected_tokens = np.concatenate(rejected_tokens) if rejected_tokens else np.zeros(0, np.int64)


# -- plots --------------------------------------------------------------------------------------------


def draw_plots(data: RunData, folder: Path) -> dict[str, Path]:
    """Write the PNG plots; returns name -> path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(data.pass_rates, bins=PASS_RATE_BINS, color="#4C72B0", edgecolor="white")
    ax.set(
        xlabel="pass rate (share of a problem's traces that passed)", ylabel="problems", title="Pass rate per problem"
    )
    out["pass_rate"] = _save(fig, folder / "pass_rate.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    both = np.concatenate((data.kept_tokens, data.rejected_tokens))
    bins = np.histogram_bin_edges(both, bins=30) if len(both) else 10
    ax.hist(
        [data.kept_tokens, data.rejected_tokens],
        bins=bins,
        label=["kept", "rejected"],
        color=["#55A868", "#C44E52"],
        stacked=False,
    )
    ax.set(xlabel="completion tokens (teacher tokenizer)", ylabel="traces", title="Reasoning length")
    ax.legend()
    out["length"] = _save(fig, folder / "length.png")

    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.35 * len(data.sources) + 1)))
    names = sorted(data.sources)
    ax.barh(names, [data.sources[n].kept for n in names], color="#8172B2")
    ax.set(xlabel="kept rows", title="Kept rows per source")
    out["sources"] = _save(fig, folder / "sources.png")
    return out


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# -- the card -------------------------------------------------------------------------------------------


def size_category(n: int) -> str:
    for limit, label in [
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ]:
        if n < limit:
            return label
    return "10M<n<100M"


def header(data: RunData) -> dict[str, Any]:
    recipe = data.recipe
    configs = [{"config_name": "default", "data_files": [{"split": "train", "path": "export/sft/*.parquet"}]}]
    if data.pair_rows:
        configs.append({"config_name": "pairs", "data_files": [{"split": "train", "path": "export/pairs/*.parquet"}]})
    return {
        "pretty_name": recipe["name"],
        "language": sorted(data.languages) or ["en"],
        "license": "other",  # the teacher's license and the sources' licenses decide; see the card
        "task_categories": ["text-generation"],
        "tags": ["synthetic", "reasoning", "distillation", "rejection-sampling", "factory"],
        "size_categories": [size_category(data.sft_rows)],
        "configs": configs,
    }


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _pct(n: int, total: int) -> str:
    return f"{n / total:.1%}" if total else "-"


def render(data: RunData, plots: dict[str, Path]) -> str:
    recipe = data.recipe
    gen = recipe.get("generate", {})
    sel = recipe.get("select", {})
    parts = ["---", yaml.safe_dump(header(data), sort_keys=False).rstrip(), "---", ""]
    parts.append(f"# {recipe['name']}\n")
    parts.append(
        f"{data.sft_rows} SFT rows (reasoning traces that passed {', '.join(_required(recipe)) or 'no'} verification) "
        f"from {sum(s.problems_with_kept for s in data.sources.values())} of {data.problems} problems, sampled from "
        f"`{gen.get('model')}` with n = {gen.get('n')} and selected by rejection sampling with "
        f"factory. The rows are in `export/sft/` (`messages`, `prompt`, `completion` and "
        f"provenance columns); every rejected trace is in `export/rejected/` with its `reject_reason`.\n"
    )
    if data.pair_rows:
        parts.append(
            f"{data.pair_rows} preference pairs, a passing and a failing trace of the same problem, are in "
            "`export/pairs/` (config `pairs`: `prompt`, `chosen`, `rejected`, as TRL's `DPOTrainer` reads them).\n"
        )

    parts.append("## Counts at every stage\n")
    rows = []
    for name, st in data.stages.items():
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(st.get("dropped", {}).items(), key=lambda kv: -kv[1]))
        rows.append([name, st["rows_in"], st["rows_out"], dropped or "-"])
    parts.append(_table(["stage", "rows in", "rows out", "dropped / rejected"], rows) + "\n")
    policies = data.stages.get("select", {}).get("parts", {})
    order = [
        p
        for step in data.plan["steps"]
        for stage in step["stages"]
        if stage["name"] == "select"
        for p in stage["policies"]
    ]
    if policies:
        parts.append("Select policies, in order (each sees only the traces still kept):\n")
        parts.append(
            _table(
                ["policy", "traces in", "kept", "rejected"],
                [
                    [
                        name,
                        p["rows_in"],
                        p["rows_out"],
                        ", ".join(f"{k} {v}" for k, v in sorted(p["dropped"].items())) or "-",
                    ]
                    for name, p in ((name, policies[name]) for name in order if name in policies)
                ],
            )
            + "\n"
        )

    total = data.traces
    parts.append("## Drop reasons\n")
    parts.append(f"{data.kept} of {total} traces kept ({_pct(data.kept, total)}).\n")
    parts.append(
        _table(
            ["reject reason", "traces", "share of traces"],
            [[f"`{r}`", n, _pct(n, total)] for r, n in data.reject_reasons.most_common()],
        )
        + "\n"
    )

    parts.append("## Problem filters (before generation)\n")
    hits = [r for r in data.problems_rejected if r["reject_reason"] == "contaminated"]
    dups = [r for r in data.problems_rejected if "duplicate_problem" in r["reject_reason"]]
    decon = recipe.get("decontaminate")
    if decon:
        benches = ", ".join(f"`{b.get('name') or Path(b['path']).stem}`" for b in decon["benchmarks"])
        parts.append(
            f"Decontamination: {decon['ngram']}-gram overlap against {benches}: {len(hits)} problems dropped.\n"
        )
        if hits:
            rows = []
            for r in hits:
                d = json.loads(r["reject_details"])
                rows.append([f"`{r['id']}`", d["benchmark"], f"`{d['benchmark_id']}`", d["matches"], f"`{d['ngram']}`"])
            parts.append(
                _table(["problem", "benchmark", "benchmark item", "shared n-grams", "first shared n-gram"], rows) + "\n"
            )
    else:
        parts.append("Decontamination: not configured (`decontaminate`).\n")
    if recipe.get("problem_dedup"):
        kinds = Counter(r["reject_reason"] for r in dups)
        parts.append(
            "Duplicate problems dropped: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none") + ".\n"
        )
    else:
        parts.append("Problem dedup: not configured (`problem_dedup`).\n")

    ver = data.stages.get("verify")
    if ver and ver["rows_out"]:
        parts.append("## Verifiers\n")
        rows = []
        for name in recipe.get("verify", {}):
            v = ver.get("parts", {}).get(name, {"rows_in": 0, "rows_out": 0, "dropped": {}})
            for domain, d in [("all", v), *sorted(v.get("parts", {}).items())]:
                reasons = {"ok": d["rows_out"], **d["dropped"]} if d["rows_in"] else {}
                rows.append(
                    [
                        name,
                        domain,
                        d["rows_in"],
                        _pct(d["rows_out"], d["rows_in"]),
                        ", ".join(f"{k} {n}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1])),
                    ]
                )
        parts.append(
            "Each verifier judges the traces it applies to (its `domains`, and its inputs: a gold answer "
            "for math, tests for code); the others are `not_applicable`.\n"
        )
        parts.append(_table(["verifier", "domain", "traces judged", "pass rate", "reasons"], rows) + "\n")

    parts += _cost_section(data)

    parts.append("## Pass-rate distribution\n")
    hist, _ = np.histogram(data.pass_rates, bins=PASS_RATE_BINS)
    band = f"[{sel.get('min_pass_rate', 0.0)}, {sel.get('max_pass_rate', 1.0)}]"
    parts.append(
        f"Pass rate of each problem over its traces (band kept: {band}); "
        f"mean {data.pass_rates.mean() if len(data.pass_rates) else 0:.3f}.\n"
    )
    adaptive = gen.get("adaptive")
    if adaptive:
        parts.append(
            f"Sampled adaptively (`generate.adaptive`: "
            f"{', '.join(f'{k} {v}' for k, v in adaptive.items() if v is not None)}): a problem stopped drawing "
            "once it had what select needs, so its pass "
            "rate is an estimate over the samples it drew (the `traces` column of `problems_scored/`), biased "
            "towards 1 for easy problems and noisier than over n samples; the band and the difficulty labels use "
            "this estimate.\n"
        )
    labels = [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(PASS_RATE_BINS[:-1], PASS_RATE_BINS[1:], strict=True)]
    parts.append(_table(["pass rate", "problems"], [[lab, int(n)] for lab, n in zip(labels, hist, strict=True)]) + "\n")
    parts.append(
        _table(
            ["never solved (0)", "always solved (1)"],
            [[int((data.pass_rates == 0).sum()), int((data.pass_rates == 1).sum())]],
        )
        + "\n"
    )
    parts.append(f"![pass rate](plots/{plots['pass_rate'].name})\n")

    parts.append("## Length distribution\n")
    parts.append("Completion tokens (teacher tokenizer):\n")
    rows = []
    for name, arr in [("kept", data.kept_tokens), ("rejected", data.rejected_tokens)]:
        if len(arr):
            q = np.percentile(arr, [0, 50, 90, 100])
            rows.append([name, len(arr), f"{arr.mean():.1f}", *(int(round(v)) for v in q)])
        else:
            rows.append([name, 0, "-", "-", "-", "-", "-"])
    parts.append(_table(["traces", "count", "mean", "min", "median", "p90", "max"], rows) + "\n")
    if sel.get("max_length"):
        ml = sel["max_length"]
        parts.append(
            f"Rows longer than {ml['max_tokens']} tokens under the student tokenizer `{ml['tokenizer']}` were dropped "
            f"(`too_long`: {data.reject_reasons.get('too_long', 0)}), never truncated.\n"
        )
    parts.append(f"![length](plots/{plots['length'].name})\n")

    parts.append("## Per-source counts\n")
    parts.append(
        _table(
            ["source", "problems", "traces", "kept rows", "problems with a kept row"],
            [[f"`{n}`", s.problems, s.traces, s.kept, s.problems_with_kept] for n, s in sorted(data.sources.items())],
        )
        + "\n"
    )
    parts.append(f"![sources](plots/{plots['sources'].name})\n")

    parts += _model_sections(data)

    vote = data.stages.get("vote")
    if vote:
        c = vote["counters"]
        parts.append("## Majority vote\n")
        parts.append(
            f"{c.get('problems_voted', 0)} problems had no gold answer; {c.get('problems_pseudo_labelled', 0)} got a "
            f"pseudo-gold (the most frequent canonical answer, min share {recipe['vote']['min_share']}, "
            f"min count {recipe['vote']['min_count']}); their rows carry `pseudo_label = true` and `vote_share`. "
            f"Dropped: {', '.join(f'{k} {v}' for k, v in sorted(vote['dropped'].items())) or 'none'} (traces).\n"
        )

    parts.append("## Recipe\n")
    recipe_yaml = data.run.read_text("recipe.yaml") if data.run.exists("recipe.yaml") else yaml.safe_dump(recipe)
    parts.append("```yaml\n" + recipe_yaml.rstrip() + "\n```\n")
    return "\n".join(parts)


def _cost_section(data: RunData) -> list[str]:
    """Tokens drawn, per kept row, and what adaptive sampling did not draw (summary.json's ``cost``)."""
    if not data.run.exists("summary.json"):
        return []
    cost = data.run.read_json("summary.json").get("cost")
    if not cost:
        return []
    rows = [
        ["samples drawn", cost["samples"]],
        ["prompt tokens (per request)", cost["prompt_tokens"]],
        ["completion tokens drawn", cost["completion_tokens"]],
        ["completion tokens per kept row", cost["tokens_per_kept_row"] if cost["tokens_per_kept_row"] else "-"],
    ]
    if cost["stopped"]:
        rows += [
            ["samples saved by adaptive stops", cost["samples_saved"]],
            ["completion tokens saved (estimate)", cost["tokens_saved_estimate"]],
            ["problems by why they stopped", ", ".join(f"{k} {v}" for k, v in cost["stopped"].items())],
        ]
    if cost["money"] is not None:
        rows += [["money spent (price table)", cost["money"]], ["money per kept row", cost["money_per_kept_row"]]]
    return ["## Cost\n", _table(["", ""], rows) + "\n"]


def _model_sections(data: RunData) -> list[str]:
    """The judge (with its agreement with the rules), the reward ranking and the refinement."""

    recipe, parts = data.recipe, []
    judge = data.stages.get("judge")
    if recipe.get("judge") and judge:
        cfg, c = recipe["judge"], judge["counters"]
        parts.append("## LLM judge\n")
        parts.append(
            f"Judge `{cfg['model']}` ({cfg['backend']} backend), applied to `{cfg['apply_to']}` traces, "
            f"plus an audit of {cfg['audit']:.0%} of the traces the rules decided. "
            f"{c.get('sent', 0)} of {judge['rows_in']} traces were sent "
            f"({c.get('undecided_but_failed_rules', 0)} undecided traces had already failed another rule "
            "and were not). Its verdict stands in for the answer verdict only where the rules could not decide; "
            "every judged row keeps `judge_model`, `judge_prompt_hash`, `judge_raw` and the verdict columns.\n"
        )
        rows = [
            [role, p["rows_in"], p["rows_out"], ", ".join(f"{k} {v}" for k, v in sorted(p["dropped"].items())) or "-"]
            for role, p in sorted(judge.get("parts", {}).items())
        ]
        parts.append(_table(["sent because", "traces", "judged correct", "other verdicts"], rows) + "\n")
        a = agreement(c)
        if a["compared"]:
            parts.append(
                f"**Agreement with the rules** on {a['compared']} traces both decided: {a['agree']} agree "
                f"({a['agreement']:.1%}); the judge's **estimated error rate is {a['estimated_error_rate']:.1%}** "
                f"(rules passed, judge failed: {a['rules_pass_judge_fail']}; rules failed, judge passed: "
                f"{a['rules_fail_judge_pass']}; no verdict from the judge: {a['no_verdict']}).\n"
            )
        else:
            parts.append(
                "No trace was decided by both the rules and the judge: set `judge.audit` above 0 to measure "
                "the judge's agreement with the rules.\n"
            )
    rank = (recipe.get("select") or {}).get("rank")
    if rank:
        r = data.stages.get("select", {}).get("parts", {}).get("rank", {})
        parts.append("## Reward ranking\n")
        parts.append(
            f"The traces that passed the filters were scored by `{rank['reward_model']}` "
            f"({r.get('rows_out', 0)} scored, {r.get('counters', {}).get('unscored', 0)} without a score) and the top "
            f"{rank['k'] or (recipe.get('select') or {}).get('k')} per problem kept; "
            "the score is the `reward_score` column.\n"
        )
    refine = data.stages.get("refine")
    if recipe.get("refine") and refine:
        c = refine["counters"]
        refused = (
            ", ".join(f"{k.removeprefix('refused_')} {v}" for k, v in sorted(c.items()) if k.startswith("refused_"))
            or "none"
        )
        parts.append("## Refinement\n")
        parts.append(
            f"{refine['rows_in']} kept traces were rewritten by `{recipe['refine']['model']}` "
            f"(form `{recipe['refine']['form']}`) "
            f"and verified again with the same verifiers: {c.get('refined', 0)} rewrites accepted; refused: {refused} "
            f"(on refusal: `{recipe['refine']['on_failure']}`). Both versions are in every row (`original_completion`, "
            "`refined_completion`); the SFT set has the accepted rewrites.\n"
        )
    return parts


def _required(recipe: dict[str, Any]) -> list[str]:
    req = recipe.get("select", {}).get("require")
    if isinstance(req, dict):
        return sorted({name for names in req.values() for name in names})
    return list(req if req is not None else recipe.get("verify", {}))


def write_report(run_dir: str | Path) -> str:
    """Write ``README.md`` and ``plots/*.png`` into ``run_dir``; returns where the README is."""
    data = collect(run_dir)
    with tempfile.TemporaryDirectory(prefix="factory-card-") as scratch:  # drawn here, then copied in
        plots = draw_plots(data, Path(scratch))
        for plot in plots.values():
            data.run.upload(plot, f"plots/{plot.name}")
    data.run.write_text("README.md", render(data, plots))
    return data.run.display("README.md")
