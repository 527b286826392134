"""The rows that flow between stages, and their Parquet schemas.

Stages pass plain ``dict`` rows (cheap to stream, pickle and write); the dataclasses here define
what a row holds and give it a type. Nested values whose shape varies between problems (code
tests, free metadata) are stored as JSON strings so every shard has the same Parquet schema.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from verifiers import Verdict
from verifiers.text import split_think

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)


@dataclass(frozen=True, slots=True)
class Problem:
    """One task to sample traces for."""

    id: str
    source: str
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None  # a chat, when the source has one
    gold: str | None = None
    tests: str | None = None  # JSON list of test dicts for code problems
    domain: str = "math"
    language: str = "en"  # the language the reasoning should be in
    metadata: str = "{}"  # JSON object

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("problem has an empty id")
        if not self.prompt and not self.messages:
            raise ValueError(f"problem {self.id!r} has neither a prompt nor messages")

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


PROBLEM_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("prompt", pa.string()),
        ("messages", MESSAGES),
        ("gold", pa.string()),
        ("tests", pa.string()),
        ("domain", pa.string()),
        ("language", pa.string()),
        ("metadata", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class Trace:
    """One sampled completion of one problem, with the provenance to reproduce it."""

    trace_id: str  # f"{problem_id}/{sample_index}"
    problem_id: str
    sample_index: int
    source: str
    domain: str
    language: str
    gold: str | None
    tests: str | None
    metadata: str
    prompt_messages: list[dict[str, str]]  # the chat sent (system, few-shot, user)
    few_shot_turns: int  # how many of those messages are few-shot demonstrations
    prompt_text: str  # the rendered prompt exactly as sent, prefill included
    prefill: str  # assistant prefill (e.g. "<think>\n"), part of prompt and of completion
    completion: str  # prefill + generated text: the full assistant turn
    reasoning: str | None  # inside <think>...</think>, None without a closing tag
    answer: str  # after </think> (the whole completion when there is none)
    finish_reason: str  # "stop" | "length" | ...
    prompt_tokens: int
    completion_tokens: int
    model: str
    model_revision: str
    sampling_params: str  # JSON of the SamplingParams arguments
    seed: int
    chat_template_hash: str
    generator: str  # e.g. "vllm==0.32.0"

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


TRACE_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("problem_id", pa.string()),
        ("sample_index", pa.int32()),
        ("source", pa.string()),
        ("domain", pa.string()),
        ("language", pa.string()),
        ("gold", pa.string()),
        ("tests", pa.string()),
        ("metadata", pa.string()),
        ("prompt_messages", MESSAGES),
        ("few_shot_turns", pa.int32()),
        ("prompt_text", pa.string()),
        ("prefill", pa.string()),
        ("completion", pa.string()),
        ("reasoning", pa.string()),
        ("answer", pa.string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int32()),
        ("completion_tokens", pa.int32()),
        ("model", pa.string()),
        ("model_revision", pa.string()),
        ("sampling_params", pa.string()),
        ("seed", pa.int64()),
        ("chat_template_hash", pa.string()),
        ("generator", pa.string()),
    ]
)


def verdict_columns(name: str, verdict: Verdict | None) -> dict[str, Any]:
    """The flat columns one verifier adds to a trace row (``math_passed``, ``math_reason``...);
    ``None``: the verifier does not apply to this trace (reason ``not_applicable``, no verdict)."""
    if verdict is None:
        return {
            f"{name}_passed": None,
            f"{name}_reason": "not_applicable",
            f"{name}_score": None,
            f"{name}_extracted": None,
            f"{name}_details": None,
        }
    return {
        f"{name}_passed": verdict.passed,
        f"{name}_reason": verdict.reason,
        f"{name}_score": float(verdict.score),
        f"{name}_extracted": verdict.extracted,
        f"{name}_details": json.dumps(verdict.details, default=str) if verdict.details else None,
    }


def verdict_schema(names: list[str]) -> pa.Schema:
    fields = []
    for name in names:
        fields += [
            (f"{name}_passed", pa.bool_()),
            (f"{name}_reason", pa.string()),
            (f"{name}_score", pa.float64()),
            (f"{name}_extracted", pa.string()),
            (f"{name}_details", pa.string()),
        ]
    return pa.schema(fields)


# The one reject convention of every stage (factory.stages.base.reject): problems and traces alike.
REJECT_FIELDS = pa.schema(
    [
        ("keep", pa.bool_()),
        ("reject_reason", pa.string()),  # None when kept
        ("reject_details", pa.string()),  # JSON: what the reason refers to (the duplicate, the n-gram...)
    ]
)
# share of the problem's traces that passed every required verifier, then the reject columns
SELECT_FIELDS = pa.schema([("pass_rate", pa.float64()), *REJECT_FIELDS])

# The judge step (factory.stages.judge): a verdict in the verifiers' columns, and what it came from.
JUDGE_FIELDS = pa.schema(
    [
        *verdict_schema(["judge"]),
        ("judge_role", pa.string()),  # why it was judged: undecided | audit | all | domain (None: not sent)
        ("judge_model", pa.string()),
        ("judge_prompt_hash", pa.string()),  # of the system prompt, user template and prefill
        ("judge_raw", pa.string()),  # the judge's whole reply
    ]
)
# select.rank: the score the top-k is chosen by (None for traces the filters had rejected)
RANK_FIELDS = pa.schema([("reward_score", pa.float64())])
# The refine step (factory.stages.refine): both versions of every kept trace, and the rewrite's fate.
REFINE_FIELDS = pa.schema(
    [
        ("original_completion", pa.string()),  # as sampled (None: not sent to the rewriter)
        ("refined_completion", pa.string()),  # the rewrite (``completion`` holds it when accepted)
        ("refine_reason", pa.string()),  # ok | answer_changed | format_broken | request_failed
        ("refine_details", pa.string()),  # JSON: the verifier and verdict that refused the rewrite
        ("refine_model", pa.string()),
        ("refine_prompt_hash", pa.string()),
    ]
)


def merge_schemas(*schemas: pa.Schema) -> pa.Schema:
    """The fields of each schema in order; a field already present keeps its first place."""
    seen: dict[str, pa.Field] = {}
    for s in schemas:
        for f in s:
            seen.setdefault(f.name, f)
    return pa.schema(list(seen.values()))


# -- the SFT rows the export writes (and the student's length check renders) --------------------------

# the trace's provenance columns that every SFT row carries, with the trace's types (and the pass rate)
PROVENANCE = [
    (name, TRACE_SCHEMA.field(name).type if name != "pass_rate" else SELECT_FIELDS.field(name).type)
    for name in (
        "trace_id",
        "problem_id",
        "sample_index",
        "source",
        "domain",
        "language",
        "gold",
        "pass_rate",
        "prompt_tokens",
        "completion_tokens",
        "finish_reason",
        "model",
        "model_revision",
        "sampling_params",
        "seed",
        "chat_template_hash",
        "generator",
        "metadata",
    )
]
# present only when the recipe votes a pseudo-gold for problems without one (the vote section)
VOTE = [("pseudo_label", pa.bool_()), ("vote_share", pa.float64())]
# present only with a judge, select.rank or refine (the export has those its input has)
MODEL_SCORES = [
    ("judge_passed", pa.bool_()),
    ("judge_reason", pa.string()),
    ("judge_score", pa.float64()),
    ("reward_score", pa.float64()),
    ("original_completion", pa.string()),
]
# the assistant turn apart, for templates and trainers that keep the reasoning in a field of its own:
# the think block's text (None: the turn has no </think>) and what follows it
REASONING_APART = [("reasoning", pa.string()), ("answer", pa.string())]
SFT_SCHEMA = pa.schema(
    [("messages", MESSAGES), ("prompt", MESSAGES), ("completion", MESSAGES), *REASONING_APART, *PROVENANCE, *VOTE]
)


def sft_schema(traces: pa.Schema | None) -> pa.Schema:
    """The SFT export's columns: :data:`SFT_SCHEMA` and the model scores the traces carry."""
    names = set(traces.names) if traces is not None else set()
    return pa.schema([*SFT_SCHEMA, *(pa.field(n, t) for n, t in MODEL_SCORES if n in names)])


def assistant_content(trace: dict[str, Any]) -> str:
    """The assistant turn to train on: the reasoning in ``<think>...</think>``, then the answer."""
    if trace["reasoning"] is None:
        return trace["answer"]
    return f"<think>\n{trace['reasoning']}\n</think>\n\n{trace['answer']}"


class LenientRow(dict):
    """A row for ``sft_row`` when only the chat matters (the length check, a reward model): absent
    provenance columns read as None."""

    def __missing__(self, key: str) -> None:
        return None


def sft_row(trace: dict[str, Any], keep_system: bool = True, keep_few_shot: bool = False) -> dict[str, Any]:
    """One SFT row: the problem's chat (system prompt and few-shot turns as configured) and the answer."""
    chat = list(trace["prompt_messages"])
    system = [chat.pop(0)] if chat and chat[0]["role"] == "system" else []
    shots = trace["few_shot_turns"]
    prompt = (system if keep_system else []) + (chat if keep_few_shot else chat[shots:])
    content = assistant_content(trace)
    completion = [{"role": "assistant", "content": content}]
    row = {"messages": prompt + completion, "prompt": prompt, "completion": completion}
    row["reasoning"], row["answer"] = split_think(content)  # of the turn as exported (a rewrite's, after refine)
    row.update({name: trace[name] for name, _ in PROVENANCE})
    row["pseudo_label"] = bool(trace.get("pseudo_label"))
    row["vote_share"] = trace.get("vote_share")
    for name, _ in MODEL_SCORES:
        row[name] = trace.get(name)
    if trace.get("refine_reason") != "ok":
        row["original_completion"] = None  # the exported completion is the one sampled
    return row


# -- the preference pairs the export writes (export.pairs) ---------------------------------------------

# provenance of the pair: the problem's, the sampling's (the same for both traces), and each side's own
PAIR_SCHEMA = pa.schema(
    [
        ("prompt", MESSAGES),
        ("chosen", MESSAGES),
        ("rejected", MESSAGES),
        *(
            (name, type_)
            for name, type_ in PROVENANCE
            if name not in ("trace_id", "sample_index", "completion_tokens", "finish_reason")
        ),
        ("pair_index", pa.int32()),  # the problem's pairs, 0, 1, ... (export.max_pairs_per_problem)
        ("chosen_trace_id", pa.string()),
        ("rejected_trace_id", pa.string()),
        ("chosen_tokens", pa.int32()),
        ("rejected_tokens", pa.int32()),
        ("rejected_reason", pa.string()),  # the answer verifier's verdict on the rejected side (math:wrong_answer)
    ]
)


def pair_row(
    chosen: dict[str, Any],
    rejected: dict[str, Any],
    reason: str,
    index: int,
    keep_system: bool = True,
    keep_few_shot: bool = False,
) -> dict[str, Any]:
    """One preference pair of a problem: its chat as the SFT rows have it, the passing trace as
    ``chosen`` and the failing one as ``rejected`` (each a one-turn assistant list)."""
    good, bad = sft_row(chosen, keep_system, keep_few_shot), sft_row(rejected, keep_system, keep_few_shot)
    row = {"prompt": good["prompt"], "chosen": good["completion"], "rejected": bad["completion"]}
    row.update({name: good[name] for name in PAIR_SCHEMA.names if name in good and name not in row})
    row.update(
        pair_index=index,
        chosen_trace_id=chosen["trace_id"],
        rejected_trace_id=rejected["trace_id"],
        chosen_tokens=chosen["completion_tokens"],
        rejected_tokens=rejected["completion_tokens"],
        rejected_reason=reason,
    )
    return row
