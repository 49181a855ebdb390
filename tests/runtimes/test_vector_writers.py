"""The vector writers and precisions, without a model: each precision's quantizer and row layout, each output
format's parts joined into the file a reader expects, and the refusals (one InputError each)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from static_edge.runtimes.errors import InputError
from static_edge.runtimes.vector_precisions import PRECISIONS
from static_edge.runtimes.vector_writers import PARQUET_ROW_GROUP, output_format, part_writer

DIMS = 12  # not a multiple of 8: binary rows end in a partly used byte
META = {"static_edge": json.dumps({"precision": "test"})}


def _vectors(rows: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIMS)).astype(np.float32)
    vectors[min(1, rows - 1)] = 0.0  # a zero vector: int8 scale 1, binary all zero bits
    return vectors


def _write(tmp_path: Path, fmt: str, precision: str, chunks: list[tuple[list, np.ndarray]], resumed: int = 0) -> Path:
    """Write `chunks` as parts and join them; the first `resumed` parts are handed to the sink as a resumed run
    does (from their files, without the Arrow table)."""
    writer = part_writer(fmt, precision, DIMS, META)
    output = tmp_path / f"out.{fmt}"
    sink = writer.sink(output)
    for index, (ids, vectors) in enumerate(chunks):
        part = tmp_path / f"part-{index:06d}{writer.part_suffix}"
        table = writer.write_part(part, ids, vectors)
        assert part.is_file() and not part.with_name(part.name + ".tmp").exists()
        sink.add(part, None if index < resumed else table)
    sink.close()
    return output


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_each_precision_quantizes_to_its_layout(name):
    """Each precision quantizes to its layout."""
    precision = PRECISIONS[name]
    vectors = _vectors(5)
    values, scales = precision.quantize(vectors)
    assert values.dtype == precision.dtype and values.shape == (5, precision.width(DIMS))
    assert (scales is not None) == precision.scaled
    if name == "float32":
        np.testing.assert_array_equal(values, vectors)
    elif name == "float16":
        np.testing.assert_allclose(values.astype(np.float32), vectors, rtol=1e-3)
    elif name == "int8":
        assert np.abs(values).max() == 127 and scales[1] == 1.0 and not values[1].any()
        assert np.abs(values * scales[:, None] - vectors).max() <= np.abs(vectors).max() / 127
    else:
        assert precision.width(DIMS) == 2 and precision.row_bytes(DIMS) == 2
        np.testing.assert_array_equal(values, np.packbits(vectors > 0, axis=1))


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_parquet_holds_ids_vectors_scales_and_metadata_in_every_precision(tmp_path, name):
    """Parquet holds ids vectors scales and metadata in every precision."""
    chunks = [([f"d{i}" for i in range(7)], _vectors(7, 1)), ([f"d{i}" for i in range(7, 10)], _vectors(3, 2))]
    output = _write(tmp_path, "parquet", name, chunks)
    table = pq.read_table(output)
    assert table.schema.metadata[b"static_edge"] == META["static_edge"].encode()
    assert table.column("id").to_pylist() == [f"d{i}" for i in range(10)]
    values, scales = PRECISIONS[name].quantize(np.concatenate([v for _, v in chunks]))
    column = table.column("vector")
    if PRECISIONS[name].packed:
        assert column.type == pa.binary(2)
        got = np.array([np.frombuffer(b, dtype=np.uint8) for b in column.to_pylist()])
    else:
        assert column.type == pa.list_(getattr(pa, name)(), DIMS)
        got = np.array(column.to_pylist(), dtype=values.dtype)
    np.testing.assert_array_equal(got, values)
    assert ("scale" in table.column_names) == (scales is not None)
    if scales is not None:
        np.testing.assert_array_equal(table.column("scale").to_numpy(), scales)


def test_parquet_of_resumed_parts_is_the_same_file(tmp_path):
    """Parquet of resumed parts is the same file."""
    rows = PARQUET_ROW_GROUP + 5  # two row groups from the first part
    chunks = [(list(range(rows)), _vectors(rows, 3)), (list(range(rows, rows + 4)), _vectors(4, 4))]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    whole = _write(tmp_path / "one", "parquet", "float32", chunks)
    resumed = _write(tmp_path / "two", "parquet", "float32", chunks, resumed=1)
    assert whole.read_bytes() == resumed.read_bytes()
    meta = pq.ParquetFile(whole).metadata
    assert meta.num_row_groups == 3 and meta.num_rows == rows + 4
    assert pq.read_table(whole).schema.field("id").type == pa.int64()  # row numbers when there is no id column


@pytest.mark.parametrize("name", ["float32", "float16", "binary"])
def test_npy_is_one_array_of_every_part_in_order(tmp_path, name):
    """Npy is one array of every part in order."""
    chunks = [(list(range(6)), _vectors(6, 5)), (list(range(6, 9)), _vectors(3, 6))]
    output = _write(tmp_path, "npy", name, chunks)
    values, _ = PRECISIONS[name].quantize(np.concatenate([v for _, v in chunks]))
    loaded = np.load(output)
    assert loaded.dtype == values.dtype
    np.testing.assert_array_equal(loaded, values)


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_jsonl_is_a_record_per_vector(tmp_path, name):
    """JSONL is a record per vector."""
    chunks = [(["a", "b", "c"], _vectors(3, 7)), (["d"], _vectors(2, 8)[:1])]
    output = _write(tmp_path, "jsonl", name, chunks)
    records = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert [r["id"] for r in records] == ["a", "b", "c", "d"]
    values, scales = PRECISIONS[name].quantize(np.concatenate([v for _, v in chunks]))
    for record, row in zip(records, values, strict=True):
        if name == "binary":
            assert base64.b64decode(record["vector"]) == row.tobytes()
        else:
            np.testing.assert_array_equal(np.array(record["vector"], dtype=row.dtype), row)
    assert [r.get("scale") for r in records] == (scales.tolist() if scales is not None else [None] * 4)


def test_refusals_are_input_errors(tmp_path):
    """Refusals are input errors."""
    with pytest.raises(InputError, match="int8 vectors need their per-vector scales"):
        part_writer("npy", "int8", DIMS, META)
    with pytest.raises(InputError, match=r"unknown precision 'int4'; choose one of \('float32', 'float16'"):
        part_writer("parquet", "int4", DIMS, META)
    with pytest.raises(InputError, match="unknown output format 'csv'"):
        part_writer("csv", "float32", DIMS, META)
    with pytest.raises(InputError, match=r"must end in .parquet, .npy or .jsonl \(got '.csv'\)"):
        output_format(tmp_path / "out.csv")
    with pytest.raises(InputError, match="got 'no suffix'"):
        output_format(tmp_path / "out")
    assert [output_format(Path(f"v{s}")) for s in (".parquet", ".NPY", ".jsonl", ".ndjson")] == [
        "parquet",
        "npy",
        "jsonl",
        "jsonl",
    ]
