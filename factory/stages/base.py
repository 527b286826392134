"""What a stage is: a small generator over rows that counts what it drops and why."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass
class StageStats:
    """Counts of one stage over one shard (or, summed, over a run)."""

    rows_in: int = 0
    rows_out: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    counters: Counter[str] = field(default_factory=Counter)  # anything else worth counting
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": dict(self.dropped),
            "counters": dict(self.counters),
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def total(cls, parts: Iterable[dict[str, Any]]) -> StageStats:
        out = cls()
        for p in parts:
            out.rows_in += p["rows_in"]
            out.rows_out += p["rows_out"]
            out.dropped.update(p["dropped"])
            out.counters.update(p["counters"])
            out.seconds += p["seconds"]
        return out


def batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` rows (the last may be shorter), pulled lazily from ``rows``."""
    rows = iter(rows)
    while batch := list(itertools.islice(rows, size)):
        yield batch


class Stage(Protocol):
    """``run`` takes an iterator of rows and yields rows; it can be called alone on a list.

    Heavy resources (an engine, a process pool) are created lazily inside ``run`` so a stage
    pickles cheaply and ships to another worker; ``close`` releases them.
    """

    name: ClassVar[str]

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...
