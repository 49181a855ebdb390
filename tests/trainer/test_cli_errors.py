"""Every trainer command ends a bad input with one `error:` line, exit 2, no traceback and no output left behind.

Most cases run `static_edge.cli.main` in this process (an exception other than the project's error types would
fail the test with its traceback); the offline hub cases run the real `static-edge` command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from static_edge.cli import main

pytestmark = pytest.mark.slow  # each case runs a trainer command (torch, data loading), some in a child process

STATIC_EDGE = str(Path(sys.executable).parent / "static-edge")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A folder of good and bad input files, shared by the cases (each case writes its output elsewhere)."""
    folder = tmp_path_factory.mktemp("inputs")
    rows = [{"anchor": f"a cat number {i}", "positive": f"a kitten {i}"} for i in range(16)]
    (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "sts.csv").write_text('"a cat","a kitten",5\n"a dog","stocks fell",0\n"rain","it rains",4\n')
    (folder / "no-rows.csv").write_text("sentence1,sentence2,score\n")
    (folder / "latin1.csv").write_bytes('"caf\xe9","a caf\xe9",5\n'.encode("latin-1"))
    (folder / "corpus.txt").write_text("a cat sits\nrain falls\n")
    (folder / "not-gzip.txt.gz").write_text("plain text")
    (folder / "tokenizer-broken.json").write_text("{{{")
    from model_builders import wordpiece_tokenizer

    from static_edge.trainer.train import init_model

    other = folder / "other-tokenizer.json"
    wordpiece_tokenizer(vocab_size=600).save(str(other))
    init_model(None, tokenizer=other, dims=32).save(str(folder / "other-vocabulary"))
    (folder / "not-a-model").mkdir()
    (folder / "not-a-model" / "notes.txt").write_text("no model here")
    beir = folder / "beir-no-id"
    beir.mkdir()
    (beir / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "text": "a cat"}) + "\n")
    (beir / "queries.jsonl").write_text(json.dumps({"id": "q1", "text": "cat"}) + "\n")
    (beir / "qrels_test.tsv").write_text("q1\td1\t1\n")
    broken = folder / "beir-broken-json"
    broken.mkdir()
    (broken / "corpus.jsonl").write_text('{"_id": "d1", "text": "a cat"\n')
    (broken / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "cat"}) + "\n")
    (broken / "qrels_test.tsv").write_text("q1\td1\t1\n")
    return folder


def _assert_one_error_line(code: int, stderr: str, message: str) -> None:
    assert code == 2, stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and message in stderr, stderr


def _left_behind(folder: Path, name: str) -> list[str]:
    """`name` and its staging, lock or checkpoint siblings, where any is left in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name == name or p.name.startswith(f".{name}."))


RANDOM_INIT = ["--tokenizer", "{tokenizer}", "--dims", "32"]
TRAIN_CASES = {
    "no start": ([], "give --init (a static model to start from) or --tokenizer (for a random init)"),
    "missing start": (["--init", "{inputs}/no-such-model"], "no-such-model: no such file or folder"),
    "start not a model": (["--init", "{inputs}/not-a-model"], "not-a-model cannot be loaded: Could not find"),
    "broken tokenizer": (["--tokenizer", "{inputs}/tokenizer-broken.json"], "tokenizer-broken.json cannot be loaded"),
    "dims 0": (["--tokenizer", "{tokenizer}", "--dims", "0"], "--dims must be at least 1, got 0"),
    "batch size 0": ([*RANDOM_INIT, "--batch-size", "0"], "batch size must be at least 1, got 0"),
    "logging steps 0": ([*RANDOM_INIT, "--logging-steps", "0"], "logging steps must be at least 1, got 0"),
    "save steps 0": ([*RANDOM_INIT, "--save-steps", "0"], "save steps must be at least 1, got 0"),
    "no epochs": ([*RANDOM_INIT, "--max-steps", "-1", "--epochs", "0"], "epochs must be above 0, got 0.0"),
    "warm-up": ([*RANDOM_INIT, "--warmup-ratio", "1.5"], "warm-up ratio must be at least 0 and below 1, got 1.5"),
    "negative weight": (
        [*RANDOM_INIT, "--matryoshka", "32,16", "--matryoshka-weights", "1,-1"],
        "Matryoshka weights must be numbers of at least 0",
    ),
    "missing data": ([*RANDOM_INIT, "--data", "{inputs}/no-such.jsonl"], "training data file"),
    "missing guide": ([*RANDOM_INIT, "--guide", "{inputs}/no-such-guide"], "not a model folder or hub id"),
    "guide not a model": ([*RANDOM_INIT, "--guide", "{inputs}/not-a-model"], "not-a-model cannot be loaded"),
    "guide of another vocabulary": (
        [*RANDOM_INIT, "--guide", "{inputs}/other-vocabulary"],
        "other-vocabulary: its vocabulary is not the start model's",
    ),
    "average share": ([*RANDOM_INIT, "--average-share", "1.5"], "average share must be between 0 and 1, got 1.5"),
    "averaging and resume": (
        [*RANDOM_INIT, "--average-share", "0.3", "--resume"],
        "--average-share and --resume do not combine",
    ),
    "sts without rows": ([*RANDOM_INIT, "--eval-sts", "{inputs}/no-rows.csv"], "has no rows of the form"),
    "sts not UTF-8": ([*RANDOM_INIT, "--eval-sts", "{inputs}/latin1.csv"], "cannot be read as UTF-8 text"),
    "beir without _id": (
        [*RANDOM_INIT, "--eval-retrieval", "{inputs}/beir-no-id", "--eval-split", "test"],
        "queries.jsonl: line 1 has no '_id' field",
    ),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_train_fails_in_one_line_and_leaves_nothing(case, inputs, tokenizer_file, tmp_path, capsys):
    """Train fails in one line and leaves nothing."""
    options, message = TRAIN_CASES[case]
    options = [o.format(inputs=inputs, tokenizer=tokenizer_file) for o in options]
    data = [] if "--data" in options else ["--data", str(inputs / "pairs.jsonl")]
    code = main(["train", *data, "--max-steps", "1", "--batch-size", "8", *options, "-o", str(tmp_path / "out")])
    _assert_one_error_line(code, capsys.readouterr().err, message)
    assert _left_behind(tmp_path, "out") == []


def test_train_data_that_is_not_json_is_one_line_on_the_terminal(inputs, tokenizer_file, tmp_path, capfd):
    """A malformed JSONL file: one error line on stderr (datasets' own log of the parse error stays out)."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    code = main(["train", "--data", str(bad), "--tokenizer", str(tokenizer_file), "-o", str(tmp_path / "out")])
    _assert_one_error_line(code, capfd.readouterr().err, "bad.jsonl cannot be read as jsonl")


PRETRAIN_CASES = {
    "missing corpus": (["--corpus", "{inputs}/no-such.txt"], "corpus file {inputs}/no-such.txt not found"),
    "corpus not gzip": (["--corpus", "{inputs}/not-gzip.txt.gz"], "not-gzip.txt.gz is not a complete gzip file"),
    "start not a model": (["--corpus", "{inputs}/corpus.txt", "--init"], "not-a-model cannot be loaded"),
    "teacher not a model": (
        ["--corpus", "{inputs}/corpus.txt", "--teacher", "{inputs}/not-a-model"],
        "teacher {inputs}/not-a-model cannot be loaded",
    ),
    "teacher batch 0": (
        ["--corpus", "{inputs}/corpus.txt", "--teacher-batch-size", "0"],
        "--teacher-batch-size must be at least 1, got 0",
    ),
    "batch size 0": (["--corpus", "{inputs}/corpus.txt", "--batch-size", "0"], "batch size must be at least 1"),
    "int8 through torch, before the corpus is read": (
        ["--corpus", "{inputs}/no-such.txt", "--teacher-backend", "torch", "--teacher-precision", "int8"],
        "int8 needs the onnx teacher backend",
    ),
}


@pytest.mark.parametrize("case", list(PRETRAIN_CASES))
def test_pretrain_fails_in_one_line_and_leaves_nothing(case, inputs, st_unigram, tmp_path, capsys):
    """Pretrain fails in one line and leaves nothing."""
    options, message = PRETRAIN_CASES[case]
    options = [o.format(inputs=inputs) for o in options]
    start = str(inputs / "not-a-model") if options[-1] == "--init" else str(st_unigram)
    options = [o for o in options if o != "--init"]
    teacher = [] if "--teacher" in options else ["--teacher", str(st_unigram)]
    cache = ["--cache", str(tmp_path / "cache")]
    code = main(["pretrain", start, *teacher, *options, *cache, "-o", str(tmp_path / "out")])
    _assert_one_error_line(code, capsys.readouterr().err, message.format(inputs=inputs))
    assert _left_behind(tmp_path, "out") == []


def test_distill_of_a_folder_that_is_no_transformer_fails_in_one_line(inputs, tmp_path, capsys):
    """Distill of a folder that is no transformer fails in one line."""
    code = main(["distill", str(inputs / "not-a-model"), "--pca-dims", "0", "-o", str(tmp_path / "out")])
    _assert_one_error_line(code, capsys.readouterr().err, f"teacher {inputs / 'not-a-model'} cannot be loaded")
    assert _left_behind(tmp_path, "out") == []


EVAL_CASES = {
    "missing model": (["{inputs}/no-such-model", "--sts", "{inputs}/sts.csv"], "no-such-model: no such file or"),
    "not a model": (["{inputs}/not-a-model", "--sts", "{inputs}/sts.csv"], "not-a-model cannot be loaded"),
    "variant of a folder": (
        ["{model}", "--sts", "{inputs}/sts.csv", "--variant", "int8"],
        "is not a bundle (it has no static_edge.json): a variant applies to bundles only",
    ),
    "sts not UTF-8": (["{model}", "--sts", "{inputs}/latin1.csv"], "latin1.csv cannot be read as UTF-8 text"),
    "beir broken JSON": (
        ["{model}", "--retrieval", "{inputs}/beir-broken-json", "--split", "test"],
        "corpus.jsonl: line 1 is not JSON",
    ),
    "missing parallel file": (["{model}", "--parallel", "{inputs}/no-such.tsv"], "no-such.tsv not found"),
}


@pytest.mark.parametrize("case", list(EVAL_CASES))
def test_eval_fails_in_one_line_and_writes_nothing(case, inputs, st_unigram, tmp_path, capsys):
    """Eval fails in one line and writes nothing."""
    options, message = EVAL_CASES[case]
    options = [o.format(inputs=inputs, model=st_unigram) for o in options]
    code = main(["eval", *options, "-o", str(tmp_path / "scores.json")])
    _assert_one_error_line(code, capsys.readouterr().err, message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["distill", "no-such-org/no-such-teacher", "-o", "{out}"],
        ["pretrain", "{model}", "--corpus", "{inputs}/corpus.txt", "--teacher", "no-such-org/no-such-teacher"],
        ["train", "--init", "no-such-org/no-such-model", "--data", "{inputs}/pairs.jsonl", "-o", "{out}"],
        ["train", "--tokenizer", "no-such-org/no-such-model", "--data", "{inputs}/pairs.jsonl", "-o", "{out}"],
    ],
)
def test_a_hub_id_that_is_not_cached_fails_offline_in_one_line(command, inputs, st_unigram, tmp_path):
    """A hub id that is not cached fails offline in one line."""
    out = tmp_path / "out"
    command = [c.format(inputs=inputs, model=st_unigram, out=out) for c in command]
    if command[0] == "pretrain":
        command += ["--cache", str(tmp_path / "cache"), "-o", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([STATIC_EDGE, *command], capture_output=True, text=True, timeout=300, env=env)
    _assert_one_error_line(result.returncode, result.stderr, "no-such-org/no-such-")
    assert "no such file or folder, and the hub cannot provide it" in result.stderr
    assert _left_behind(tmp_path, "out") == []
