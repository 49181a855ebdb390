"""Encode a corpus file into a vectors file: streamed in chunks, resumable, written atomically.

Each chunk of `chunk_size` texts becomes a part file in a work folder `.OUTPUT.parts/` beside the output,
next to `progress.json`, which records what the parts were made from (input, column, bundle, precision,
chunk size). A killed run leaves its complete parts; `resume=True` continues after the last one when
everything recorded still matches. The output is made in a temporary file beside it (Parquet row groups as each
part is written, .npy and JSONL parts joined at the end), renamed over it when complete, and the work folder is
removed: readers never see a half-written output.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from static_edge.runtimes.bundle import MANIFEST_FILE, sha256_file
from static_edge.runtimes.console import warning_line
from static_edge.runtimes.corpus_readers import FILE_CHUNK_SIZE, CorpusReader
from static_edge.runtimes.embedder import StaticEmbedder
from static_edge.runtimes.errors import InputError, OutputFolderError, StaticEdgeError
from static_edge.runtimes.pipeline import WriteBehind
from static_edge.runtimes.staging import exit_on_sigterm, output_lock
from static_edge.runtimes.vector_writers import PartWriter, output_format, part_writer

PROGRESS_FILE = "progress.json"
OUTPUT_IN_PROGRESS = "output.partial"


@dataclass
class EncodeSummary:
    """What `encode_file` did."""

    output: Path
    rows: int
    resumed_rows: int
    seconds: float

    @property
    def texts_per_second(self) -> float:
        """Texts encoded per second by this run (resumed rows not counted)."""
        return (self.rows - self.resumed_rows) / max(self.seconds, 1e-9)


def work_folder(output: Path) -> Path:
    """Where the parts and progress of `output` are kept until it is complete."""
    return output.with_name(f".{output.name}.parts")


def _fingerprint(model: StaticEmbedder, reader: CorpusReader, precision: str, chunk_size: int) -> dict[str, Any]:
    """Everything the parts depend on: a resumed run must match it exactly to give the same output. The input is
    identified by the sha256 of its bytes (an edit that keeps its size and time is still a change); a stream's
    is None, and a stream is never resumed."""
    return {
        "input": str(reader.path) if reader.is_stream else str(reader.path.resolve()),
        "input_sha256": reader.sha256(),
        "format": reader.fmt,
        "column": reader.column,
        "id_column": reader.id_column,
        "header": reader.header,
        "bundle_manifest_sha256": sha256_file(model.path / MANIFEST_FILE),
        "variant": model.variant,
        "backend": model.backend,
        "precision": precision,
        "chunk_size": chunk_size,
    }


def _complete_parts(work: Path, suffix: str) -> list[Path]:
    """The consecutive part files 0, 1, ... that exist (a gap ends the run: later ones are redone)."""
    parts = []
    while (part := work / f"part-{len(parts):06d}{suffix}").is_file():
        parts.append(part)
    return parts


def _prepare_work(work: Path, fingerprint: dict[str, Any], resume: bool, suffix: str) -> list[Path]:
    """Parts to keep from an earlier run (none unless resuming it); a fresh work folder otherwise."""
    progress = work / PROGRESS_FILE
    if resume and fingerprint["input_sha256"] is None:
        raise InputError("--resume needs an input file: a pipe or standard input cannot be read again")
    if resume and progress.is_file():
        recorded = json.loads(progress.read_text(encoding="utf-8"))
        changed = sorted(k for k in fingerprint if recorded.get(k) != fingerprint[k])
        if changed:
            raise InputError(
                f"cannot resume: {', '.join(changed)} changed since the interrupted run; "
                f"run without --resume to start over (it removes {work.name})"
            )
        return _complete_parts(work, suffix)
    if work.is_symlink() or (work.exists() and not work.is_dir()):
        raise OutputFolderError(f"{work} is in the way of the work folder; remove it")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    progress.write_text(json.dumps(fingerprint, indent=2) + "\n", encoding="utf-8")
    return []


def encode_file(
    model: StaticEmbedder,
    reader: CorpusReader,
    output: str | os.PathLike[str],
    *,
    precision: str = "float32",
    batch_size: int = 1024,
    chunk_size: int = FILE_CHUNK_SIZE,
    resume: bool = False,
    overwrite: bool = False,
    show_progress: bool = True,
) -> EncodeSummary:
    """Encode every text of `reader` into `output` (.parquet, .npy or .jsonl, by its suffix).

    :param resume: continue after the last complete chunk of an interrupted run with the same settings.
    :param overwrite: replace an existing output file.
    :raises InputError: for a bad input, an empty input, or a resume whose settings changed.
    :raises OutputFolderError: for an existing output without overwrite, or one another process is writing.
    """
    from tqdm.auto import tqdm

    output = Path(output).absolute()
    writer = part_writer(output_format(output), precision, model.dims, _parquet_metadata(model, precision))
    if chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1, got {chunk_size}")
    if not reader.is_stream and output.resolve() == reader.path.resolve():
        raise OutputFolderError(f"refusing to write {output}: it is the input")
    if output.is_dir() or output.is_symlink():
        raise OutputFolderError(f"{output} is a folder or a symbolic link; give a file name to write")
    if output.exists() and not overwrite:
        raise OutputFolderError(f"{output} already exists; pass --force (overwrite=True) to replace it")
    output.parent.mkdir(parents=True, exist_ok=True)
    work = work_folder(output)
    start = time.perf_counter()
    with output_lock(output), exit_on_sigterm():
        parts = _prepare_work(work, _fingerprint(model, reader, precision, chunk_size), resume, writer.part_suffix)
        done = rows = len(parts) * chunk_size
        try:
            with tqdm(
                total=reader.count(), initial=done, desc=f"encode {reader.path.name}", unit="text", unit_scale=True,
                disable=not show_progress, smoothing=0.1,
            ) as bar:  # fmt: skip
                rows += _encode_into(output, model, reader, writer, work, parts, chunk_size, batch_size, bar)
        except BaseException as err:
            kept = _keep_for_resume(work, parts, reader, err)
            if kept is not None:
                raise kept from err
            raise
        shutil.rmtree(work, ignore_errors=True)
    return EncodeSummary(output, rows, done, time.perf_counter() - start)


def _encode_into(
    output: Path,
    model: StaticEmbedder,
    reader: CorpusReader,
    writer: PartWriter,
    work: Path,
    parts: list[Path],
    chunk_size: int,
    batch_size: int,
    bar: Any,
) -> int:
    """Encode the chunks after the `parts` already done into a file in the work folder (so a killed run leaves
    nothing outside it), then rename it over `output`; returns the rows encoded now. Parts of an earlier run go to
    the output first, then each new part as soon as it is written.

    Three stages overlap: the next chunk is read and tokenized (`encode_chunks`' worker), this one embedded, the
    previous one written to its part and the output (`WriteBehind`), each at most two chunks deep.
    """
    temporary = work / OUTPUT_IN_PROGRESS
    temporary.unlink(missing_ok=True)  # a killed run's
    sink = writer.sink(temporary)
    rows = 0

    def write(part: Path, ids: list[Any], vectors: Any) -> tuple[Path, int]:
        sink.add(part, writer.write_part(part, ids, vectors))
        return part, len(ids)

    def written(chunk: tuple[Path, int]) -> None:
        nonlocal rows
        parts.append(chunk[0])
        rows += chunk[1]
        bar.update(chunk[1])

    try:
        for part in parts:
            sink.add(part)
        index = len(parts)
        with WriteBehind(depth=2) as behind:
            for ids, vectors in model.encode_chunks(reader.chunks(chunk_size, index * chunk_size), batch_size):
                behind.submit(write, work / f"part-{index:06d}{writer.part_suffix}", ids, vectors, on_done=written)
                index += 1
        if not parts:
            raise InputError(f"{reader.path} holds no texts")
        sink.close()
        os.replace(temporary, output)
        return rows
    finally:
        sink.discard()
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _keep_for_resume(work: Path, parts: list[Path], reader: CorpusReader, err: BaseException) -> Exception | None:
    """After a failed run: keep the work folder only when --resume can use it, and say so.

    A bad input (InputError) must change to be fixed, and a stream cannot be read again, so their parts are of no
    use and the folder goes; so does a folder of no parts. A full disk, an I/O error, Ctrl-C or SIGTERM keep the
    complete parts. Returns the error to raise instead of `err` (its message naming the kept folder), or None.
    """
    if not parts or isinstance(err, InputError) or reader.is_stream:
        shutil.rmtree(work, ignore_errors=True)
        return None
    note = f"{len(parts)} complete chunks are kept in {work}; run the same command with --resume to continue"
    if isinstance(err, StaticEdgeError):
        return type(err)(f"{err}; {note}")
    if isinstance(err, OSError) and err.strerror:
        where = f" ({err.filename})" if err.filename else ""
        return OSError(err.errno, f"{err.strerror}{where}; {note}")
    warning_line(note)  # an interruption or a bug: the CLI's own line follows
    return None


def _parquet_metadata(model: StaticEmbedder, precision: str) -> dict[str, str]:
    """Schema metadata of a Parquet output: which bundle and settings made the vectors."""
    info = {
        "bundle": str(model.path),
        "source": model.manifest.source.get("model"),
        "variant": model.variant,
        "dims": model.dims,
        "normalize": model.manifest.normalize,
        "precision": precision,
    }
    return {"static_edge": json.dumps(info)}
