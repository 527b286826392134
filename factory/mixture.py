"""Mix several exported sets into one, with weights (``factory mix``).

The R1 recipe mixed ~600k reasoning with ~200k non-reasoning samples; a mixture here is a list of
Parquet sets (files or folders, e.g. runs' ``export/sft``) each with a weight. A weight scales the
set: ``1`` takes every row once, ``0.5`` a seeded random half, ``2.5`` every row twice plus a
random half again. With ``total`` the weights are rescaled together so the mixture has that many
rows (keeping their proportions of weighted sizes).

The output keeps the columns all inputs share (same name and type) plus ``mix_source``, the
input's name. It streams: rows are read a batch at a time, the inputs are interleaved at random
in proportion to what each has left, and a bounded shuffle buffer spreads repeated rows, so
memory stays at one buffer whatever the sizes. The same inputs and seed give the same mixture.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from factory.files import find_files
from factory.shards import shard_name, write_json, write_shard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MixInput:
    path: str
    weight: float = 1.0
    name: str | None = None

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        p = Path(self.path)
        if p.parent.name == "export":  # a run's export/sft: name it after the run
            return f"{p.parent.parent.name}/{p.name}"
        return p.stem


def parse_input(spec: str) -> MixInput:
    """``PATH``, ``PATH=WEIGHT`` or ``NAME:PATH=WEIGHT`` (the weight after the last ``=``)."""
    path, sep, weight = spec.rpartition("=")
    if not sep:
        path, weight = spec, "1"
    name = None
    if ":" in path and not Path(path).exists():
        name, path = path.split(":", 1)
    try:
        w = float(weight)
    except ValueError:
        raise ValueError(f"mix input {spec!r}: weight {weight!r} is not a number") from None
    if w < 0:
        raise ValueError(f"mix input {spec!r}: weight must be >= 0")
    return MixInput(path, w, name)


def plan(sizes: Sequence[int], weights: Sequence[float], total: int | None = None) -> list[int]:
    """Rows taken from each input."""
    wanted = [w * n for w, n in zip(weights, sizes, strict=True)]
    if total is not None:
        s = sum(wanted)
        if s == 0:
            raise ValueError("mix: every input has weight 0 or no rows")
        wanted = [total * x / s for x in wanted]
    counts = [int(round(x)) for x in wanted]
    if total is not None and counts:  # rounding: put the difference on the largest input
        counts[int(np.argmax(wanted))] += total - sum(counts)
    return counts


def multiplicity(size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """How many times each of ``size`` rows is taken so that ``count`` rows are taken in all."""
    reps = np.full(size, count // size if size else 0, dtype=np.int32)
    extra = count - int(reps.sum())
    if extra:
        reps[rng.choice(size, extra, replace=False)] += 1
    return reps


def mix(
    inputs: Sequence[MixInput],
    out_dir: str | Path,
    *,
    total: int | None = None,
    seed: int = 0,
    shard_rows: int = 50_000,
    buffer_rows: int = 10_000,
) -> dict[str, Any]:
    """Write the mixture to ``out_dir/shard-NNNNN.parquet`` and ``out_dir/_mix.json``; returns the summary."""
    out = Path(out_dir)
    if out.exists() and any(out.glob("shard-*.parquet")):
        raise ValueError(f"mix: {out} already holds a dataset; choose a new folder")
    if not inputs:
        raise ValueError("mix: no inputs")
    files = [find_files(i.path, f"mix input {i.path}", formats=["parquet"]) for i in inputs]
    schemas = [pq.read_schema(f[0]) for f in files]
    common = [
        f
        for f in schemas[0]
        if all(s.get_field_index(f.name) >= 0 and s.field(f.name).type == f.type for s in schemas[1:])
    ]
    if not common:
        raise ValueError("mix: the inputs share no column")
    for inp, s in zip(inputs, schemas, strict=True):
        dropped = sorted(set(s.names) - {f.name for f in common})
        if dropped:
            log.warning("mix: %s: columns not shared by every input are left out: %s", inp.label, ", ".join(dropped))
    schema = pa.schema([*common, ("mix_source", pa.string())])
    sizes = [sum(pq.ParquetFile(p).metadata.num_rows for p in f) for f in files]
    counts = plan(sizes, [i.weight for i in inputs], total)
    rng = np.random.default_rng(seed)
    reps = [multiplicity(n, c, rng) for n, c in zip(sizes, counts, strict=True)]
    columns = [f.name for f in common]
    streams = [_stream(f, r, columns, inp.label) for f, r, inp in zip(files, reps, inputs, strict=True)]
    rows = _shuffle(_interleave(streams, counts, random.Random(seed)), buffer_rows, random.Random(seed + 1))
    written, index = 0, 0
    while True:
        chunk = [row for _, row in zip(range(shard_rows), rows, strict=False)]
        if not chunk:
            break
        written += write_shard(out / f"{shard_name(index)}.parquet", chunk, schema)
        index += 1
    summary = {
        "rows": written,
        "seed": seed,
        "total": total,
        "inputs": [
            {"name": i.label, "path": i.path, "weight": i.weight, "rows_in": n, "rows_out": c}
            for i, n, c in zip(inputs, sizes, counts, strict=True)
        ],
        "columns": schema.names,
    }
    write_json(out / "_mix.json", summary)  # "_" so Parquet readers of the folder skip it
    return summary


def _stream(files: list[Path], reps: np.ndarray, columns: list[str], label: str) -> Iterator[dict[str, Any]]:
    i = 0
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(columns=columns, batch_size=1024):
            r = reps[i : i + batch.num_rows]
            i += batch.num_rows
            if not r.any():
                continue
            for row, times in zip(batch.to_pylist(), r.tolist(), strict=True):
                row["mix_source"] = label
                for _ in range(times):
                    yield row


def _interleave(
    streams: list[Iterator[dict[str, Any]]], counts: list[int], rng: random.Random
) -> Iterator[dict[str, Any]]:
    """Draw the next row from an input with probability proportional to the rows it has left."""
    left = list(counts)
    while any(left):
        j = rng.choices(range(len(left)), weights=left)[0]
        left[j] -= 1
        yield next(streams[j])


def _shuffle(rows: Iterator[dict[str, Any]], size: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    buf: list[dict[str, Any]] = []
    for row in rows:
        if len(buf) < size:
            buf.append(row)
            continue
        j = rng.randrange(size)
        yield buf[j]
        buf[j] = row
    rng.shuffle(buf)
    yield from buf
