"""Property tests of the encode readers: any texts written in a format read back exactly, in order and chunked;
any bytes either read as texts or fail with one InputError, never another exception."""

from __future__ import annotations

import csv
import gzip
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from static_edge.runtimes.corpus_readers import CorpusReader
from static_edge.runtimes.errors import InputError

# Unicode text without surrogates (not encodable) and without NUL (csv refuses it); lines may hold any of it
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read(path: Path, fmt: str, chunk_size: int, **options) -> tuple[list, list[str]]:
    ids, texts = [], []
    for chunk_ids, chunk in CorpusReader(path, fmt, **options).chunks(chunk_size):
        assert 0 < len(chunk) <= chunk_size and len(chunk_ids) == len(chunk)
        ids += chunk_ids
        texts += chunk
    return ids, texts


@SETTINGS
@given(texts=st.lists(TEXT, min_size=1, max_size=30), chunk_size=st.integers(1, 7), gz=st.booleans())
def test_jsonl_reads_back_every_text_and_id(texts, chunk_size, gz):
    """JSONL reads back every text and id."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("in.jsonl.gz" if gz else "in.jsonl")
        lines = "".join(json.dumps({"doc": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)).encode()
        path.write_bytes(gzip.compress(lines) if gz else lines)
        ids, got = _read(path, "jsonl", chunk_size, id_column="doc")
    assert got == texts and ids == [f"d{i}" for i in range(len(texts))]


@SETTINGS
@given(texts=st.lists(TEXT, min_size=1, max_size=30), chunk_size=st.integers(1, 7), header=st.booleans())
def test_csv_reads_back_every_text_with_or_without_a_header(texts, chunk_size, header):
    """CSV reads back every text with or without a header."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            if header:
                writer.writerow(["id", "text"])
            writer.writerows([i, t] for i, t in enumerate(texts))
        options = {"column": "text"} if header else {"column": 1, "header": False}
        _, got = _read(path, "csv", chunk_size, **options)
    assert got == texts


@SETTINGS
@given(texts=st.lists(TEXT.map(lambda t: t.replace("\n", " ").replace("\r", " ")), min_size=1, max_size=30),
       chunk_size=st.integers(1, 7))  # fmt: skip
def test_text_lines_read_back_in_order_from_any_skip(texts, chunk_size):
    """Text lines read back in order from any skip."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.txt"
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
        ids, got = _read(path, "text", chunk_size)
        skipped = [t for _, chunk in CorpusReader(path, "text").chunks(chunk_size, skip=2) for t in chunk]
    assert got == texts and ids == list(range(len(texts))) and skipped == texts[2:]


@SETTINGS
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["text", "jsonl", "csv", "parquet"]))
def test_any_bytes_read_as_texts_or_fail_with_one_input_error(data, fmt):
    """Any bytes read as texts or fail with one input error."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("in.txt" if fmt == "text" else f"in.{fmt}")
        path.write_bytes(data)
        try:
            reader = CorpusReader(path, fmt)
            texts = [t for _, chunk in reader.chunks(4) for t in chunk]
        except InputError as err:
            assert "\n" not in str(err) and str(err)
        else:
            assert all(isinstance(t, str) for t in texts)


def test_a_reader_refuses_what_it_cannot_read_before_chunks(tmp_path):
    """A reader refuses what it cannot read before chunks."""
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"body": "x"}\n')
    with pytest.raises(InputError, match="text"):
        list(CorpusReader(path, "jsonl").chunks(4))
