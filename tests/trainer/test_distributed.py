"""`static-edge train` under `torchrun --nproc_per_node 2` (DDP, gloo on CPU): both ranks train, rank 0 alone saves."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from static_edge.runtimes.samples import sample_corpus

pytestmark = pytest.mark.slow  # end to end: torchrun with two ranks

PER_DEVICE_BATCH = 16
STEPS = 4


@pytest.fixture(scope="module")
def train_inputs(tmp_path_factory) -> tuple[Path, Path]:
    """A tokenizer and a small pairs file for the two-process training run."""
    from model_builders import wordpiece_tokenizer

    folder = tmp_path_factory.mktemp("ddp-data")
    tokenizer = folder / "tokenizer.json"
    wordpiece_tokenizer().save(str(tokenizer))
    rng = random.Random(0)
    pairs = folder / "pairs.jsonl"
    with open(pairs, "w") as handle:
        for sentence in sample_corpus():
            words = sentence.split()
            words.pop(rng.randrange(len(words)))
            handle.write(json.dumps({"anchor": sentence, "positive": " ".join(words)}) + "\n")
    return tokenizer, pairs


def _run_group(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run `command` in its own session and kill the whole group (launcher and ranks) on timeout or failure."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    for leaked in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(leaked, None)
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        else:  # the launcher is gone; make sure no rank outlives it
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return subprocess.CompletedProcess(command, process.returncode, output, None)


def test_torchrun_two_processes_train_and_rank0_saves_one_model(tmp_path, train_inputs):
    """Torchrun two processes train and rank0 saves one model."""
    from sentence_transformers import SentenceTransformer

    tokenizer, pairs = train_inputs
    output = tmp_path / "out" / "model"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    program = [str(Path(sys.executable).parent / "static-edge"), "train"]
    options = ["--tokenizer", str(tokenizer), "--dims", "32", "--data", str(pairs), "--matryoshka", "32,16"]
    options += ["--max-steps", str(STEPS), "--batch-size", str(PER_DEVICE_BATCH), "--lr", "0.1", "-o", str(output)]
    result = _run_group(launcher + program + options, tmp_path, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:]

    # exactly one model: one report line, one folder with one weights file, nothing else beside it
    assert result.stdout.count(f"saved {output}") == 1, result.stdout[-3000:]
    assert [p.name for p in output.parent.iterdir()] == ["model"]
    assert sorted(p.name for p in output.iterdir()) == [
        "README.md",
        "config_sentence_transformers.json",
        "model.safetensors",
        "modules.json",
        "tokenizer.json",
        "training_log.json",
    ]
    log = json.loads((output / "training_log.json").read_text())
    assert log["processes"] == 2
    # both ranks took a share of each step: an epoch is len // (2 * batch) steps, not len // batch
    epoch_at_end = [e["epoch"] for e in log["history"] if "epoch" in e][-1]
    steps_per_epoch = len(sample_corpus()) // (2 * PER_DEVICE_BATCH)
    assert epoch_at_end == pytest.approx(STEPS / steps_per_epoch, abs=1e-3)

    model = SentenceTransformer(str(output), device="cpu")
    vectors = model.encode(["a static model trained by two processes", "DDP on gloo"], convert_to_numpy=True)
    assert vectors.shape == (2, 32) and np.isfinite(vectors).all() and np.abs(vectors).sum() > 0
