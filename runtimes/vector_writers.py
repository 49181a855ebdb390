"""Write the vectors of a file encode, a chunk at a time: Parquet, .npy or JSONL in any `vector_precisions` precision.

Each chunk becomes a part file in a work folder (complete or absent), so a killed run resumes after its last
complete chunk; a sink turns the parts, in order, into the output, which equals one written in a single run.
One `PartWriter` subclass per output format says how a part is written and which sink joins the parts.
"""

from __future__ import annotations

import contextlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from static_edge.runtimes.errors import InputError
from static_edge.runtimes.pyarrow_extra import require_pyarrow
from static_edge.runtimes.vector_precisions import PRECISIONS

OUTPUT_SUFFIXES = {".parquet": "parquet", ".npy": "npy", ".jsonl": "jsonl", ".ndjson": "jsonl"}

PARQUET_OPTIONS = {"use_dictionary": False, "compression": "none"}
"""Vectors are high-entropy floats: a dictionary (pyarrow's default) costs memory and time for nothing, and
compression saves a few percent at best."""

PARQUET_ROW_GROUP = 8192
"""Rows per row group of a Parquet output: 8 MB of float32 vectors at 256 dims, a unit readers can skip by."""


def output_format(path: Path) -> str:
    """The output format named by the suffix.

    :raises InputError: for a suffix that is none of .parquet, .npy, .jsonl.
    """
    suffix = path.suffix.lower()
    found = OUTPUT_SUFFIXES.get(suffix)
    if found is None:
        raise InputError(f"output {path} must end in .parquet, .npy or .jsonl (got {suffix or 'no suffix'!r})")
    return found


class OutputSink(ABC):
    """Receives the parts of an output in order; `close` completes the file, `discard` drops it."""

    @abstractmethod
    def add(self, part: Path, table: Any = None) -> None:
        """Take the next part (and its Arrow table when the writer made one)."""

    @abstractmethod
    def close(self) -> None:
        """Complete the output file."""

    def discard(self) -> None:  # noqa: B027 - a sink that holds no open file has nothing to release
        """Release the file after a failure (the caller removes it)."""


class ParquetSink(OutputSink):
    """Writes each part's rows as row groups of the output as the part comes (in the writer's thread, so Parquet's
    encoding overlaps embedding): no second pass over the parts at the end."""

    def __init__(self, output: Path):
        self.output = output
        self._writer: Any = None

    def add(self, part: Path, table: Any = None) -> None:
        """Append the part's rows (read back from its Arrow file when resuming)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if table is None:
            with pa.memory_map(str(part)) as source:
                table = pa.ipc.open_file(source).read_all()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.output, table.schema, **PARQUET_OPTIONS)
        self._writer.write_table(table, row_group_size=PARQUET_ROW_GROUP)

    def close(self) -> None:
        """Write the footer."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        """Close the file without caring what it holds."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None


class JoinedSink(OutputSink):
    """Collects the parts; `close` joins their bytes, after `header(out, bytes of all parts)` when given."""

    def __init__(self, output: Path, header: Callable[[IO[bytes], int], None] | None = None):
        self.output, self.header, self.parts = output, header, []

    def add(self, part: Path, table: Any = None) -> None:
        """Remember the part."""
        self.parts.append(part)

    def close(self) -> None:
        """Join the parts into the output."""
        with self.output.open("wb") as out:
            if self.header is not None:
                self.header(out, sum(p.stat().st_size for p in self.parts))
            for part in self.parts:
                with part.open("rb") as f:
                    while block := f.read(1 << 22):
                        out.write(block)


class PartWriter(ABC):
    """Writes each chunk of vectors as a part file; its `sink` makes the output from the parts in order.

    :param precision: a name of `PRECISIONS`.
    :param dims: the length of every vector.
    :param metadata: schema metadata of a Parquet output (which bundle and settings made the vectors).
    :raises InputError: for an unknown precision, or one the format cannot store.
    """

    fmt: ClassVar[str]
    part_suffix: ClassVar[str]

    def __init__(self, precision: str, dims: int, metadata: dict[str, str]):
        if precision not in PRECISIONS:
            raise InputError(f"unknown precision {precision!r}; choose one of {tuple(PRECISIONS)}")
        self.precision, self.dims, self.metadata = PRECISIONS[precision], dims, metadata

    def write_part(self, path: Path, ids: list[Any], vectors: np.ndarray) -> Any:
        """Write one chunk to `path` (complete or absent: written beside it, then renamed).

        Returns what the output's `sink` takes with the part: for Parquet its Arrow table, else None.
        """
        values, scales = self.precision.quantize(vectors)
        partial = path.with_name(path.name + ".tmp")
        table = self._write(partial, ids, values, scales)
        os.replace(partial, path)
        return table

    @abstractmethod
    def _write(self, path: Path, ids: list[Any], values: np.ndarray, scales: np.ndarray | None) -> Any:
        """Write quantized rows to `path`."""

    @abstractmethod
    def sink(self, output: Path) -> OutputSink:
        """Where the parts go, in order, to become `output`."""


class ParquetParts(PartWriter):
    """Parts are Arrow IPC files (raw buffers: Parquet's list encoding costs more than the embedding), written to
    the output as row groups as each comes: columns `id`, `vector` (and `scale` for a scaled precision)."""

    fmt = "parquet"
    part_suffix = ".arrow"

    def __init__(self, precision: str, dims: int, metadata: dict[str, str]):
        super().__init__(precision, dims, metadata)
        require_pyarrow("Parquet output")

    def _write(self, path: Path, ids: list[Any], values: np.ndarray, scales: np.ndarray | None) -> Any:
        import pyarrow as pa

        table = self._table(ids, values, scales)
        with pa.ipc.new_file(path, table.schema) as part:
            part.write_table(table)
        return table

    def sink(self, output: Path) -> OutputSink:
        """Parquet row groups written as each part comes."""
        return ParquetSink(output)

    def _table(self, ids: list[Any], values: np.ndarray, scales: np.ndarray | None) -> Any:
        """The chunk as an Arrow table: ids are strings from an id column, else row numbers (int64)."""
        import pyarrow as pa

        id_type = pa.string() if ids and isinstance(ids[0], str) else pa.int64()
        fields = [pa.field("id", id_type), pa.field("vector", self.precision.arrow_type(self.dims))]
        columns = [pa.array(ids, type=id_type), self.precision.arrow_vectors(values, self.dims)]
        if scales is not None:
            fields.append(pa.field("scale", pa.float32()))
            columns.append(pa.array(scales))
        return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=self.metadata))


class NpyParts(PartWriter):
    """Parts are the raw rows; the output is one .npy array of them (ids are the row numbers, so none are kept)."""

    fmt = "npy"
    part_suffix = ".bin"

    def __init__(self, precision: str, dims: int, metadata: dict[str, str]):
        super().__init__(precision, dims, metadata)
        if self.precision.scaled:
            raise InputError(
                f"{precision} vectors need their per-vector scales: write Parquet or JSONL, or choose float16"
            )

    def _write(self, path: Path, ids: list[Any], values: np.ndarray, scales: np.ndarray | None) -> None:
        values.tofile(path)

    def sink(self, output: Path) -> OutputSink:
        """The parts' bytes joined behind a .npy header."""
        return JoinedSink(output, self._write_header)

    def npy_header(self, rows: int) -> dict[str, Any]:
        """The .npy header of `rows` vectors in this writer's precision."""
        descr = np.lib.format.dtype_to_descr(np.dtype(self.precision.dtype))
        return {"descr": descr, "fortran_order": False, "shape": (rows, self.precision.width(self.dims))}

    def _write_header(self, out: IO[bytes], part_bytes: int) -> None:
        rows = part_bytes // self.precision.row_bytes(self.dims)
        np.lib.format.write_array_header_1_0(out, self.npy_header(rows))


class JsonlParts(PartWriter):
    """Parts are runs of JSONL lines `{"id", "vector"}` (and `"scale"` for a scaled precision); the output joins
    them."""

    fmt = "jsonl"
    part_suffix = ".jsonl"

    def _write(self, path: Path, ids: list[Any], values: np.ndarray, scales: np.ndarray | None) -> None:
        with path.open("w", encoding="utf-8") as f:
            for line in self._lines(ids, values, scales):
                f.write(line)

    def sink(self, output: Path) -> OutputSink:
        """The parts' lines joined."""
        return JoinedSink(output)

    def _lines(self, ids: list[Any], values: np.ndarray, scales: np.ndarray | None) -> Iterator[str]:
        for i, (row_id, row) in enumerate(zip(ids, values, strict=True)):
            record: dict[str, Any] = {"id": row_id, "vector": self.precision.json_vector(row)}
            if scales is not None:
                record["scale"] = float(scales[i])
            yield json.dumps(record, separators=(",", ":")) + "\n"


PART_WRITERS: dict[str, type[PartWriter]] = {w.fmt: w for w in (ParquetParts, NpyParts, JsonlParts)}
"""The part writer of each output format."""


def part_writer(fmt: str, precision: str, dims: int, metadata: dict[str, str]) -> PartWriter:
    """The part writer of output format `fmt` (see `output_format`).

    :raises InputError: for an unknown format or precision, a precision the format cannot store, or Parquet
        without pyarrow.
    """
    if fmt not in PART_WRITERS:
        raise InputError(f"unknown output format {fmt!r}; choose one of {tuple(PART_WRITERS)}")
    return PART_WRITERS[fmt](precision, dims, metadata)
