"""`static-edge encode BUNDLE INPUT -o OUTPUT`: every input and output format, precisions, resume, atomic output."""

from __future__ import annotations

import base64
import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from static_edge.cli import main
from static_edge.runtimes import load
from static_edge.runtimes.encode_files import work_folder
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.samples import sample_corpus

TEXTS = [t for t in sample_corpus() + PARITY_TEXTS if "\n" not in t and "\r" not in t]


@pytest.fixture(scope="module")
def expected(st_bundle) -> np.ndarray:
    """The vectors `encode` gives for TEXTS: what every file route must write."""
    return load(st_bundle).encode(TEXTS)


def write_input(folder: Path, fmt: str) -> Path:
    """TEXTS as a corpus file of `fmt`, with a `doc` id column where the format has columns."""
    ids = [f"d{i}" for i in range(len(TEXTS))]
    if fmt == "text":
        path = folder / "corpus.txt"
        path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    elif fmt == "jsonl":
        path = folder / "corpus.jsonl"
        lines = [json.dumps({"doc": i, "body": t}) + "\n" for i, t in zip(ids, TEXTS, strict=True)]
        path.write_text("".join(lines), "utf-8")
    elif fmt == "csv":
        path = folder / "corpus.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["doc", "body"])
            writer.writerows(zip(ids, TEXTS, strict=True))
    else:
        path = folder / "corpus.parquet"
        pq.write_table(pa.table({"doc": ids, "body": TEXTS}), path, row_group_size=7)
    return path


def read_output(path: Path) -> tuple[list, np.ndarray]:
    """(ids, float32 vectors) of a float32 output in any format."""
    if path.suffix == ".npy":
        vectors = np.load(path)
        return list(range(len(vectors))), vectors
    if path.suffix == ".jsonl":
        records = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        return [r["id"] for r in records], np.array([r["vector"] for r in records], dtype=np.float32)
    table = pq.read_table(path)
    return table.column("id").to_pylist(), np.array(table.column("vector").to_pylist(), dtype=np.float32)


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("text", ".parquet"), ("jsonl", ".jsonl"), ("csv", ".npy"), ("parquet", ".parquet")]
)
def test_every_input_format_to_every_output_format(st_bundle, expected, tmp_path, fmt, suffix, capsys):
    """Every input format to every output format."""
    corpus = write_input(tmp_path, fmt)
    out = tmp_path / f"vectors{suffix}"
    columns = [] if fmt == "text" else ["--column", "body"] + (["--id-column", "doc"] if suffix != ".npy" else [])
    args = ["encode", str(st_bundle), str(corpus), "-o", str(out), "--chunk-size", "9", "--quiet", *columns]
    assert main(args) == 0
    assert f"{len(TEXTS)} vectors" in " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    ids, vectors = read_output(out)
    want_ids = list(range(len(TEXTS))) if fmt == "text" or suffix == ".npy" else [f"d{i}" for i in range(len(TEXTS))]
    assert ids == want_ids
    np.testing.assert_allclose(vectors, expected, atol=1e-6, rtol=0)
    assert not work_folder(out).exists() and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [corpus.name, out.name]
    )


def test_precisions(st_bundle, expected, tmp_path):
    """Precisions."""
    corpus = write_input(tmp_path, "text")
    for precision in ("float16", "int8", "binary"):
        out = tmp_path / f"{precision}.parquet"
        assert main(["encode", str(st_bundle), str(corpus), "-o", str(out), "--precision", precision, "--quiet"]) == 0
        table = pq.read_table(out)
        assert json.loads(table.schema.metadata[b"static_edge"])["precision"] == precision
        if precision == "float16":
            vectors = np.array(table.column("vector").to_pylist(), dtype=np.float32)
            np.testing.assert_allclose(vectors, expected, atol=1e-3)
        elif precision == "int8":
            q = np.array(table.column("vector").to_pylist(), dtype=np.float32)
            scale = table.column("scale").to_numpy()
            restored = q * scale[:, None]
            assert np.abs(restored - expected).max() <= np.abs(expected).max() / 127
        else:
            bits = np.array([np.frombuffer(b, dtype=np.uint8) for b in table.column("vector").to_pylist()])
            np.testing.assert_array_equal(bits, np.packbits(expected > 0, axis=1))
    out = tmp_path / "binary.jsonl"
    assert main(["encode", str(st_bundle), str(corpus), "-o", str(out), "--precision", "binary", "--quiet"]) == 0
    first = json.loads(out.read_text().splitlines()[0])["vector"]
    assert base64.b64decode(first) == np.packbits(expected[0] > 0).tobytes()


def _encode_command(bundle: Path, corpus: Path, out: Path, *extra: str) -> list[str]:
    code = "import sys; from static_edge.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, "encode", str(bundle), str(corpus), "-o", str(out), *extra]


@pytest.mark.slow  # end to end: kills an encode-file child process
def test_a_killed_run_resumes_to_the_same_file(st_bundle, tmp_path):
    """A killed run resumes to the same file."""
    corpus = tmp_path / "big.txt"
    corpus.write_text("\n".join(TEXTS * 400) + "\n", encoding="utf-8")
    chunking = ["--chunk-size", "500", "--batch-size", "64"]
    whole = tmp_path / "whole.parquet"
    done = subprocess.run(_encode_command(st_bundle, corpus, whole, *chunking), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "text/s" in done.stderr  # the progress bar shows the rate

    out = tmp_path / "killed.parquet"
    process = subprocess.Popen(
        _encode_command(st_bundle, corpus, out, *chunking), stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (work_folder(out) / "part-000001.arrow").exists() and process.poll() is None:
            assert time.monotonic() < deadline, "no part written within 60 s"
            time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not out.exists() and not list(tmp_path.glob(".killed.parquet.tmp-*"))
    # complete parts (Arrow files) stay for --resume; SIGKILL may also catch a part mid-write (part-N.arrow.tmp),
    # which the resumed run rewrites, and the output in progress stays inside the work folder too
    kept = sorted(p.name for p in work_folder(out).glob("part-*"))
    assert any(name.endswith(".arrow") for name in kept)
    assert all(name.endswith((".arrow", ".arrow.tmp")) for name in kept)
    hidden = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert hidden == [".killed.parquet.lock", work_folder(out).name]  # the lock file of output_lock, and the parts

    refused = subprocess.run(
        _encode_command(st_bundle, corpus, out, *chunking, "--resume", "--precision", "float16"),
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "cannot resume: precision changed" in refused.stderr
    assert "Traceback" not in refused.stderr
    resumed = subprocess.run(
        _encode_command(st_bundle, corpus, out, *chunking, "--resume"), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "from the interrupted run" in " ".join(resumed.stdout.split())
    assert out.read_bytes() == whole.read_bytes()
    assert not work_folder(out).exists()


def test_bad_inputs_and_outputs_are_one_line_errors(st_bundle, tmp_path, capsys):
    """Bad inputs and outputs are one line errors."""
    corpus = write_input(tmp_path, "jsonl")

    def error(*args: str) -> str:
        assert main(["encode", str(st_bundle), *args, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        return err

    assert "has no 'text' field" in error(str(corpus), "-o", str(tmp_path / "a.parquet"))
    assert "must end in .parquet, .npy or .jsonl" in error(
        str(corpus), "--column", "body", "-o", str(tmp_path / "a.txt")
    )
    assert "input file not found" in error(str(tmp_path / "none.txt"), "-o", str(tmp_path / "a.npy"))
    assert "give one INPUT file" in error(str(corpus), "extra", "-o", str(tmp_path / "a.npy"))
    assert "int8 vectors need their per-vector scales" in error(
        str(corpus), "--column", "body", "-o", str(tmp_path / "a.npy"), "--precision", "int8"
    )
    assert "it is the input" in error(str(corpus), "--column", "body", "-o", str(corpus), "--force")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9\n".encode("latin-1"))
    assert "not UTF-8" in error(str(latin1), "-o", str(tmp_path / "a.npy"))
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "ok"}\n[1, 2]\n')
    assert "line 2 is not a JSON object" in error(str(bad_json), "-o", str(tmp_path / "a.npy"))
    csv_file = write_input(tmp_path, "csv")
    assert "has no column 'missing'" in error(str(csv_file), "--column", "missing", "-o", str(tmp_path / "a.npy"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "holds no texts" in error(str(empty), "-o", str(tmp_path / "a.npy"))
    existing = tmp_path / "exists.npy"
    existing.write_bytes(b"keep me")
    assert "already exists" in error(str(corpus), "--column", "body", "-o", str(existing))
    assert existing.read_bytes() == b"keep me"
    assert not list(tmp_path.glob(".*"))  # no work folder, lock or temporary file left by any failure


def test_resume_knows_the_input_by_its_bytes_and_a_failure_says_what_it_kept(st_bundle, expected, tmp_path, capsys):
    """Resume knows the input by its bytes and a failure says what it kept."""
    from static_edge.runtimes.vector_writers import JoinedSink

    corpus = write_input(tmp_path, "text")
    original = corpus.read_bytes()
    out = tmp_path / "vectors.npy"
    args = ["encode", str(st_bundle), str(corpus), "-o", str(out), "--chunk-size", "50", "--quiet"]

    def disk_full(self):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.output))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(JoinedSink, "close", disk_full)  # the disk fills as the parts are joined
        assert main(args) == 1
    err = capsys.readouterr().err
    chunks = -(-len(TEXTS) // 50)
    assert err.count("\n") == 1 and "No space left on device" in err
    assert f"{chunks} complete chunks are kept in {work_folder(out)}; run the same command with --resume" in err
    assert len(list(work_folder(out).glob("part-*"))) == chunks

    # an edit that keeps the size and the modification time is still a different input
    stat = corpus.stat()
    corpus.write_bytes(original.replace(b"e", b"E", 1))
    os.utime(corpus, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert corpus.stat().st_size == stat.st_size
    assert main([*args, "--resume"]) == 2
    assert "cannot resume: input_sha256 changed since the interrupted run" in capsys.readouterr().err

    corpus.write_bytes(original)
    assert main([*args, "--resume"]) == 0
    assert "from the interrupted run" in " ".join(capsys.readouterr().out.split())
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6, rtol=0)
    assert not work_folder(out).exists()
