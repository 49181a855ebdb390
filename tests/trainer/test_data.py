"""Training data is checked before training: every documented layout loads, and a wrong file fails in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from static_edge.trainer.data import DataError, load_pairs

STATIC_EDGE = str(Path(sys.executable).parent / "static-edge")
ROWS = [("a cat sits", "a kitten sits", "stock prices fell"), ("it rains", "rain falls", "the sun is out")]


def _write(path: Path, columns: dict[str, list]) -> Path:
    """`columns` as a JSONL, CSV, TSV or Parquet file, by the suffix of `path`."""
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(dict(zip(names, r, strict=True))) + "\n" for r in rows))
    elif path.suffix == ".parquet":
        pq.write_table(pa.table(columns), path)
    else:
        sep = "\t" if path.suffix == ".tsv" else ","
        path.write_text("\n".join(sep.join(map(str, r)) for r in [names, *rows]) + "\n")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv", ".parquet"])
def test_pairs_triplets_and_scored_pairs_load_in_every_format(tmp_path, suffix):
    """Pairs triplets and scored pairs load in every format."""
    anchors, positives, negatives = (list(c) for c in zip(*ROWS, strict=True))
    pairs = load_pairs(_write(tmp_path / f"pairs{suffix}", {"anchor": anchors, "positive": positives}))
    assert pairs.column_names == ["anchor", "positive"] and list(pairs["positive"]) == positives
    triplets = _write(tmp_path / f"triplets{suffix}", {"anchor": anchors, "positive": positives, "negative": negatives})
    assert list(load_pairs(triplets)["negative"]) == negatives
    aliased = _write(tmp_path / f"aliased{suffix}", {"sentence1": anchors, "sentence2": positives})
    assert list(load_pairs(aliased)["anchor"]) == anchors
    # scored pairs: the loss takes every pair as alike, so only the upper half of the score range is kept
    scored = {"sentence1": ["a", "b", "c", "d"], "sentence2": ["w", "x", "y", "z"], "score": [5.0, 0.0, 2.5, 4]}
    kept = load_pairs(_write(tmp_path / f"scored{suffix}", scored))
    assert kept.column_names == ["anchor", "positive"] and list(kept["anchor"]) == ["a", "c", "d"]


def test_wrong_empty_and_unreadable_files_are_data_errors(tmp_path):
    """Wrong empty and unreadable files are data errors."""
    wrong = _write(tmp_path / "wrong.jsonl", {"question_text": ["a"], "reply": ["b"]})
    with pytest.raises(DataError, match=r"has columns \['question_text', 'reply'\]; training needs \(anchor, pos"):
        load_pairs(wrong)
    for name in ("empty.jsonl", "blank.csv", "empty.parquet"):
        (tmp_path / name).write_text("" if name != "blank.csv" else "\n  \n")
        with pytest.raises(DataError, match="is empty"):
            load_pairs(tmp_path / name)
    (tmp_path / "broken.jsonl").write_text('{"anchor": "a", "positive": \n')
    with pytest.raises(DataError, match="cannot be read as jsonl"):
        load_pairs(tmp_path / "broken.jsonl")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="cannot be read as parquet"):
        load_pairs(tmp_path / "broken.parquet")
    scored = _write(tmp_path / "scored.jsonl", {"anchor": ["a"], "positive": ["b"], "score": ["high"]})
    with pytest.raises(DataError, match="'score' must hold numbers"):
        load_pairs(scored)


def _train(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    out = tmp_path / "model"
    command = [STATIC_EDGE, "train", *options, "--max-steps", "1", "--batch-size", "8", "-o", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # runs the trainer's checks on every bad input (torch, datasets)
def test_train_checks_data_and_dims_in_one_line_before_training(tmp_path, tokenizer_file, st_unigram):
    """Train checks data and dims in one line before training."""
    pairs = _write(tmp_path / "pairs.jsonl", {"anchor": ["a", "b"], "positive": ["c", "d"]})
    wrong = _write(tmp_path / "wrong.jsonl", {"question_text": ["a"], "reply": ["b"]})
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "empty.jsonl").write_text("")
    random_init = ["--tokenizer", str(tokenizer_file), "--dims", "32"]
    cases = {
        "wrong.jsonl has columns ['question_text', 'reply']": ["--data", str(wrong), *random_init],
        "empty.csv is empty": ["--data", str(tmp_path / "empty.csv"), *random_init],
        "empty.jsonl is empty": ["--data", str(tmp_path / "empty.jsonl"), *random_init],
        "Matryoshka dims [64, 32] must be between 1 and the model's 32 dimensions": [
            "--data", str(pairs), *random_init, "--matryoshka", "64,32",
        ],
        # a folder to start from: its width is known once it loads, still before training
        "Matryoshka dims [128, 32] must be between 1 and the model's 64 dimensions": [
            "--data", str(pairs), "--init", str(st_unigram), "--matryoshka", "128,32",
        ],
    }  # fmt: skip
    for message, options in cases.items():
        result = _train(tmp_path, *options)
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr[-2000:]
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "model").exists() and not list(tmp_path.glob(".model*"))
