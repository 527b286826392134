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

from factory.records import sft_row, sft_schema
from factory.stages.base import Stage, StageStats


class SFTWriter(Stage):
    """selected -> export/sft: kept traces as chat rows."""

    name: ClassVar[str] = "export_sft"

    def __init__(self, keep_system: bool = True, keep_few_shot: bool = False) -> None:
        self.keep_system = keep_system
        self.keep_few_shot = keep_few_shot

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return sft_schema(input)

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for row in rows:
            stats.rows_in += 1
            if not row["keep"]:
                stats.dropped[row["reject_reason"]] += 1
                continue
            stats.rows_out += 1
            yield sft_row(row, self.keep_system, self.keep_few_shot)


class RejectWriter(Stage):
    """selected -> export/rejected: every rejected trace, whole, with its reason."""

    name: ClassVar[str] = "export_rejected"

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return input

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for row in rows:
            stats.rows_in += 1
            if row["keep"]:
                continue
            stats.rows_out += 1
            stats.counters[row["reject_reason"]] += 1
            yield row
