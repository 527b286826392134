"""Read problems from JSONL, Parquet or a Hugging Face ``datasets`` dataset, mapping field names.

Sources stream: JSONL line by line, Parquet a record batch at a time, ``datasets`` row by row
(memory-mapped Arrow). A folder gives every JSONL and Parquet file in it, in name order. A
malformed row (not UTF-8, not JSON, a field of the wrong type, a duplicate id) raises
:class:`BadRowError` naming the file and row, unless the recipe says ``on_bad_row: skip``; then it
is counted under ``dropped`` and the run goes on. A file that cannot be read at all (empty, not
Parquet) always stops the run, naming the file. A path that looks local is never looked up on the
Hub (:func:`_detect_format`). :class:`ProblemChecker` then rejects problems that are themselves
unusable (a blank gold answer, an oversized prompt), with their reason.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from factory.files import SUFFIXES, Malformed, file_format, find_files, iter_records
from factory.recipe import SourceConfig
from factory.records import PROBLEM_SCHEMA, REJECT_FIELDS, Problem, merge_schemas
from factory.stages.base import Stage, StageStats, mark_kept, reject
from factory.summary import RunSummary

log = logging.getLogger(__name__)

PROBLEM_FIELDS = [f.name for f in dataclasses.fields(Problem)]


class BadRowError(ValueError):
    """A source row that cannot become a Problem; the message names the file and row."""


class ProblemReader(Stage):
    """The first stage: yields problem rows from the recipe's source (its ``rows`` input is ignored)."""

    name: ClassVar[str] = "read"

    def __init__(self, source: SourceConfig) -> None:
        unknown = set(source.fields) - set(PROBLEM_FIELDS)
        if unknown:
            raise ValueError(
                f"source.fields: unknown problem field(s) {sorted(unknown)} (known: {', '.join(PROBLEM_FIELDS)})"
            )
        unknown = set(source.defaults) - set(PROBLEM_FIELDS)
        if unknown:
            raise ValueError(f"source.defaults: unknown problem field(s) {sorted(unknown)}")
        self.source = source

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return PROBLEM_SCHEMA

    def run(self, rows: Iterable[dict[str, Any]] | None, stats: StageStats) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        produced = 0
        for where, raw in self._raw_rows():
            if self.source.limit is not None and produced >= self.source.limit:
                break
            stats.rows_in += 1
            try:
                problem = self._to_problem(raw, where)
                if problem.id in seen:
                    raise BadRowError(f"{where}: duplicate problem id {problem.id!r}")
            except BadRowError as e:
                if self.source.on_bad_row == "fail":
                    raise
                log.warning("skipping bad row: %s", e)
                stats.dropped["bad_row"] += 1
                continue
            seen.add(problem.id)
            produced += 1
            stats.rows_out += 1
            yield problem.to_row()

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        summary.problems += stats.rows_out
        summary.bad_rows += stats.dropped.get("bad_row", 0)

    # -- sources --------------------------------------------------------------------------------

    def _raw_rows(self) -> Iterator[tuple[str, Any]]:
        """(location, raw row) pairs; location reads ``file:row N`` (1-based)."""
        fmt, path = self.source.format, Path(self.source.path)
        if fmt == "auto":
            fmt = _detect_format(self.source.path)
        if fmt in ("files", "jsonl", "parquet"):
            formats = ["jsonl", "parquet"] if fmt == "files" else [fmt]
            for f in find_files(self.source.path, "source.path", formats=formats):
                kind = file_format(f, "source.path") if fmt == "files" else fmt
                try:
                    yield from iter_records(f, kind)
                except ValueError as e:  # the file as a whole: empty, or not Parquet
                    raise ValueError(f"source.path: {e}") from None
        elif fmt == "hf_disk":
            import datasets

            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                ds = ds[self._split(list(ds))]
            for i, row in enumerate(ds):
                yield f"{path}:row {i + 1}", row
        else:  # hf_hub: works only where the hub is reachable
            import datasets

            ds = datasets.load_dataset(self.source.path, split=self.source.split or "train", streaming=True)
            for i, row in enumerate(ds):
                yield f"{self.source.path}:row {i + 1}", row

    def _split(self, splits: list[str]) -> str:
        if self.source.split:
            if self.source.split not in splits:
                raise ValueError(f"source.split: {self.source.split!r} not in {splits}")
            return self.source.split
        if len(splits) == 1:
            return splits[0]
        if "train" in splits:
            return "train"
        raise ValueError(f"source.split: the dataset has splits {splits}; name one")

    # -- mapping ----------------------------------------------------------------------------------

    def _to_problem(self, raw: Any, where: str) -> Problem:
        if isinstance(raw, Malformed):
            raise BadRowError(f"{where}: {raw.why}")
        if not isinstance(raw, dict):
            raise BadRowError(f"{where}: expected an object, got {type(raw).__name__}")
        mapping = {name: self.source.fields.get(name, name) for name in PROBLEM_FIELDS}
        for name, column in self.source.fields.items():
            if column not in raw and name not in self.source.defaults:
                raise BadRowError(f"{where}: missing column {column!r} (mapped to {name!r})")
        values: dict[str, Any] = {}
        for name, column in mapping.items():
            if column in raw and raw[column] is not None:
                values[name] = raw[column]
            elif name in self.source.defaults:
                values[name] = self.source.defaults[name]
        used = set(mapping.values())
        extra = {k: v for k, v in raw.items() if k not in used}
        try:
            return Problem(
                id=_text(values.get("id"), "id", where) or _fallback_id(where),
                source=_text(values.get("source"), "source", where) or Path(self.source.path).stem,
                prompt=_text(values.get("prompt"), "prompt", where),
                messages=_messages(values.get("messages"), where),
                gold=_text(values.get("gold"), "gold", where),
                tests=_json_text(values.get("tests"), "tests", where),
                domain=_text(values.get("domain"), "domain", where) or "math",
                language=_text(values.get("language"), "language", where) or "en",
                metadata=_metadata(values.get("metadata"), extra, where),
            )
        except BadRowError:
            raise
        except ValueError as e:
            raise BadRowError(f"{where}: {e}") from None


EMPTY_GOLD = "empty_gold"
PROMPT_TOO_LONG_CHARS = "prompt_too_long_chars"


class ProblemChecker(Stage):
    """Problems -> problems: a problem that is itself unusable is rejected before anything is
    generated for it, with its reason (the read step writes it to ``problems_rejected/``):

    - ``empty_gold``: its gold answer is blank and it has no tests (no trace of it could be
      verified; a problem without a gold answer leaves the column null, for ``vote`` to label);
    - ``prompt_too_long_chars``: its prompt (or its chat's turns together) is longer than
      ``source.max_prompt_chars`` characters (``reject_details`` holds its length)."""

    name: ClassVar[str] = "problem_check"

    def __init__(self, source: SourceConfig) -> None:
        self.max_chars = source.max_prompt_chars

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return merge_schemas(input, REJECT_FIELDS)

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for row in rows:
            if mark_kept(row)["keep"]:
                stats.rows_in += 1
                chars = len(row["prompt"] or "") + sum(len(m["content"]) for m in row["messages"] or [])
                if row["gold"] is not None and not row["gold"].strip() and row["tests"] is None:
                    reject(row, EMPTY_GOLD, stats)
                elif self.max_chars is not None and chars > self.max_chars:
                    reject(row, PROMPT_TOO_LONG_CHARS, stats, {"chars": chars, "max_prompt_chars": self.max_chars})
                else:
                    stats.rows_out += 1
            yield row

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        summary.drop_problems(stats.dropped)


def _detect_format(name: str) -> str:
    """``files`` (one file, or every JSONL and Parquet file of a folder), ``hf_disk`` or ``hf_hub``.

    Only a name that cannot be a local path goes to the Hub (``org/name``, no file suffix): a path
    with a suffix, a leading ``.``, ``/`` or ``~``, or more than one folder is local, so a typo in
    it is a file-not-found error, never a wait on the network."""
    path = Path(name)
    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
        return "hf_disk"
    local = (
        path.exists()
        or name.startswith((".", "/", "~"))
        or name.count("/") != 1
        or path.suffix.lower() in LOCAL_SUFFIXES
    )
    return "files" if local else "hf_hub"


# Suffixes that make a source path a file, not a Hub name (a Hub name may hold a dot: org/name-1.5).
LOCAL_SUFFIXES = {s for suffixes in SUFFIXES.values() for s in suffixes} | {".csv", ".tsv", ".txt", ".arrow", ".gz"}


def _text(value: Any, name: str, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRowError(f"{where}: field {name!r} must be text or a number, got {type(value).__name__}")
    return str(value)


def _json_text(value: Any, name: str, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError:
            raise BadRowError(f"{where}: field {name!r} is a string but not valid JSON") from None
        return value
    return json.dumps(value)


def _messages(value: Any, where: str) -> list[dict[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
    ):
        raise BadRowError(f"{where}: field 'messages' must be a list of {{role, content}} strings")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _metadata(value: Any, extra: dict[str, Any], where: str) -> str:
    meta: dict[str, Any] = {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise BadRowError(f"{where}: field 'metadata' is a string but not valid JSON") from None
    if isinstance(value, dict):
        meta.update(value)
    elif value is not None:
        raise BadRowError(f"{where}: field 'metadata' must be an object")
    meta.update(extra)  # source columns the recipe did not map are kept, not lost
    return json.dumps(meta, default=str, sort_keys=True)


def _fallback_id(where: str) -> str:
    return where.rsplit("/", 1)[-1].replace(":row ", "-")
