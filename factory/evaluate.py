"""Evaluate a model on held-out problems with the factory's own generator and verifiers.

``factory eval --model PATH --problems FILE`` samples ``n`` completions per problem with the same
:class:`~factory.stages.generate.TraceGenerator` that makes the training data (same prompt rendering,
prefill, per-problem seeds) and scores them with the same verifiers (``VERIFIERS``), so a number
here means exactly what a pass rate in a data run means. It writes, into one folder:

``metrics.json``   every metric, the per-source and per-difficulty tables, and the settings
``report.md``      a short Markdown table of the same
``samples.parquet`` every scored sample (completion, verdict columns, ``correct``)

Metrics (a sample is *correct* when it passes every verifier in ``correct``, by default ``math``):

- ``pass@1``: the mean over problems of the share of the ``n`` samples that are correct (so it is
  averaged over all ``n`` samples, not just the first), with its standard error over problems.
- ``pass@k``: the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)`` per problem
  with ``c`` correct of ``n``, averaged over problems.
- ``maj@k``: majority vote over the first ``k`` samples' extracted answers (grouped by
  ``verifiers.canonical_answer``; ties go to the answer reached first; samples without an answer
  do not vote); a problem counts when the winning answer is correct.
- ``format``: the share of samples that pass the ``format`` verifier (when it is configured).
- reasoning length: mean tokens inside ``<think>`` over samples that closed their think block,
  and mean completion tokens over all samples; ``truncated``: the share that hit ``max_tokens``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from factory.files import write_records
from factory.models import model_revision, resolve_model
from factory.recipe import EvalConfig, GenerateConfig, Recipe, SourceConfig, verifier_config
from factory.shards import write_json
from factory.stages.base import StageStats
from factory.stages.generate import TraceGenerator
from factory.stages.read import ProblemReader
from factory.stages.verify import TraceVerifier
from verifiers import canonical_answer

log = logging.getLogger(__name__)

DEFAULT_VERIFY: dict[str, dict[str, Any]] = {"math": {}, "format": {}}
# Column names tried, in order, when a problems file is given without a field mapping.
FIELD_ALIASES = {"prompt": ("prompt", "problem", "question"), "gold": ("gold", "answer")}
UNKNOWN = "unknown"  # the difficulty of a problem that has none


# -- estimators (pure functions, tested on hand-computed values) ---------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` correct of ``n`` samples: ``1 - C(n-c,k)/C(n,k)``."""
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: c={c} is outside 0..n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: k={k} is outside 1..n={n}")
    if n - c < k:
        return 1.0
    # The product form avoids huge binomials: C(n-c,k)/C(n,k) = prod_{i=n-c+1}^{n} (1 - k/i).
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def majority_correct(votes: Sequence[tuple[str | None, bool]]) -> bool:
    """Whether the majority answer among ``(answer_key, correct)`` votes is correct.

    ``None`` keys (no answer) do not vote; ties go to the answer that appeared first. The winning
    answer is correct when any sample that gave it is correct (equal keys are equal answers).
    """
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    right: dict[str, bool] = defaultdict(bool)
    for i, (key, ok) in enumerate(votes):
        if key is None:
            continue
        counts[key] += 1
        first.setdefault(key, i)
        right[key] |= bool(ok)
    if not counts:
        return False
    winner = max(counts, key=lambda a: (counts[a], -first[a]))
    return right[winner]


# -- metrics over scored samples -----------------------------------------------------------------


@dataclasses.dataclass
class _ProblemResult:
    problem_id: str
    source: str
    difficulty: str
    samples: list[dict[str, Any]]  # sorted by sample_index

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def c(self) -> int:
        return sum(bool(s["correct"]) for s in self.samples)


def default_ks(n: int) -> list[int]:
    return sorted({1, n})


def compute_metrics(samples: Iterable[dict[str, Any]], ks: Sequence[int], verifiers: Sequence[str]) -> dict[str, Any]:
    """Metrics of scored samples: rows with ``problem_id``, ``sample_index``, ``source``,
    ``difficulty``, ``correct``, ``vote`` (answer key or None), ``<verifier>_passed``/``_reason``,
    ``reasoning_tokens`` (None without a closed think block), ``completion_tokens``, ``finish_reason``.
    Returns the overall metrics plus ``by_source`` and ``by_difficulty`` tables."""
    problems = _group(samples)
    overall = _metrics(problems, ks, verifiers)
    by_source: dict[str, list[_ProblemResult]] = defaultdict(list)
    by_difficulty: dict[str, list[_ProblemResult]] = defaultdict(list)
    for p in problems:
        by_source[p.source].append(p)
        by_difficulty[p.difficulty].append(p)
    overall["by_source"] = {k: _metrics(v, ks, verifiers, brief=True) for k, v in sorted(by_source.items())}
    overall["by_difficulty"] = {
        k: _metrics(v, ks, verifiers, brief=True)
        for k, v in sorted(by_difficulty.items(), key=lambda kv: _sort_key(kv[0]))
    }
    overall["per_problem"] = {p.problem_id: {"n": p.n, "correct": p.c, "source": p.source} for p in problems}
    return overall


def _sort_key(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _group(samples: Iterable[dict[str, Any]]) -> list[_ProblemResult]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        grouped.setdefault(s["problem_id"], []).append(s)
    out = []
    for pid, rows in grouped.items():
        rows.sort(key=lambda r: r["sample_index"])
        out.append(_ProblemResult(pid, str(rows[0]["source"]), str(rows[0]["difficulty"]), rows))
    return out


def _metrics(
    problems: list[_ProblemResult], ks: Sequence[int], verifiers: Sequence[str], brief: bool = False
) -> dict[str, Any]:
    all_samples = [s for p in problems for s in p.samples]
    rates = [p.c / p.n for p in problems]
    out: dict[str, Any] = {
        "problems": len(problems),
        "samples": len(all_samples),
        "pass@1": _mean(rates),
        "pass@1_stderr": statistics.stdev(rates) / math.sqrt(len(rates)) if len(rates) > 1 else None,
    }
    n_min = min((p.n for p in problems), default=0)
    for k in ks:
        if k > n_min:  # a problem with fewer than k samples has no pass@k
            continue
        if k != 1:
            out[f"pass@{k}"] = _mean([pass_at_k(p.n, p.c, k) for p in problems])
        out[f"maj@{k}"] = _mean(
            [majority_correct([(s["vote"], s["correct"]) for s in p.samples[:k]]) for p in problems]
        )
    if "format" in verifiers:
        out["format"] = _mean([bool(s["format_passed"]) for s in all_samples])
    reasoning = [s["reasoning_tokens"] for s in all_samples if s.get("reasoning_tokens") is not None]
    out["reasoning_tokens_mean"] = _mean(reasoning)
    out["completion_tokens_mean"] = _mean([s["completion_tokens"] for s in all_samples])
    out["truncated"] = _mean([s["finish_reason"] == "length" for s in all_samples])
    if not brief:
        out["samples_with_reasoning"] = len(reasoning)
        out["verifiers"] = {
            name: {
                "pass_rate": _mean([bool(s[f"{name}_passed"]) for s in all_samples]),
                "reasons": dict(Counter(s[f"{name}_reason"] for s in all_samples).most_common()),
            }
            for name in verifiers
        }
    return out


def _mean(values: Sequence[float | bool]) -> float | None:
    return sum(values) / len(values) if values else None


# -- running an evaluation -----------------------------------------------------------------------


def guess_fields(path: str | Path) -> dict[str, str]:
    """A ``Problem`` field mapping for a problems file without one: ``problem``/``question`` become
    the prompt and ``answer`` the gold answer, when the file has no ``prompt``/``gold`` column."""
    p = Path(path)
    columns: list[str] = []
    files = [p] if p.is_file() else sorted(p.glob("*.jsonl")) + sorted(p.glob("*.parquet"))
    if files:
        f = files[0]
        if f.suffix == ".parquet":
            import pyarrow.parquet as pq

            columns = pq.read_schema(f).names
        else:
            with f.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        columns = list(json.loads(line))
                        break
    fields = {}
    for name, aliases in FIELD_ALIASES.items():
        found = next((a for a in aliases if a in columns), None)
        if found and found != name:
            fields[name] = found
    return fields


def _difficulty(problem: dict[str, Any], key: str) -> str:
    if problem.get(key) is not None:
        return str(problem[key])
    try:
        meta = json.loads(problem.get("metadata") or "{}")
    except json.JSONDecodeError:
        meta = {}
    value = meta.get(key) if isinstance(meta, dict) else None
    return UNKNOWN if value is None else str(value)


def eval_settings(
    recipe: Recipe | None, problems: SourceConfig | None = None
) -> tuple[GenerateConfig, EvalConfig, dict[str, dict[str, Any]]]:
    """The generate config, eval config and verifiers an evaluation uses (recipe or defaults)."""
    generate = recipe.generate if recipe else GenerateConfig()
    ev = (recipe.eval if recipe else None) or EvalConfig()
    if problems is not None:
        ev = dataclasses.replace(ev, problems=problems)
    verify = ev.verify if ev.verify is not None else (recipe.verify if recipe and recipe.verify else DEFAULT_VERIFY)
    return generate, ev, verify


def evaluate(
    model: str,
    *,
    generate: GenerateConfig,
    config: EvalConfig,
    verify: dict[str, dict[str, Any]],
    output_dir: str | Path,
    reuse: bool = True,
) -> dict[str, Any]:
    """Sample ``config.n`` completions per held-out problem from ``model``, score them, and write
    ``metrics.json``, ``report.md`` and ``samples.parquet`` into ``output_dir``. Returns the metrics.

    The prompts (system prompt, few-shot turns, prefill, chat template) and the sampling come from
    ``generate``, with ``config.sampling`` laid over it; only the model and ``n`` are replaced. With
    ``reuse``, a folder already holding the metrics of the same settings is read instead of rerun.
    """

    if config.problems is None:
        raise ValueError("eval.problems: no held-out problems given (--problems FILE or eval.problems in the recipe)")
    for name in config.correct:
        if name not in verify:
            raise ValueError(f"eval.correct: {name!r} is not among the verifiers {list(verify)}")
    ks = sorted(set(config.k)) if config.k else default_ks(config.n)
    if any(not 1 <= k <= config.n for k in ks):
        raise ValueError(f"eval.k: {ks} must lie within 1..n={config.n}")
    gen_config = dataclasses.replace(
        generate, model=model, n=config.n, sampling={**generate.sampling, **config.sampling}
    )
    out = Path(output_dir)
    model_path = resolve_model(model)
    settings = {
        "model": model_path,
        "model_revision": model_revision(model_path),
        "problems": dataclasses.asdict(config.problems),
        "n": config.n,
        "k": ks,
        "correct": list(config.correct),
        "verify": {name: dataclasses.asdict(verifier_config(name, o)) for name, o in verify.items()},
        "difficulty_field": config.difficulty_field,
        "generate": {**dataclasses.asdict(gen_config), "model": model_path},
    }
    settings = json.loads(json.dumps(settings, default=str))
    if reuse and (out / "metrics.json").exists():
        previous = json.loads((out / "metrics.json").read_text())
        if previous.get("settings") == settings:
            log.info("reusing the evaluation in %s", out)
            return previous
        log.info("%s holds an evaluation with other settings; rerunning", out)

    stats = StageStats()
    problems = list(ProblemReader(config.problems).run(None, stats))
    if not problems:
        raise ValueError(f"eval.problems: {config.problems.path} yielded no problems")
    generator = TraceGenerator(gen_config)
    try:
        traces = list(generator.generate(problems, stats))
        tokenizer = generator.tokenizer
        for t in traces:
            t["reasoning_tokens"] = (
                None
                if t["reasoning"] is None
                else len(tokenizer(t["reasoning"], add_special_tokens=False)["input_ids"])
            )
    finally:
        generator.close()
    verifier = TraceVerifier(verify)
    scored = list(verifier.run(traces, StageStats()))
    verifier.close()

    by_id = {p["id"]: p for p in problems}
    vote_of = _vote_keys(scored)
    for row in scored:
        row["correct"] = all(bool(row[f"{name}_passed"]) for name in config.correct)
        row["vote"] = vote_of[row["trace_id"]]
        row["difficulty"] = _difficulty(by_id[row["problem_id"]], config.difficulty_field)
    metrics = compute_metrics(scored, ks, list(verify))
    metrics["settings"] = settings
    metrics["generate_seconds"] = round(stats.seconds, 2)
    metrics["tokens_per_second"] = (
        round(stats.counters["completion_tokens"] / stats.seconds, 1) if stats.seconds else None
    )

    out.mkdir(parents=True, exist_ok=True)
    write_records(out / "samples.parquet", scored)
    (out / "report.md").write_text(markdown_report(metrics, title=f"Evaluation of {model_path}"))
    write_json(out / "metrics.json", metrics)  # last: its presence marks a finished evaluation
    return metrics


def _vote_keys(rows: list[dict[str, Any]]) -> dict[str, str | None]:
    """trace_id -> the key its answer votes with in maj@k (canonical math answer, else the text)."""
    keys: dict[str, str | None] = {}
    canonical = None
    if rows and "math_extracted" in rows[0]:
        canonical = canonical_answer
    for row in rows:
        if canonical is not None:
            extracted = row.get("math_extracted")
            try:
                keys[row["trace_id"]] = canonical(extracted) if extracted else None
            except Exception:  # a canonicaliser failure must not end an evaluation
                keys[row["trace_id"]] = extracted
        else:
            answer = (row.get("answer") or "").strip()
            keys[row["trace_id"]] = answer or None
    return keys


# -- reports -------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def difficulty_table(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-difficulty table, or nothing when no problem had a difficulty."""
    table = metrics.get("by_difficulty", {})
    return {} if set(table) <= {UNKNOWN} else table


def _metric_columns(m: dict[str, Any]) -> list[str]:
    return [key for key in m if key.startswith(("pass@", "maj@")) and not key.endswith("stderr")]


def markdown_report(metrics: dict[str, Any], title: str = "Evaluation") -> str:
    """A short Markdown report: the overall line, then per-source and per-difficulty tables."""
    cols = _metric_columns(metrics)
    has_format = "format" in metrics
    header = ["", "problems", "samples", *cols, *(["format %"] if has_format else []), "reasoning tok", "truncated %"]

    def line(name: str, m: dict[str, Any]) -> str:
        cells = [name, str(m["problems"]), str(m["samples"]), *(_pct(m.get(c)) for c in cols)]
        if has_format:
            cells.append(_pct(m.get("format")))
        cells += [_num(m.get("reasoning_tokens_mean")), _pct(m.get("truncated"))]
        return "| " + " | ".join(cells) + " |"

    def table(rows: dict[str, dict[str, Any]], label: str) -> list[str]:
        return [
            "| " + " | ".join([label, *header[1:]]) + " |",
            "|" + "---|" * len(header),
            *(line(name, m) for name, m in rows.items()),
        ]

    s = metrics.get("settings", {})
    se = metrics.get("pass@1_stderr")
    lines = [f"# {title}", ""]
    if s:
        sampling = s.get("generate", {}).get("sampling", {})
        lines += [
            f"{metrics['problems']} problems from `{s['problems']['path']}`, n={s['n']} samples each "
            f"({metrics['samples']} samples), sampling {json.dumps(sampling, sort_keys=True)}; "
            f"correct = {' + '.join(s['correct'])}. Metrics in %.",
            "",
        ]
    lines += [
        f"**pass@1 {_pct(metrics['pass@1'])}%**" + (f" (± {_pct(se)} s.e. over problems)" if se is not None else ""),
        "",
        *table({"all": metrics}, ""),
        "",
        "## By source",
        "",
        *table(metrics["by_source"], "source"),
        "",
    ]
    if by_difficulty := difficulty_table(metrics):
        lines += ["## By difficulty", "", *table(by_difficulty, "difficulty"), ""]
    return "\n".join(lines)
