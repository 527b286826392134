"""Decontamination: drop problems that share word n-grams with a benchmark, before generation.

Benchmarks are local JSONL/Parquet files (a file or a folder of them) that the recipe names; the
problem text is read from ``field`` (default: the first of :data:`TEXT_FIELDS` present). Both
sides are normalised the same way, following open-r1 and datatrove: lower case, punctuation
separates words and is dropped, whitespace collapsed; then every run of ``ngram`` words (13 by
default, as datatrove; 8 as open-r1 offered) of each benchmark problem is indexed. A problem is
contaminated when it shares at least ``min_matches`` distinct n-grams with one benchmark. A
benchmark problem shorter than ``ngram`` words is indexed whole, so it matches a problem that
contains it verbatim.

Contaminated problems are marked (``reject_reason = "contaminated"``, ``reject_details`` naming
the benchmark, its item and the first shared n-gram); the read step writes them to
``problems_rejected/`` and the report lists them. Hashes are 64-bit, so a false match needs a hash
collision (about 1 in 10^19 per pair of n-grams).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from factory.files import Malformed, find_files, iter_records
from factory.hashing import WORD_CLASSES, ngram_hashes, token_hashes
from factory.recipe import BenchmarkFile, DecontaminateConfig
from factory.records import REJECT_FIELDS, merge_schemas
from factory.stages.base import Stage, StageStats, batched, mark_kept, reject
from factory.stages.dedup import problem_text
from factory.summary import RunSummary

CONTAMINATED = "contaminated"
TEXT_FIELDS = ("problem", "question", "Question", "prompt", "question_content", "input", "text")
_WORDS = re.compile(r"[a-z0-9_\x80-\U0010ffff]+")


@dataclass(frozen=True)
class Hit:
    benchmark: str
    benchmark_id: str
    ngram: str  # the first shared n-gram, as normalised words
    matches: int  # distinct shared n-grams with that benchmark


def words(text: str) -> list[str]:
    """The normalised words n-grams are made of (as the hashing sees them)."""
    return _WORDS.findall(text.encode("utf-8", "replace").lower().decode("utf-8", "replace"))


def read_benchmark(spec: BenchmarkFile) -> tuple[str, list[tuple[str, str]]]:
    """``(name, [(item id, problem text)])`` of one benchmark file or folder."""
    path = Path(spec.path)
    files = find_files(path, "decontaminate.benchmarks")
    name = spec.name or (path.stem if path.is_file() else path.name)
    items: list[tuple[str, str]] = []
    for f in files:
        for n, (where, row) in enumerate(iter_records(f), 1):
            if isinstance(row, Malformed):
                raise ValueError(f"decontaminate.benchmarks: {where}: {row.why}")
            field = spec.field or next((k for k in TEXT_FIELDS if k in row), None)
            if field is None or field not in row:
                raise ValueError(
                    f"decontaminate.benchmarks: {f}:row {n} has no {spec.field or ' / '.join(TEXT_FIELDS)} "
                    "column; set field"
                )
            if row[field] is None:
                continue
            ident = row.get(spec.id_field or "id", f"{f.stem}:{n}")
            items.append((str(ident), str(row[field])))
    return name, items


class BenchmarkIndex:
    """Word n-gram hashes of benchmark problems -> (benchmark, item)."""

    def __init__(self, ngram: int = 13) -> None:
        self.ngram = ngram
        self.grams: dict[int, tuple[int, int]] = {}
        self.short: set[int] = set()  # lengths (< ngram) of benchmark problems indexed whole
        self.names: list[str] = []
        self.items: list[list[tuple[str, str]]] = []

    def add(self, name: str, items: list[tuple[str, str]]) -> None:
        b = len(self.names)
        self.names.append(name)
        self.items.append([(ident, text[:200]) for ident, text in items])
        for lo in range(0, len(items), 1024):
            chunk = items[lo : lo + 1024]
            hashes, counts = token_hashes([t for _, t in chunk], WORD_CLASSES)
            grams, doc = ngram_hashes(hashes, counts, self.ngram)
            for g, d in zip(grams.tolist(), doc.tolist(), strict=True):
                self.grams.setdefault(g, (b, lo + d))
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            for d in np.flatnonzero((counts > 0) & (counts < self.ngram)).tolist():
                m = int(counts[d])
                g, _ = ngram_hashes(hashes[starts[d] : starts[d] + m], np.array([m]), m)
                self.grams.setdefault(int(g[0]), (b, lo + d))
                self.short.add(m)

    def __len__(self) -> int:
        return sum(len(i) for i in self.items)

    def check(self, texts: list[str], min_matches: int = 1) -> list[Hit | None]:
        """The contamination hit of each text, or None."""
        hashes, counts = token_hashes(texts, WORD_CLASSES)
        found: list[Counter[int]] = [Counter() for _ in texts]  # benchmark -> distinct shared grams
        first: list[dict[int, tuple[int, int]]] = [{} for _ in texts]  # benchmark -> (gram, item)
        for n in (self.ngram, *sorted(self.short)):
            grams, doc = ngram_hashes(hashes, counts, n)
            seen: set[tuple[int, int]] = set()
            for g, d in zip(grams.tolist(), doc.tolist(), strict=True):
                where = self.grams.get(g)
                if where is None or (g, d) in seen:
                    continue
                seen.add((g, d))
                found[d][where[0]] += 1
                first[d].setdefault(where[0], (g, where[1]))
        out: list[Hit | None] = []
        for i, text in enumerate(texts):
            best = [(n, b) for b, n in found[i].items() if n >= min_matches]
            if not best:
                out.append(None)
                continue
            n, b = max(best, key=lambda x: (x[0], -x[1]))
            gram, item = first[i][b]
            out.append(Hit(self.names[b], self.items[b][item][0], self._gram_text(text, gram), n))
        return out

    def _gram_text(self, text: str, gram: int) -> str:
        ws = words(text)
        for n in (self.ngram, *sorted(self.short)):
            hashes, counts = token_hashes([text], WORD_CLASSES)
            grams, _ = ngram_hashes(hashes, counts, n)
            where = np.flatnonzero(grams == np.uint64(gram))
            if len(where) and len(ws) == len(hashes):
                return " ".join(ws[int(where[0]) : int(where[0]) + n])
        return ""


def load_index(config: DecontaminateConfig) -> BenchmarkIndex:
    index = BenchmarkIndex(config.ngram)
    for spec in config.benchmarks:
        index.add(*read_benchmark(spec))
    return index


class ProblemDecontaminator(Stage):
    """Problems -> problems, marking the contaminated ones (see the module docstring).

    Per benchmark (``stats.parts[name]``): ``counters["items"]`` indexed, ``dropped["contaminated"]`` matched.
    """

    name: ClassVar[str] = "decontaminate"

    def __init__(self, config: DecontaminateConfig, batch_size: int = 512) -> None:
        self.config = config
        self.batch_size = batch_size
        self._index: BenchmarkIndex | None = None

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return merge_schemas(input, REJECT_FIELDS)

    def index(self) -> BenchmarkIndex:
        if self._index is None:
            self._index = load_index(self.config)
        return self._index

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        index = self.index()
        for name, items in zip(index.names, index.items, strict=True):
            stats.part(name).counters["items"] = len(items)
        for batch in batched(rows, self.batch_size):
            todo = [r for r in batch if mark_kept(r)["keep"]]
            for row, hit in zip(
                todo, index.check([problem_text(r) for r in todo], self.config.min_matches), strict=True
            ):
                stats.rows_in += 1
                if hit is None:
                    stats.rows_out += 1
                    continue
                details = {
                    "benchmark": hit.benchmark,
                    "benchmark_id": hit.benchmark_id,
                    "ngram": hit.ngram,
                    "matches": hit.matches,
                }
                reject(row, CONTAMINATED, stats, details)
                stats.part(hit.benchmark).dropped[CONTAMINATED] += 1
            yield from batch

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        summary.drop_problems(stats.dropped)

    def close(self) -> None:
        self._index = None
