"""`static-edge train -o`: an existing folder is refused without --force, the model is built in a staging folder
renamed at the end (a killed run leaves only its checkpoints, for --resume), and `eval` scores the trained dims."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from static_edge.cli import main
from static_edge.runtimes.errors import InputError
from static_edge.trainer.train import TrainConfig, checkpoint_folder, matryoshka_loss_dims, trained_dims

pytestmark = pytest.mark.slow  # end to end: training runs

STATIC_EDGE = str(Path(sys.executable).parent / "static-edge")


def _train_command(pair_files, tokenizer_file, out: Path, *extra: str) -> list[str]:
    pairs, _ = pair_files
    options = ["--tokenizer", str(tokenizer_file), "--dims", "32", "--matryoshka", "32,16", "--data", str(pairs)]
    return [STATIC_EDGE, "train", *options, "--batch-size", "16", "--logging-steps", "1", "-o", str(out), *extra]


def test_an_existing_output_is_refused_without_force_and_kept(tmp_path, pair_files, tokenizer_file):
    """An existing output is refused without force and kept."""
    out = tmp_path / "model"
    (out / "checkpoints" / "checkpoint-7").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    result = subprocess.run(
        _train_command(pair_files, tokenizer_file, out, "--max-steps", "1"), capture_output=True, text=True
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == f"error: {out} already exists; pass --force (overwrite=True) to replace it\n"
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "notes.txt"]
    assert (out / "checkpoints" / "checkpoint-7").is_dir()
    # --force replaces a model folder only, never another folder
    forced = subprocess.run(
        _train_command(pair_files, tokenizer_file, out, "--max-steps", "1", "--force"), capture_output=True, text=True
    )
    assert forced.returncode == 2 and "is not a Sentence Transformers model folder" in forced.stderr
    assert (out / "notes.txt").read_text() == "mine"


def test_a_killed_run_leaves_no_output_and_resumes_to_a_whole_one(tmp_path, pair_files, tokenizer_file):
    """A killed run leaves no output and resumes to a whole one."""
    out = tmp_path / "model"
    command = _train_command(pair_files, tokenizer_file, out, "--max-steps", "400", "--save-steps", "2")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (checkpoint_folder(out) / "checkpoint-4").is_dir():
            assert time.monotonic() < deadline and process.poll() is None, "no checkpoint within 240 s"
            time.sleep(0.1)
        assert any(tmp_path.glob(".model.partial-*")) and not out.exists()  # built beside, not in place
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=60) == 143
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.checkpoints"]  # no output, staging or lock

    command[command.index("400")] = "6"
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    log = json.loads((out / "training_log.json").read_text())
    steps = [entry["step"] for entry in log["history"] if "loss" in entry]
    assert steps[0] == 1 and steps[-1] == 6 and log["config"]["matryoshka_dims"] == [32, 16]
    card = (out / "README.md").read_text()
    assert "static-edge export model --int8 -o out/model" in card and ".partial-" not in card


def test_eval_scores_the_dims_training_recorded(tmp_path, pair_files, tokenizer_file, capsys):
    """Eval scores the dims training recorded."""
    pairs, sts = pair_files
    out = tmp_path / "model"
    options = ["--tokenizer", str(tokenizer_file), "--dims", "64", "--matryoshka", "64,24,8", "--data", str(pairs)]
    assert main(["train", *options, "--max-steps", "2", "--batch-size", "16", "-o", str(out)]) == 0
    scores = tmp_path / "scores.json"
    assert main(["eval", str(out), "--sts", str(sts), "-o", str(scores)]) == 0
    # halvings of 64 would be 64 and 32; training recorded 64, 24 and 8
    assert set(json.loads(scores.read_text())["scores"]["sts:sts"]) == {"64", "24", "8"}


def test_trained_dims_and_weights():
    """Trained dims and weights."""
    assert trained_dims(None, 128) == [128, 64, 32]
    assert trained_dims([16, 64], 64) == [64, 16]
    for dims in ([128], [0, 16]):
        with pytest.raises(InputError, match="must be between 1 and the model's 64 dimensions"):
            trained_dims(dims, 64)
    config = TrainConfig(matryoshka_dims=[16, 64], matryoshka_weights=[1.0, 2.0])
    assert matryoshka_loss_dims(config, 64) == ([64, 16], [2.0, 1.0])
    with pytest.raises(InputError, match="1 Matryoshka weights for 2 dims"):
        matryoshka_loss_dims(TrainConfig(matryoshka_dims=[16, 64], matryoshka_weights=[1.0]), 64)
