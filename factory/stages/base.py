"""What a stage is: a small generator over rows that counts what it drops and why.

A stage never deletes a row it judges: it marks it, with the one reject convention every stage
shares (:func:`reject`): ``keep`` false, a ``snake_case`` ``reject_reason``, and optional
``reject_details`` (JSON). The step that runs the stage routes marked rows where they belong
(``problems_rejected/``, ``export/rejected/``), so a user can open every reject in pandas.
"""

from __future__ import annotations

import itertools
import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

if TYPE_CHECKING:
    from factory.summary import RunSummary


@dataclass
class StageStats:
    """Counts of one stage over one shard (or, summed, over a run).

    ``parts`` nests the same counts per member of the stage (a verifier of the verify stage, a
    policy of the select stage): ``stats.parts["math"].dropped["wrong_answer"]``. A verifier's
    part counts the traces it judged (``rows_in``), the ones that passed (``rows_out``) and why the
    others failed (``dropped``).
    """

    rows_in: int = 0
    rows_out: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    counters: Counter[str] = field(default_factory=Counter)  # anything else worth counting
    seconds: float = 0.0
    parts: dict[str, StageStats] = field(default_factory=dict)

    def part(self, name: str) -> StageStats:
        """The nested stats of one member, created on first use."""
        if name not in self.parts:
            self.parts[name] = StageStats()
        return self.parts[name]

    def add(self, other: StageStats) -> None:
        """Add ``other``'s counts (and its parts', recursively) into these."""
        self.rows_in += other.rows_in
        self.rows_out += other.rows_out
        self.dropped.update(other.dropped)
        self.counters.update(other.counters)
        self.seconds += other.seconds
        for name, part in other.parts.items():
            self.part(name).add(part)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": dict(self.dropped),
            "counters": dict(self.counters),
            "seconds": round(self.seconds, 3),
        }
        if self.parts:
            out["parts"] = {name: part.to_dict() for name, part in self.parts.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageStats:
        return cls(
            rows_in=data["rows_in"],
            rows_out=data["rows_out"],
            dropped=Counter(data["dropped"]),
            counters=Counter(data["counters"]),
            seconds=data["seconds"],
            parts={name: cls.from_dict(part) for name, part in data.get("parts", {}).items()},
        )

    @classmethod
    def total(cls, parts: Iterable[Mapping[str, Any]]) -> StageStats:
        out = cls()
        for p in parts:
            out.add(cls.from_dict(p))
        return out


# -- the one reject convention (its columns: factory.records.REJECT_FIELDS) ----------------------------------------


def mark_kept(row: dict[str, Any]) -> dict[str, Any]:
    """Give a row the reject columns, kept, unless it has them already (a stage run on its own)."""
    if "keep" not in row:
        row["keep"], row["reject_reason"], row["reject_details"] = True, None, None
    return row


def reject(row: dict[str, Any], reason: str, stats: StageStats, details: Mapping[str, Any] | None = None) -> None:
    """Mark ``row`` rejected for ``reason`` and count it; the first reason a row gets is the one it keeps."""
    row["keep"], row["reject_reason"] = False, reason
    row["reject_details"] = json.dumps(details, sort_keys=True, default=str) if details else None
    stats.dropped[reason] += 1


def by_problem(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive rows of one problem (a shard holds all of a problem's traces, together)."""
    for _, group in itertools.groupby(rows, key=lambda r: r["problem_id"]):
        yield list(group)


def batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` rows (the last may be shorter), pulled lazily from ``rows``."""
    rows = iter(rows)
    while batch := list(itertools.islice(rows, size)):
        yield batch


class Stage(ABC):
    """``run`` takes an iterator of rows and yields rows; it can be called alone on a list.

    ``schema`` says what the rows it yields hold, given what the rows it reads hold (``None`` for
    a stage that reads the recipe's source); the plan chains these. Heavy resources (an engine, a
    process pool) are created lazily inside ``run`` so a stage pickles cheaply and ships to
    another worker; ``close`` releases them.

    What an executor must know of a stage is declared, never probed:

    - ``streams``: the stage also has ``stream(inputs, window)``, which takes every pending shard
      at once and yields each one as it finishes (generate: the engine never drains at a shard's end);
    - ``restores``: its decisions depend on rows of earlier shards (run-wide dedup); before running
      the shards that are left, the executor calls ``restore(rows)`` with the ``restore_columns``
      of the shards already done, in order;
    - ``ordered``: an executor that runs shards in parallel (Ray) must run this stage's shards one at
      a time in shard order, in one process, as the local executor does;
    - ``exclusive``: it runs a model on this machine (a local judge, rewriter or reward model) and
      must not share it with the teacher's engine.
    """

    name: ClassVar[str]
    streams: ClassVar[bool] = False
    restores: ClassVar[bool] = False
    restore_columns: ClassVar[tuple[str, ...] | None] = None  # None: every column
    ordered: bool = False
    exclusive: bool = False

    @abstractmethod
    def schema(self, input: pa.Schema | None) -> pa.Schema: ...

    @abstractmethod
    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]: ...

    def restore(self, finished: Iterable[dict[str, Any]]) -> None:
        """Take the output of the shards already done (a stage that ``restores`` overrides this)."""
        raise NotImplementedError(f"{self.name} does not restore")

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        """Fill in the run summary's fields this stage's stats decide (nothing by default)."""

    def errors(self, stats: StageStats) -> Counter[str]:
        """The rows this stage could not make because the machinery failed (:mod:`factory.failures`),
        by cause: not data, retried by the next run. Only a stage that makes something (samples,
        verdicts, judgements, rewrites) has any; the default is none."""
        return Counter()

    def describe(self) -> dict[str, Any]:
        """The stage in ``plan.json``."""
        return {"name": self.name}

    def close(self) -> None:
        """Release what ``run`` created (an engine, a process pool); the stage can run again after."""
