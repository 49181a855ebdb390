"""Read texts from corpus files and write vectors to output files, a chunk at a time.

Readers turn a text file (a line per text), JSONL, CSV or Parquet into chunks of (ids, texts); writers turn
chunks of (ids, vectors) into part files that a sink turns into one Parquet, `.npy` or JSONL file. Nothing
holds more than one chunk, so a corpus of any size streams in bounded memory. pyarrow (the `parquet` extra)
is imported only for Parquet.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from static_edge.runtimes.errors import InputError

INPUT_FORMATS = ("text", "jsonl", "csv", "parquet")
OUTPUT_FORMATS = ("parquet", "npy", "jsonl")
PRECISIONS = ("float32", "float16", "int8", "binary")
DEFAULT_COLUMN = "text"

PARQUET_OPTIONS = {"use_dictionary": False, "compression": "none"}
"""Vectors are high-entropy floats: a dictionary (pyarrow's default) costs memory and time for nothing, and
compression saves a few percent at best."""

FILE_CHUNK_SIZE = 16_384
"""Texts per chunk and part file of a file encode. Up to five chunks are in flight (two read ahead, one embedding,
two writing), so this bounds memory: 1M sentences to Parquet at 256 dims peaked about 60 MB lower than with
32,768, as fast."""

PARQUET_ROW_GROUP = 8192
"""Rows per row group of a Parquet output: 8 MB of float32 vectors at 256 dims, a unit readers can skip by."""

Chunk = tuple[list[Any], list[str]]
"""Row ids and texts of consecutive rows."""


def require_pyarrow(why: str) -> Any:
    """Import pyarrow, or fail with the install hint of the `parquet` extra."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 - the submodule must be loaded for pyarrow.parquet.* below
    except ImportError as err:
        raise InputError(
            f"{why} needs pyarrow; install it with: pip install 'static-edge[parquet]' (or: pip install pyarrow)"
        ) from err
    return pyarrow


def _stem_suffix(path: Path) -> str:
    """The suffix that tells the format, looking through a trailing `.gz`."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def input_format(path: Path, given: str | None = None) -> str:
    """`given`, or the format named by the file's suffix (.jsonl/.ndjson, .csv/.tsv, .parquet; anything else: text)."""
    if given is not None:
        return given
    suffix = _stem_suffix(path)
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}.get(
        suffix, "text"
    )


def output_format(path: Path) -> str:
    """The output format named by the suffix.

    :raises InputError: for a suffix that is none of .parquet, .npy, .jsonl.
    """
    suffix = path.suffix.lower()
    found = {".parquet": "parquet", ".npy": "npy", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
    if found is None:
        raise InputError(f"output {path} must end in .parquet, .npy or .jsonl (got {suffix or 'no suffix'!r})")
    return found


STDIN = "-"
"""The input name that reads standard input (`... | static-edge encode BUNDLE - -o OUT`)."""


def _line_text(line: str) -> str:
    """A line without its line end ("\n" or "\r\n"); a "\r" inside the text stays."""
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    return line


def _column(name: str | None, header: bool) -> str | int | None:
    """A column named on the command line: a name, or a 0-based number for CSV without a header line."""
    if name is None or header:
        return name
    try:
        number = int(name)
    except ValueError:
        raise InputError(f"with --no-header, columns are numbers counted from 0, got {name!r}") from None
    if number < 0:
        raise InputError(f"with --no-header, columns are numbers counted from 0, got {name!r}")
    return number


@contextlib.contextmanager
def _bad_bytes_are_input_errors(path: Path, where: Callable[[], str]) -> Iterator[None]:
    """Turn what a damaged or mis-encoded input raises while it is read into one-line InputErrors; `where` says
    how far the reading got."""
    try:
        yield
    except UnicodeDecodeError as err:
        raise InputError(f"{path} is not UTF-8 text ({err.reason} {where()})") from err
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InputError(f"{path} is not a complete gzip file ({err or 'it ends early'} {where()})") from err
    except csv.Error as err:
        if "field larger than field limit" in str(err):
            raise InputError(
                f"{path} has a field longer than {csv.field_size_limit():,} characters {where()}; "
                "split the text or shorten it"
            ) from err
        raise InputError(f"{path} is not valid CSV ({err} {where()})") from err
    except Exception as err:
        if type(err).__module__.startswith("pyarrow"):  # ArrowInvalid, ArrowIOError: a damaged Parquet file
            raise InputError(f"{path} is not a readable Parquet file ({' '.join(str(err).split())})") from err
        raise


@dataclass
class CorpusReader:
    """Texts of one column of a corpus file, with an id per row.

    :param path: the input file; "-" reads standard input, and a named pipe (FIFO) or /dev/stdin is read as it
        comes (text, JSONL and CSV; not Parquet, which is read by seeking).
    :param fmt: one of `INPUT_FORMATS` (None: from the suffix).
    :param column: the text column of JSONL, CSV and Parquet (default "text"; with `header=False` a 0-based number,
        default 0).
    :param id_column: a column whose values become the output ids (default: the row number).
    :param header: whether a CSV file starts with a line of column names.
    :raises InputError: for a missing file, a format that cannot be streamed, or (for a file) a missing column,
        bytes that are not UTF-8 or a damaged file at its start: checked before any text is encoded.
    """

    path: Path
    fmt: str | None = None
    column: str | int | None = None
    id_column: str | int | None = None
    header: bool = True

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.fmt = input_format(self.path, self.fmt)
        if self.fmt not in INPUT_FORMATS:
            raise InputError(f"unknown input format {self.fmt!r}; choose one of {INPUT_FORMATS}")
        if not self.is_stream and not self.path.is_file():
            what = "is a folder, not a file" if self.path.is_dir() else "not found"
            raise InputError(f"input file {what}: {self.path}")
        if self.fmt == "text" and (self.column is not None or self.id_column is not None):
            raise InputError("--column and --id-column apply to JSONL, CSV and Parquet input, not to a text file")
        if not self.header and self.fmt != "csv":
            raise InputError("--no-header applies to CSV input only")
        if self.fmt == "parquet" and self.is_stream:
            raise InputError(f"{self.path}: Parquet input must be a file (it is read by seeking), not a pipe")
        self.column = _column(self.column, self.header)
        self.id_column = _column(self.id_column, self.header)
        if self.column is None:
            self.column = DEFAULT_COLUMN if self.header else 0
        if not self.is_stream:  # a file can be looked at twice: a wrong column or a damaged start fails now
            rows = self._rows(0)
            next(rows, None)
            rows.close()

    @property
    def is_stream(self) -> bool:
        """Standard input or a pipe: read once, as it comes (no count, no resume)."""
        if str(self.path) == STDIN:
            return True
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return False
        return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)

    def sha256(self) -> str | None:
        """The hex sha256 of the input's bytes (None for a stream, which cannot be read again)."""
        if self.is_stream:
            return None
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
        return digest.hexdigest()

    def count(self) -> int | None:
        """Rows in the input when cheap to know (text and JSONL lines, Parquet metadata), else None."""
        if self.is_stream:
            return None
        if self.fmt == "parquet":
            with _bad_bytes_are_input_errors(self.path, lambda: ""):
                return require_pyarrow("Parquet input").parquet.ParquetFile(self.path).metadata.num_rows
        if self.fmt in ("text", "jsonl") and self.path.suffix.lower() != ".gz":
            with self.path.open("rb") as f:
                lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
                f.seek(max(self.path.stat().st_size - 1, 0))
                last = f.read(1)
            return lines + (1 if last not in (b"\n", b"") else 0)
        return None

    def chunks(self, chunk_size: int, skip: int = 0) -> Iterator[Chunk]:
        """(ids, texts) of `chunk_size` consecutive rows (the last chunk may be shorter), after `skip` rows."""
        ids: list[Any] = []
        texts: list[str] = []
        for index, row_id, text in self._rows(skip):
            ids.append(index if row_id is None else row_id)
            texts.append(text)
            if len(texts) == chunk_size:
                yield ids, texts
                ids, texts = [], []
        if texts:
            yield ids, texts

    @contextlib.contextmanager
    def _open_text(self) -> Iterator[IO[str]]:
        """The input as UTF-8 text, gunzipped when its name ends in .gz; lines end at "\n" ("" for CSV)."""
        with os.fdopen(os.dup(0), "rb") if str(self.path) == STDIN else self.path.open("rb") as raw:
            source: IO[bytes] = raw
            if self.path.suffix.lower() == ".gz":
                source = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
            with io.TextIOWrapper(source, encoding="utf-8", newline="" if self.fmt == "csv" else "\n") as f:
                yield f

    def _rows(self, skip: int) -> Iterator[tuple[int, Any, str]]:
        """(row number, id or None, text) of every row from `skip` on."""
        row: tuple[int, Any, str] | None = None

        def where() -> str:
            return f"after row {row[0] + 1}" if row is not None else "in its first rows"

        with _bad_bytes_are_input_errors(self.path, where):
            if self.fmt == "parquet":
                yield from self._parquet_rows(skip)
                return
            with self._open_text() as f:
                if self.fmt == "text":
                    rows = ((i, None, _line_text(line)) for i, line in enumerate(f))
                elif self.fmt == "jsonl":
                    rows = self._jsonl_rows(f)
                else:
                    rows = self._csv_rows(f)
                for row in rows:
                    if row[0] >= skip:
                        yield row

    def _jsonl_rows(self, f: IO[str]) -> Iterator[tuple[int, Any, str]]:
        index = 0
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{self.path} line {number} is not JSON: {err.msg}") from err
            if not isinstance(record, dict):
                raise InputError(f"{self.path} line {number} is not a JSON object")
            yield index, self._id(record, f"line {number}"), self._text(record, f"line {number}")
            index += 1

    def _csv_rows(self, f: IO[str]) -> Iterator[tuple[int, Any, str]]:
        delimiter = "\t" if _stem_suffix(self.path) == ".tsv" else ","
        if self.header:
            reader: Iterator[Any] = csv.DictReader(f, delimiter=delimiter)
            fields = reader.fieldnames or []  # type: ignore[attr-defined]
            for name in filter(None, (self.column, self.id_column)):
                if name not in fields:
                    raise InputError(f"{self.path} has no column {name!r}; its columns are {fields}")
        else:
            reader = (dict(enumerate(values)) for values in csv.reader(f, delimiter=delimiter))
        for index, record in enumerate(reader):
            yield index, self._id(record, f"row {index + 1}"), self._text(record, f"row {index + 1}")

    def _parquet_rows(self, skip: int) -> Iterator[tuple[int, Any, str]]:
        pq = require_pyarrow("Parquet input").parquet
        table = pq.ParquetFile(self.path)
        names = table.schema_arrow.names
        for name in filter(None, (self.column, self.id_column)):
            if name not in names:
                raise InputError(f"{self.path} has no column {name!r}; its columns are {names}")
        columns = [c for c in (self.column, self.id_column) if c]
        index = 0
        for batch in table.iter_batches(batch_size=8192, columns=columns):
            if index + batch.num_rows <= skip:
                index += batch.num_rows
                continue
            texts = batch.column(self.column).to_pylist()
            row_ids = batch.column(self.id_column).to_pylist() if self.id_column else [None] * len(texts)
            for text, row_id in zip(texts, row_ids, strict=True):
                if index >= skip:
                    where = f"row {index + 1}"
                    yield index, self._id({self.id_column: row_id}, where), self._text({self.column: text}, where)
                index += 1

    def _text(self, record: dict[Any, Any], where: str) -> str:
        if self.column not in record:
            what = f"column {self.column}" if isinstance(self.column, int) else f"{self.column!r} field"
            raise InputError(f"{self.path} {where} has no {what} (choose the text field with --column)")
        text = record[self.column]
        if not isinstance(text, str):
            raise InputError(f"{self.path} {where}: {self.column!r} is {type(text).__name__}, not a string")
        return text

    def _id(self, record: dict[Any, Any], where: str) -> str | None:
        if self.id_column is None:
            return None
        if record.get(self.id_column) is None:
            raise InputError(f"{self.path} {where} has no id in {self.id_column!r}")
        return str(record[self.id_column])


def quantize(vectors: np.ndarray, precision: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Vectors in the output precision, and the int8 per-vector scales (None otherwise).

    int8: `round(v / max|v| * 127)` with `scale = max|v| / 127`, so `q * scale` restores v;
    binary: one bit per dim (v > 0), packed 8 per byte as `numpy.packbits` (Sentence Transformers' "ubinary").
    """
    if precision == "float32":
        return np.asarray(vectors, dtype=np.float32), None
    if precision == "float16":
        return vectors.astype(np.float16), None
    if precision == "int8":
        peak = np.abs(vectors).max(axis=1)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        return np.clip(np.rint(vectors / scale[:, None]), -127, 127).astype(np.int8), scale
    if precision == "binary":
        return np.packbits(vectors > 0, axis=1), None
    raise InputError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")


@dataclass
class PartWriter:
    """Writes each chunk as a part file in a work folder; its `sink` makes the output from the parts in order.

    Parts make a killed run resumable after its last complete chunk, and the output equals one written in a
    single run (a part is an Arrow file of the rows, a run of `.npy` rows or of JSONL lines).
    """

    fmt: str
    precision: str
    dims: int
    metadata: dict[str, str]

    def __post_init__(self) -> None:
        if self.fmt not in OUTPUT_FORMATS:
            raise InputError(f"unknown output format {self.fmt!r}; choose one of {OUTPUT_FORMATS}")
        if self.precision not in PRECISIONS:
            raise InputError(f"unknown precision {self.precision!r}; choose one of {PRECISIONS}")
        if self.fmt == "npy" and self.precision == "int8":
            raise InputError("int8 vectors need their per-vector scales: write Parquet or JSONL, or choose float16")
        if self.fmt == "parquet":
            require_pyarrow("Parquet output")

    @property
    def part_suffix(self) -> str:
        return {"parquet": ".arrow", "npy": ".bin", "jsonl": ".jsonl"}[self.fmt]

    def write_part(self, path: Path, ids: list[Any], vectors: np.ndarray) -> Any:
        """Write one chunk to `path` (complete or absent: written beside it, then renamed).

        For Parquet the part is an Arrow IPC file (raw buffers: Parquet's list encoding costs more than the
        embedding) and the returned Arrow table goes on to the output's `sink`; None for the other formats.
        """
        values, scales = quantize(vectors, self.precision)
        partial = path.with_name(path.name + ".tmp")
        table = None
        if self.fmt == "parquet":
            import pyarrow as pa

            table = self._table(ids, values, scales)
            with pa.ipc.new_file(partial, table.schema) as part:
                part.write_table(table)
        elif self.fmt == "npy":
            values.tofile(partial)
        else:
            with partial.open("w", encoding="utf-8") as f:
                for line in self._json_lines(ids, values, scales):
                    f.write(line)
        os.replace(partial, path)
        return table

    def sink(self, output: Path) -> OutputSink:
        """Where the parts go, in order, to become `output`: Parquet row groups written as each part comes, or
        for .npy and JSONL the parts' bytes joined at the end."""
        return ParquetSink(output) if self.fmt == "parquet" else JoinedSink(output, self)

    def npy_header(self, rows: int) -> dict[str, Any]:
        """The .npy header of `rows` vectors in this writer's precision."""
        dtype = {"float32": np.float32, "float16": np.float16, "binary": np.uint8}[self.precision]
        width = -(-self.dims // 8) if self.precision == "binary" else self.dims
        return {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (rows, width)}

    def row_bytes(self) -> int:
        """Bytes of one vector in this writer's precision (.npy and raw parts)."""
        width = -(-self.dims // 8) if self.precision == "binary" else self.dims
        return width * {"float32": 4, "float16": 2, "int8": 1, "binary": 1}[self.precision]

    def _schema(self, id_type: Any) -> Any:
        import pyarrow as pa

        if self.precision == "binary":
            vector = pa.binary(-(-self.dims // 8))
        else:
            value = {"float32": pa.float32(), "float16": pa.float16(), "int8": pa.int8()}[self.precision]
            vector = pa.list_(value, self.dims)
        fields = [pa.field("id", id_type), pa.field("vector", vector)]
        if self.precision == "int8":
            fields.append(pa.field("scale", pa.float32()))
        return pa.schema(fields, metadata=self.metadata)

    def _table(self, ids: list[Any], values: np.ndarray, scales: np.ndarray | None) -> Any:
        import pyarrow as pa

        id_type = pa.string() if ids and isinstance(ids[0], str) else pa.int64()
        schema = self._schema(id_type)
        if self.precision == "binary":
            vector = pa.array([row.tobytes() for row in values], type=schema.field("vector").type)
        else:
            vector = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), self.dims)
        columns = [pa.array(ids, type=id_type), vector]
        if scales is not None:
            columns.append(pa.array(scales))
        return pa.Table.from_arrays(columns, schema=schema)

    def _json_lines(self, ids: list[Any], values: np.ndarray, scales: np.ndarray | None) -> Iterator[str]:
        for i, (row_id, row) in enumerate(zip(ids, values, strict=True)):
            record: dict[str, Any] = {"id": row_id}
            if self.precision == "binary":
                record["vector"] = base64.b64encode(row.tobytes()).decode("ascii")
            else:
                record["vector"] = row.tolist()
            if scales is not None:
                record["scale"] = float(scales[i])
            yield json.dumps(record, separators=(",", ":")) + "\n"


class OutputSink:
    """Receives the parts of an output in order; `close` completes the file, `discard` drops it."""

    def add(self, part: Path, table: Any = None) -> None:
        """Take the next part (and its Arrow table when the writer made one)."""
        raise NotImplementedError

    def close(self) -> None:
        """Complete the output file."""
        raise NotImplementedError

    def discard(self) -> None:
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
    """Collects the parts; `close` joins their bytes (behind a .npy header for .npy)."""

    def __init__(self, output: Path, writer: PartWriter):
        self.output, self.writer, self.parts = output, writer, []

    def add(self, part: Path, table: Any = None) -> None:
        """Remember the part."""
        self.parts.append(part)

    def close(self) -> None:
        """Join the parts into the output."""
        with self.output.open("wb") as out:
            if self.writer.fmt == "npy":
                rows = sum(p.stat().st_size for p in self.parts) // self.writer.row_bytes()
                np.lib.format.write_array_header_1_0(out, self.writer.npy_header(rows))
            for part in self.parts:
                with part.open("rb") as f:
                    while block := f.read(1 << 22):
                        out.write(block)
