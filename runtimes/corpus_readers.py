"""Read the texts of a corpus file a chunk at a time: a text file (a line per text), JSONL, CSV or Parquet.

A reader yields chunks of (ids, texts) and never holds more than one, so a corpus of any size streams in bounded
memory. Each input format is one `InputFormat` record (what it allows, how its rows are read and counted);
`CorpusReader` holds the options every format shares. pyarrow (the `parquet` extra) is imported only for Parquet.
"""

from __future__ import annotations

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

from static_edge.runtimes.errors import InputError
from static_edge.runtimes.pyarrow_extra import require_pyarrow

DEFAULT_COLUMN = "text"
STDIN = "-"
"""The input name that reads standard input (`... | static-edge encode BUNDLE - -o OUT`)."""

FILE_CHUNK_SIZE = 16_384
"""Texts per chunk and part file of a file encode. Up to five chunks are in flight (two read ahead, one embedding,
two writing), so this bounds memory: 1M sentences to Parquet at 256 dims peaked about 60 MB lower than with
32,768, as fast."""

PARQUET_BATCH_ROWS = 8192
"""Rows pyarrow reads from a Parquet input at a time."""

Chunk = tuple[list[Any], list[str]]
"""Row ids and texts of consecutive rows."""

Row = tuple[int, Any, str]
"""One row: its number (from 0), its id from the id column (None without one) and its text."""


@dataclass(frozen=True)
class InputFormat:
    """One input format: what it allows, and how its rows are read and counted."""

    name: str
    rows: Callable[[CorpusReader, int], Iterator[Row]]
    """Every row (a format that can seek may start at the row number given)."""
    count: Callable[[CorpusReader], int | None]
    """The number of rows of a file when cheap to know, else None."""
    columns: bool = True
    """Rows have fields: --column and --id-column apply."""
    streams: bool = True
    """Readable as it arrives (a pipe, standard input); Parquet is read by seeking."""
    header_option: bool = False
    """--no-header applies (CSV)."""


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


@contextlib.contextmanager
def _parquet_errors_are_input_errors(path: Path) -> Iterator[Any]:
    """pyarrow.parquet; what it raises for a file it cannot decode (ArrowInvalid, or an OSError without a system
    error number, as for a damaged footer) becomes one InputError."""
    pa = require_pyarrow("Parquet input")
    try:
        yield pa.parquet
    except (pa.ArrowException, OSError) as err:
        if isinstance(err, OSError) and err.errno is not None:  # the system's: a disk or permission failure
            raise
        raise InputError(f"{path} is not a readable Parquet file ({' '.join(str(err).split())})") from err


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
            raise InputError(f"unknown input format {self.fmt!r}; choose one of {tuple(INPUT_FORMATS)}")
        if not self.is_stream and not self.path.is_file():
            what = "is a folder, not a file" if self.path.is_dir() else "not found"
            raise InputError(f"input file {what}: {self.path}")
        if not self.format.columns and (self.column is not None or self.id_column is not None):
            raise InputError("--column and --id-column apply to JSONL, CSV and Parquet input, not to a text file")
        if not self.header and not self.format.header_option:
            raise InputError("--no-header applies to CSV input only")
        if not self.format.streams and self.is_stream:
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
    def format(self) -> InputFormat:
        """The record of this reader's input format."""
        return INPUT_FORMATS[self.fmt]

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
        return None if self.is_stream else self.format.count(self)

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
    def open_text(self, newline: str) -> Iterator[IO[str]]:
        """The input as UTF-8 text, gunzipped when its name ends in .gz; `newline` as `open` takes it."""
        with os.fdopen(os.dup(0), "rb") if str(self.path) == STDIN else self.path.open("rb") as raw:
            source: IO[bytes] = raw
            if self.path.suffix.lower() == ".gz":
                source = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
            with io.TextIOWrapper(source, encoding="utf-8", newline=newline) as f:
                yield f

    def text_of(self, record: dict[Any, Any], where: str) -> str:
        """The text column of one row (`where` names the row in an error).

        :raises InputError: for a row without the column, or a value that is not a string.
        """
        if self.column not in record:
            what = f"column {self.column}" if isinstance(self.column, int) else f"{self.column!r} field"
            raise InputError(f"{self.path} {where} has no {what} (choose the text field with --column)")
        text = record[self.column]
        if not isinstance(text, str):
            raise InputError(f"{self.path} {where}: {self.column!r} is {type(text).__name__}, not a string")
        return text

    def id_of(self, record: dict[Any, Any], where: str) -> str | None:
        """The id column of one row as a string (None without an id column).

        :raises InputError: for a row whose id is missing or null.
        """
        if self.id_column is None:
            return None
        if record.get(self.id_column) is None:
            raise InputError(f"{self.path} {where} has no id in {self.id_column!r}")
        return str(record[self.id_column])

    def check_columns(self, names: list[str]) -> None:
        """Fail unless the text and id columns are among a file's column `names`."""
        for name in filter(None, (self.column, self.id_column)):
            if name not in names:
                raise InputError(f"{self.path} has no column {name!r}; its columns are {names}")

    def _rows(self, skip: int) -> Iterator[Row]:
        """Every row from `skip` on; damaged bytes become InputErrors naming how far the reading got."""
        row: Row | None = None

        def where() -> str:
            return f"after row {row[0] + 1}" if row is not None else "in its first rows"

        with _bad_bytes_are_input_errors(self.path, where):
            for row in self.format.rows(self, skip):  # `where` reads `row`
                if row[0] >= skip:
                    yield row


# ----------------------------------------------------------------------------------------------------
# One reader per format


def _text_lines(reader: CorpusReader, skip: int) -> Iterator[Row]:
    """A text file: a line per text (the line end dropped)."""
    with reader.open_text("\n") as f:
        yield from ((i, None, _line_text(line)) for i, line in enumerate(f))


def _jsonl_rows(reader: CorpusReader, skip: int) -> Iterator[Row]:
    """JSONL: a JSON object per line; blank lines are skipped."""
    with reader.open_text("\n") as f:
        index = 0
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{reader.path} line {number} is not JSON: {err.msg}") from err
            if not isinstance(record, dict):
                raise InputError(f"{reader.path} line {number} is not a JSON object")
            where = f"line {number}"
            yield index, reader.id_of(record, where), reader.text_of(record, where)
            index += 1


def _csv_rows(reader: CorpusReader, skip: int) -> Iterator[Row]:
    """CSV (or TSV by its suffix): fields by the header line's names, or by number without one."""
    delimiter = "\t" if _stem_suffix(reader.path) == ".tsv" else ","
    with reader.open_text("") as f:
        if reader.header:
            records: Iterator[dict[Any, Any]] = csv.DictReader(f, delimiter=delimiter)
            reader.check_columns(records.fieldnames or [])  # type: ignore[attr-defined]
        else:
            records = (dict(enumerate(values)) for values in csv.reader(f, delimiter=delimiter))
        for index, record in enumerate(records):
            where = f"row {index + 1}"
            yield index, reader.id_of(record, where), reader.text_of(record, where)


def _parquet_rows(reader: CorpusReader, skip: int) -> Iterator[Row]:
    """Parquet: the text and id columns only, a batch at a time; batches before `skip` are not decoded."""
    column, id_column = reader.column, reader.id_column
    with _parquet_errors_are_input_errors(reader.path) as pq:
        table = pq.ParquetFile(reader.path)
        reader.check_columns(table.schema_arrow.names)
        index = 0
        for batch in table.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[c for c in (column, id_column) if c]):
            if index + batch.num_rows <= skip:
                index += batch.num_rows
                continue
            texts = batch.column(column).to_pylist()
            row_ids = batch.column(id_column).to_pylist() if id_column else [None] * len(texts)
            for text, row_id in zip(texts, row_ids, strict=True):
                if index >= skip:
                    where = f"row {index + 1}"
                    yield index, reader.id_of({id_column: row_id}, where), reader.text_of({column: text}, where)
                index += 1


def _count_lines(reader: CorpusReader) -> int | None:
    """Lines of an uncompressed file (a last line without a line end counts); None for a .gz file."""
    if reader.path.suffix.lower() == ".gz":
        return None
    with reader.path.open("rb") as f:
        lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
        f.seek(max(reader.path.stat().st_size - 1, 0))
        last = f.read(1)
    return lines + (1 if last not in (b"\n", b"") else 0)


def _count_parquet_rows(reader: CorpusReader) -> int:
    """Rows of a Parquet file, from its metadata."""
    with _parquet_errors_are_input_errors(reader.path) as pq:
        return pq.ParquetFile(reader.path).metadata.num_rows


INPUT_FORMATS: dict[str, InputFormat] = {
    f.name: f
    for f in (
        InputFormat("text", _text_lines, _count_lines, columns=False),
        InputFormat("jsonl", _jsonl_rows, _count_lines),
        InputFormat("csv", _csv_rows, lambda reader: None, header_option=True),
        InputFormat("parquet", _parquet_rows, _count_parquet_rows, streams=False),
    )
}
"""Every input format by name, in the order `--input-format` lists them."""
