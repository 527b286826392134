"""Export the kept traces as an SFT set, and the rejected ones with their reasons.

The SFT rows read directly in ``pandas.read_parquet``, ``datasets.load_dataset("parquet", ...)``
and TRL's ``SFTTrainer``: ``prompt`` and ``completion`` are conversational (lists of
``{role, content}``), so TRL trains on the completion only; ``messages`` is the same chat in one
list for trainers that want the language-modelling form.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa

from factory.records import MESSAGES
from factory.stages.base import StageStats

PROVENANCE = [
    ("trace_id", pa.string()),
    ("problem_id", pa.string()),
    ("sample_index", pa.int32()),
    ("source", pa.string()),
    ("domain", pa.string()),
    ("language", pa.string()),
    ("gold", pa.string()),
    ("pass_rate", pa.float64()),
    ("prompt_tokens", pa.int32()),
    ("completion_tokens", pa.int32()),
    ("finish_reason", pa.string()),
    ("model", pa.string()),
    ("model_revision", pa.string()),
    ("sampling_params", pa.string()),
    ("seed", pa.int64()),
    ("chat_template_hash", pa.string()),
    ("generator", pa.string()),
    ("metadata", pa.string()),
]
# present only when the recipe votes a pseudo-gold for problems without one (select.majority_vote)
VOTE = [("pseudo_label", pa.bool_()), ("vote_share", pa.float64())]
SFT_SCHEMA = pa.schema([("messages", MESSAGES), ("prompt", MESSAGES), ("completion", MESSAGES), *PROVENANCE, *VOTE])


def assistant_content(trace: dict[str, Any]) -> str:
    """The assistant turn to train on: the reasoning in ``<think>...</think>``, then the answer."""
    if trace["reasoning"] is None:
        return trace["answer"]
    return f"<think>\n{trace['reasoning']}\n</think>\n\n{trace['answer']}"


def sft_row(trace: dict[str, Any], keep_system: bool = True, keep_few_shot: bool = False) -> dict[str, Any]:
    """One SFT row: the problem's chat (system prompt and few-shot turns as configured) and the answer."""
    chat = list(trace["prompt_messages"])
    system = [chat.pop(0)] if chat and chat[0]["role"] == "system" else []
    shots = trace["few_shot_turns"]
    prompt = (system if keep_system else []) + (chat if keep_few_shot else chat[shots:])
    completion = [{"role": "assistant", "content": assistant_content(trace)}]
    row = {"messages": prompt + completion, "prompt": prompt, "completion": completion}
    row.update({name: trace[name] for name, _ in PROVENANCE})
    row["pseudo_label"] = bool(trace.get("pseudo_label"))
    row["vote_share"] = trace.get("vote_share")
    return row


class SFTWriter:
    """selected -> export/sft: kept traces as chat rows."""

    name: ClassVar[str] = "export_sft"

    def __init__(self, keep_system: bool = True, keep_few_shot: bool = False) -> None:
        self.keep_system = keep_system
        self.keep_few_shot = keep_few_shot

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for row in rows:
            stats.rows_in += 1
            if not row["keep"]:
                stats.dropped[row["reject_reason"]] += 1
                continue
            stats.rows_out += 1
            yield sft_row(row, self.keep_system, self.keep_few_shot)

    def close(self) -> None:
        pass


class RejectWriter:
    """selected -> export/rejected: every rejected trace, whole, with its reason."""

    name: ClassVar[str] = "export_rejected"

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for row in rows:
            stats.rows_in += 1
            if row["keep"]:
                continue
            stats.rows_out += 1
            stats.counters[row["reject_reason"]] += 1
            yield row

    def close(self) -> None:
        pass
