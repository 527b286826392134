"""Finding and reading the user's input files: JSONL and Parquet, one file or a folder of them.

Every command that takes a data file (problem sources, benchmarks to decontaminate against, SFT
sets to train on or mix, responses to score) finds and reads it here, so they accept the same
forms and fail the same way: an error that names the recipe key or option, the file and the row.
The run folder's own shards are :mod:`factory.shards`' business.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

Format = Literal["jsonl", "parquet"]

SUFFIXES: dict[Format, tuple[str, ...]] = {
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "parquet": (".parquet", ".pq"),
}


class Malformed:
    """A row that could not be decoded (a bad JSON line); ``why`` says what is wrong with it."""

    def __init__(self, why: str) -> None:
        self.why = why


def file_format(path: Path, what: str = "input") -> Format:
    """The format a file's suffix names; anything else is an error naming ``what``."""
    suffix = path.suffix.lower()
    for fmt, suffixes in SUFFIXES.items():
        if suffix in suffixes:
            return fmt
    raise ValueError(f"{what}: cannot tell the format of {path} (use .jsonl or .parquet)")


def find_files(
    path: str | os.PathLike[str], what: str = "input", formats: Sequence[Format] = ("jsonl", "parquet")
) -> list[Path]:
    """``path`` itself if it is a file, else every file of ``formats`` in the folder, sorted (a folder
    holding both JSONL and Parquet files gives both).

    Raises ``ValueError`` naming ``what`` when the path does not exist or holds no such file.
    """
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        where = "" if p.is_absolute() else f" (relative to {Path.cwd()})"
        raise ValueError(f"{what}: file not found: {path}{where}")
    suffixes = tuple(s for fmt in formats for s in SUFFIXES[fmt])
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in suffixes)
    if not files:
        raise ValueError(f"{what}: {p} holds no {' or '.join(formats)} file")
    return files


def iter_records(
    path: Path, fmt: Format | None = None, batch_size: int = 1024, columns: Sequence[str] | None = None
) -> Iterator[tuple[str, Any]]:
    """``(location, row)`` for each row of one file, streaming; location reads ``file:row N``.

    ``fmt`` defaults to what the suffix names. A JSONL line that is not valid UTF-8 or not valid
    JSON comes back as a :class:`Malformed` row, so the caller decides whether it fails the run or
    is skipped; blank lines are not rows. An empty file (0 bytes) or a Parquet file that cannot be
    read is a ``ValueError`` naming the file (and the row it got to).
    """
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes)")
    if (fmt or file_format(path)) == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = 0
        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns):
                for row in batch.to_pylist():
                    n += 1
                    yield f"{path}:row {n}", row
        except (pa.ArrowException, OSError) as e:
            after = f" after row {n}" if n else ""
            raise ValueError(f"{path}: not a readable Parquet file{after} ({e})") from None
        return
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            where = f"{path}:row {n}"
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                yield where, Malformed(f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})")
                continue
            if not line.strip():
                continue
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as e:
                yield where, Malformed(f"not valid JSON ({e.msg} at column {e.colno})")


def read_records(path: str | os.PathLike[str], what: str = "input") -> list[dict[str, Any]]:
    """Every row of a file or folder as dicts; a row that is not a JSON object raises naming it."""
    rows: list[dict[str, Any]] = []
    for f in find_files(path, what):
        for where, row in iter_records(f):
            if isinstance(row, Malformed):
                raise ValueError(f"{what}: {where}: {row.why}")
            if not isinstance(row, dict):
                raise ValueError(f"{what}: {where}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def write_records(path: str | os.PathLike[str], rows: Sequence[dict[str, Any]]) -> None:
    """Write rows as JSONL or Parquet (by the suffix), atomically: a temporary name, then a rename."""
    p = Path(path)
    fmt = file_format(p, "output")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(list(rows)), tmp)
        else:
            with tmp.open("w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
