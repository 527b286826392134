"""Sharded Parquet in a run folder, on a local disk, a shared filesystem or an object store.

A run folder holds one folder per step output (``problems/``, ``traces/``, ``verified/``,
``selected/``, ``export/sft/``, ``export/rejected/``), each a set of ``shard-NNNNN.parquet`` files.
A shard (and every JSON file) is written under a temporary name and then moved into place, so a
reader never sees half of one: a rename on a local or shared filesystem, a server-side copy of a
finished object on an object store, both all-or-nothing. When a shard counts as done (its
completion marker) is the executors' business (:mod:`factory.executors.base`).

Where the folder lives is its location, as the recipe's ``run_dir`` says it: a path, or a URI
that :func:`pyarrow.fs.FileSystem.from_uri` opens (``s3://bucket/runs/x``, ``gs://…``,
``hdfs://…``; S3 options ride in the query, e.g. ``?endpoint_override=host:9000&scheme=http``),
or that fsspec opens for any other protocol it has installed (``abfs://…``). Credentials come
from the environment (``AWS_ACCESS_KEY_ID``, an instance role, …), never from the recipe.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

LOCAL = pafs.LocalFileSystem()


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def is_uri(location: str | Path) -> bool:
    return "://" in str(location)


def open_location(location: str | Path) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path inside it of a local path or a URI."""
    if not is_uri(location):
        return LOCAL, str(Path(location).absolute())
    try:
        return pafs.FileSystem.from_uri(str(location))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as arrow_error:  # a protocol pyarrow has no native client for
        try:
            import fsspec

            fs, path = fsspec.core.url_to_fs(str(location))
        except (ImportError, ValueError) as e:
            raise ValueError(f"run_dir: cannot open {redact(location)!r} ({arrow_error}; fsspec: {e})") from None
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def redact(location: str | Path) -> str:
    """The location without a password in it (``s3://key:secret@bucket`` -> ``s3://key:***@bucket``)."""
    text = str(location)
    if not is_uri(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def _in(fs: pafs.FileSystem, path: str | Path) -> str:
    """A path as ``fs`` takes it (pyarrow's local filesystem wants absolute paths)."""
    return str(Path(path).absolute()) if isinstance(fs, pafs.LocalFileSystem) else str(path)


def _tmp_name(path: str) -> str:
    head, _, name = path.rpartition("/")
    return f"{head}/.{name}.tmp-{os.getpid()}"


@contextlib.contextmanager
def _atomic(fs: pafs.FileSystem, path: str) -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success move it into place, else remove it."""
    folder = path.rpartition("/")[0]
    try:
        fs.create_dir(folder, recursive=True)
    except OSError as e:
        raise _named(e, folder) from e
    tmp, moved = _tmp_name(path), False
    try:
        yield tmp
        fs.move(tmp, path)
        moved = True
    except OSError as e:
        raise _named(e, path) from e
    finally:
        if not moved:
            with contextlib.suppress(OSError):  # FileNotFoundError included: it was never written
                fs.delete_file(tmp)


def _named(e: OSError, path: str) -> OSError:
    """``e`` as an OSError that names its file and errno (Arrow's I/O errors have them only in their text)."""
    if e.filename is not None:
        return e
    code = e.errno
    if code is None and (m := re.search(r"\[errno (\d+)\]", str(e))):
        code = int(m.group(1))
    return OSError(code, os.strerror(code) if code else str(e), path)


def write_shard(
    path: str | Path,
    rows: Iterable[dict[str, Any]],
    schema: pa.Schema,
    batch_size: int = 1024,
    fs: pafs.FileSystem = LOCAL,
) -> int:
    """Write rows to ``path`` atomically, in batches; returns the row count (0 writes an empty file)."""
    path = _in(fs, path)
    count = 0
    with _atomic(fs, path) as tmp, fs.open_output_stream(tmp) as sink, pq.ParquetWriter(sink, schema) as writer:
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
    return count


def read_shard(
    path: str | Path, batch_size: int = 1024, columns: Sequence[str] | None = None, fs: pafs.FileSystem = LOCAL
) -> Iterator[dict[str, Any]]:
    """Stream the rows of one Parquet file (only ``columns``, if given), a batch at a time."""
    with fs.open_input_file(_in(fs, path)) as source:
        for batch in pq.ParquetFile(source).iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()


def write_text(path: str | Path, text: str, fs: pafs.FileSystem = LOCAL) -> None:
    path = _in(fs, path)
    with _atomic(fs, path) as tmp, fs.open_output_stream(tmp) as sink:
        sink.write(text.encode())


def write_json(path: str | Path, data: Any, fs: pafs.FileSystem = LOCAL) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", fs)


class RunDir:
    """One run folder: its paths and files, wherever it lives (see the module docstring).

    Paths are strings inside :attr:`fs` (``run.path("stats", "verify.json")``); ``location`` is
    the folder as the recipe wrote it, which a worker on another machine opens again.
    """

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.fs, self.root = open_location(location)

    def __str__(self) -> str:
        return redact(self.location)

    @property
    def address(self) -> str:
        """What a worker in another process or on another machine opens: the absolute path or the URI."""
        return self.location if is_uri(self.location) else self.root

    def display(self, *parts: str) -> str:
        """The folder (or a folder in it) named as the recipe names it, without a password."""
        if not is_uri(self.location):
            return str(Path(self.location, *parts))
        u = urlsplit(redact(self.location))
        return urlunsplit(u._replace(path="/".join([u.path.rstrip("/"), *parts])))

    @property
    def local(self) -> Path | None:
        """The folder as a local path, when it is one (a shared filesystem counts)."""
        return Path(self.root) if isinstance(self.fs, pafs.LocalFileSystem) else None

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def shard(self, folder: str, index: int) -> str:
        return self.path(folder, f"{shard_name(index)}.parquet")

    def shards(self, folder: str) -> list[str]:
        return self.files(folder, "shard-", ".parquet")

    def files(self, folder: str, prefix: str = "", suffix: str = "") -> list[str]:
        """The paths of the files directly in ``folder`` named ``prefix…suffix``, sorted; none if it is missing."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(folder), allow_not_found=True))
        return sorted(
            i.path for i in infos if i.is_file and i.base_name.startswith(prefix) and i.base_name.endswith(suffix)
        )

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound

    def read_text(self, *parts: str) -> str:
        with self.fs.open_input_stream(self.path(*parts)) as f:
            return f.read().decode()

    def read_json(self, *parts: str) -> Any:
        return json.loads(self.read_text(*parts))

    def write_text(self, rel: str, text: str) -> None:
        write_text(self.path(rel), text, self.fs)

    def write_json(self, rel: str, data: Any) -> None:
        write_json(self.path(rel), data, self.fs)

    def upload(self, local: Path, rel: str) -> None:
        """Copy a local file into the folder (atomically)."""
        with _atomic(self.fs, self.path(rel)) as tmp:
            pafs.copy_files(str(local), tmp, source_filesystem=LOCAL, destination_filesystem=self.fs)

    def remove(self, rel: str) -> None:
        """Delete a file or a folder with everything in it; nothing if it is missing."""
        path = self.path(rel)
        kind = self.fs.get_file_info(path).type
        if kind == pafs.FileType.Directory:
            self.fs.delete_dir(path)
        elif kind == pafs.FileType.File:
            self.fs.delete_file(path)

    def remove_temp_files(self) -> list[str]:
        """Delete the temporary files (``.NAME.tmp-PID``) that killed writers left; returns their paths.
        Only for the run that holds the folder's lock: no other writer can be using them."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.root, recursive=True, allow_not_found=True))
        stale = [i.path for i in infos if i.is_file and i.base_name.startswith(".") and ".tmp-" in i.base_name]
        for path in stale:
            self.fs.delete_file(path)
        return stale

    def write_shard(self, path: str, rows: Iterable[dict[str, Any]], schema: pa.Schema) -> int:
        return write_shard(path, rows, schema, fs=self.fs)

    def read_shard(self, path: str, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        return read_shard(path, columns=columns, fs=self.fs)

    def parquet(self, path: str) -> pq.ParquetFile:
        """One shard opened for reading its metadata or some of its columns."""
        return pq.ParquetFile(self.fs.open_input_file(path))
