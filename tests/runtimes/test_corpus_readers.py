"""Corpus inputs of `static-edge encode`: every format with a missing column or bad bytes fails in one line (exit 2,
no traceback, nothing left behind), pipes and standard input are read as they come, header-less CSV is read by
column number."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from static_edge.runtimes import load
from static_edge.runtimes.corpus_readers import CorpusReader
from static_edge.runtimes.errors import InputError

STATIC_EDGE = str(Path(sys.executable).parent / "static-edge")
TEXTS = [f"sentence number {i} about the weather" for i in range(60)]


def _encode(bundle: Path, source: str, out: Path, *extra: str, stdin: bytes | None = None):
    command = [STATIC_EDGE, "encode", str(bundle), source, "-o", str(out), "--quiet", "--chunk-size", "10", *extra]
    return subprocess.run(command, input=stdin, capture_output=True, timeout=120)


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _bad_inputs(folder: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name -> (input file, extra options, what the error says)."""
    good = "\n".join(TEXTS[:30]).encode()
    late_latin1 = "\n".join(TEXTS * 50).encode() + "\ncaf\xe9 au lait\n".encode("latin-1")  # after whole chunks
    files = {
        "missing.jsonl": (b'{"body": "x"}\n', [], "line 1 has no 'text' field"),
        "missing.csv": (b"body\nx\n", [], "has no column 'text'; its columns are ['body']"),
        "latin1.txt": (late_latin1, [], "is not UTF-8 text (invalid continuation byte after row 2"),
        "latin1.jsonl": ('{"text": "caf\xe9"}\n'.encode("latin-1"), [], "is not UTF-8 text"),
        "latin1.csv": ("text\ncaf\xe9\n".encode("latin-1"), [], "is not UTF-8 text"),
        "not-gzip.txt.gz": (good, [], "is not a complete gzip file"),
        "truncated.txt.gz": (gzip.compress(good)[:-12], [], "is not a complete gzip file"),
        "corrupt.parquet": (b"PAR1" + os.urandom(200) + b"PAR1", [], "is not a readable Parquet file"),
        "huge-field.csv": (b"text\n" + b"x" * 131_073 + b"\n", [], "has a field longer than 131,072 characters"),
        "headerless.csv": (b"a,b\n", ["--no-header", "--column", "text"], "columns are numbers counted from 0"),
    }
    for name, (data, _, _) in files.items():
        (folder / name).write_bytes(data)
    pq.write_table(pa.table({"body": ["x"]}), folder / "missing.parquet")
    found = {name: (folder / name, extra, message) for name, (_, extra, message) in files.items()}
    found["missing.parquet"] = (folder / "missing.parquet", [], "has no column 'text'; its columns are ['body']")
    return found


@pytest.mark.slow  # end to end: static-edge encode-file in a child process
def test_every_format_with_a_missing_column_or_bad_bytes_is_one_line_and_leaves_nothing(st_bundle, tmp_path):
    """Every format with a missing column or bad bytes is one line and leaves nothing."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name, (path, extra, message) in _bad_inputs(inputs).items():
        err = _one_line_error(_encode(st_bundle, str(path), out_dir / "vectors.parquet", *extra))
        assert message in err, (name, err)
        assert list(out_dir.iterdir()) == [], (name, list(out_dir.iterdir()))  # no output, parts, lock or temp


@pytest.mark.slow  # end to end: static-edge encode-file in a child process
def test_headerless_csv_by_column_number(st_bundle, tmp_path):
    """Headerless CSV by column number."""
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([f"id{i}", text] for i, text in enumerate(TEXTS))
    out = tmp_path / "vectors.jsonl"
    result = _encode(st_bundle, str(path), out, "--no-header", "--column", "1", "--id-column", "0")
    assert result.returncode == 0, result.stderr.decode()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [f"id{i}" for i in range(len(TEXTS))]
    np.testing.assert_allclose([r["vector"] for r in records], load(st_bundle).encode(TEXTS), atol=1e-6)
    reader = CorpusReader(path, header=False)  # the first column by default
    assert next(reader.chunks(2))[1] == ["id0", "id1"]


@pytest.mark.slow  # end to end: static-edge encode-file in a child process
def test_standard_input_and_named_pipes_are_read_as_they_come(st_bundle, tmp_path):
    """Standard input and named pipes are read as they come."""
    expected = load(st_bundle).encode(TEXTS)
    text = ("\n".join(TEXTS) + "\n").encode()
    out = tmp_path / "from-stdin.npy"
    assert _encode(st_bundle, "-", out, stdin=text).returncode == 0
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)

    jsonl = "".join(json.dumps({"body": t}) + "\n" for t in TEXTS).encode()
    out = tmp_path / "dev-stdin.npy"
    result = _encode(st_bundle, "/dev/stdin", out, "--input-format", "jsonl", "--column", "body", stdin=jsonl)
    assert result.returncode == 0, result.stderr.decode()
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)

    fifo = tmp_path / "corpus.jsonl"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(jsonl))
    writer.start()
    out = tmp_path / "fifo.npy"
    result = _encode(st_bundle, str(fifo), out, "--column", "body")
    writer.join(timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)

    refused = _encode(st_bundle, "-", tmp_path / "resumed.npy", "--resume", stdin=text)
    assert "--resume needs an input file: a pipe or standard input cannot be read again" in _one_line_error(refused)
    bad = _encode(st_bundle, "-", tmp_path / "bad.npy", stdin=text + "caf\xe9\n".encode("latin-1"))
    assert "is not UTF-8 text" in _one_line_error(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "dev-stdin.npy", "fifo.npy", "from-stdin.npy"]


def test_reader_checks_a_file_before_any_text_is_encoded(tmp_path):
    """Reader checks a file before any text is encoded."""
    (tmp_path / "a.jsonl").write_text('{"body": "x"}\n')
    with pytest.raises(InputError, match="has no 'text' field"):
        CorpusReader(tmp_path / "a.jsonl")
    with pytest.raises(InputError, match="is a folder, not a file"):
        CorpusReader(tmp_path)
    with pytest.raises(InputError, match="not found"):
        CorpusReader(tmp_path / "none.txt")
    with pytest.raises(InputError, match="Parquet input must be a file"):
        CorpusReader(Path("-"), "parquet")
    with pytest.raises(InputError, match="--no-header applies to CSV input only"):
        CorpusReader(tmp_path / "a.jsonl", header=False)
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    same = CorpusReader(tmp_path / "a.txt").sha256()
    (tmp_path / "a.txt").write_text("one\ntwx\n")  # same size
    assert CorpusReader(tmp_path / "a.txt").sha256() != same
    assert CorpusReader(Path("-")).sha256() is None and CorpusReader(Path("-")).count() is None


def _parquet(path: Path, **columns) -> Path:
    pq.write_table(pa.table(columns), path, row_group_size=4)
    return path


@pytest.mark.parametrize("fmt", ["text", "jsonl", "csv", "tsv", "parquet"])
def test_each_format_reads_its_texts_ids_and_count(tmp_path, fmt):
    """Each format reads its texts ids and count."""
    texts = ["one", "two, with a comma", 'three "quoted"', "", "five\rcarriage"]
    ids = [f"k{i}" for i in range(len(texts))]
    if fmt == "text":
        path = tmp_path / "in.txt"
        path.write_bytes("\r\n".join(texts[:4]).encode() + b"\n" + texts[4].encode())  # no end on the last line
        options = {}
    elif fmt == "jsonl":
        path = tmp_path / "in.jsonl"
        lines = [json.dumps({"text": t, "key": k}) for t, k in zip(texts, ids, strict=True)]
        path.write_text("\n".join(lines[:2] + ["  "] + lines[2:]) + "\n")  # a blank line is no row
        options = {"id_column": "key"}
    elif fmt == "parquet":
        path = _parquet(tmp_path / "in.parquet", key=ids, text=texts)
        options = {"id_column": "key"}
    else:
        path = tmp_path / f"in.{fmt}"
        with path.open("w", newline="") as f:
            writer = csv.writer(f, delimiter="\t" if fmt == "tsv" else ",")
            writer.writerow(["key", "text"])
            writer.writerows(zip(ids, texts, strict=True))
        options = {"id_column": "key"}
    reader = CorpusReader(path, **options)
    assert reader.fmt == ("csv" if fmt == "tsv" else fmt)
    chunks = list(reader.chunks(2))
    assert [len(chunk) for _, chunk in chunks] == [2, 2, 1]
    assert [t for _, chunk in chunks for t in chunk] == texts
    want_ids = list(range(len(texts))) if fmt == "text" else ids
    assert [i for chunk_ids, _ in chunks for i in chunk_ids] == want_ids
    assert [i for chunk_ids, _ in reader.chunks(2, skip=3) for i in chunk_ids] == want_ids[3:]
    # a line count for the progress bar (a blank JSONL line counts), none where rows may span lines
    assert reader.count() == {"csv": None, "tsv": None, "jsonl": len(texts) + 1}.get(fmt, len(texts))


@pytest.mark.parametrize(
    ("name", "data", "options", "message"),
    [
        ("text.txt", b"a\n\xff\n", {}, "is not UTF-8 text (invalid start byte"),
        ("text.txt.gz", gzip.compress(b"a\nb\n")[:-6], {}, "is not a complete gzip file"),
        ("json.jsonl", b'{"text": "a"}\n{"text": "b"\n', {}, "line 2 is not JSON: Expecting ',' delimiter"),
        ("array.jsonl", b'["a"]\n', {}, "line 1 is not a JSON object"),
        ("number.jsonl", b'{"text": 7}\n', {}, "line 1: 'text' is int, not a string"),
        ("noid.jsonl", b'{"text": "a", "id": null}\n', {"id_column": "id"}, "line 1 has no id in 'id'"),
        ("column.csv", b"body\nx\n", {}, "has no column 'text'; its columns are ['body']"),
        ("short.csv", b"a,b\nx\n", {"header": False, "column": "1"}, "row 2 has no column 1"),
        ("bytes.parquet", b"PAR1" + bytes(64) + b"PAR1", {}, "is not a readable Parquet file"),
    ],
)
def test_each_format_refuses_malformed_input_with_one_input_error(tmp_path, name, data, options, message):
    """Each format refuses malformed input with one input error."""
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        list(CorpusReader(path, **options).chunks(1))
    assert message in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_parquet_text_column_of_another_type_is_refused(tmp_path):
    """A Parquet text column of another type is refused."""
    path = _parquet(tmp_path / "numbers.parquet", text=[1, 2])
    with pytest.raises(InputError, match="row 1: 'text' is int, not a string"):
        CorpusReader(path)
