"""Sharded Parquet on disk: atomic writes and streaming reads.

A run directory holds one folder per step output (``problems/``, ``traces/``, ``verified/``,
``selected/``, ``export/sft/``, ``export/rejected/``), each a set of ``shard-NNNNN.parquet`` files.
A shard is written under a temporary name and renamed into place, so a reader never sees half a
shard. When a shard counts as done (its completion marker) is the executors' business
(:mod:`factory.executors.base`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def write_shard(path: Path, rows: Iterable[dict[str, Any]], schema: pa.Schema, batch_size: int = 1024) -> int:
    """Write rows to ``path`` atomically, in batches; returns the row count (0 writes an empty file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    count = 0
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= batch_size:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    count += len(batch)
                    batch = []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def read_shard(path: Path, batch_size: int = 1024, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """Stream the rows of one Parquet file (only ``columns``, if given), a batch at a time."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns):
        yield from batch.to_pylist()


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


class RunDir:
    """Paths of one run."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def shard(self, folder: str, index: int) -> Path:
        return self.root / folder / f"{shard_name(index)}.parquet"

    def shards(self, folder: str) -> list[Path]:
        return sorted((self.root / folder).glob("shard-*.parquet"))
