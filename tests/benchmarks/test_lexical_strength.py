"""The lexical-strength sweep (benchmarks.measure.lexical_strength) on the small data folder and a real static
model: a table, its JSON and plot with one row per strength and task; a folder that is no model is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import static_edge.trainer.evaluate as evaluation
from benchmarks.measure.lexical_strength import sweep

REPO = Path(__file__).resolve().parents[2]


def test_the_sweep_scores_each_strength_and_refuses_a_folder_without_a_model(tmp_path, data, st_wordpiece):
    """A row per strength and task in the table, its JSON and plot; a folder without a model is a usage error."""
    command = [
        sys.executable, "-m", "benchmarks.measure.lexical_strength", f"small={st_wordpiece}",
        "--data", str(data), "--strengths", "0,3", "--out", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads((tmp_path / "lexical_strength.json").read_text())["rows"]
    assert {(r["strength"], r["task"]) for r in rows} >= {(0.0, "sts:stsb-en-dev"), (3.0, "retrieval:scifact-train")}
    assert (tmp_path / "lexical_strength.png").stat().st_size > 0
    negative = subprocess.run([*command, "--strengths", "1,-1"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert negative.returncode == 2 and "finite numbers >= 0, got '1,-1'" in negative.stderr
    command[3] = f"nothing={tmp_path}"
    refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "Sentence Transformers static model" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_each_strength_is_scored_on_its_own_table(data, st_wordpiece, monkeypatch):
    """The texts the suite encodes get other vectors at strength 3 than at 0, and strength 0 gives the model's own
    vectors: the sweep scores the changed table, not the saved one."""
    from sentence_transformers import SentenceTransformer

    probe = ["the quick brown fox", "influenza vaccine"]
    seen: list[np.ndarray] = []
    real = evaluation.evaluate

    def recording(encode, *args, **kwargs):
        seen.append(encode(probe))
        return real(encode, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", recording)
    rows = sweep({"small": st_wordpiece}, [0.0, 3.0], data)
    assert {r["strength"] for r in rows} == {0.0, 3.0}
    own = SentenceTransformer(str(st_wordpiece), device="cpu").encode(probe)
    assert np.allclose(seen[0], own, atol=1e-6)
    assert not np.allclose(seen[1], own, atol=1e-3)


def test_the_recipe_step_counts_idf_on_the_pool_without_its_held_apart_items(data, st_wordpiece):
    """steps.lexical_start (the retrieval recipe's --lexical): a token in no pool text moves the most, and the pool
    it counts on leaves out every held-apart dev item."""
    from sentence_transformers import SentenceTransformer

    from benchmarks.recipes.dev_suite import held_apart
    from benchmarks.recipes.steps import lexical_start, training_pool

    pool = training_pool(data)
    assert pool and not any(held_apart(data).excludes(text) for text in pool)
    model = SentenceTransformer(str(st_wordpiece), device="cpu")
    before = model[0].embedding.weight.detach().numpy().copy()
    lexical_start(model, data, strength=1.0)
    moved = np.linalg.norm(model[0].embedding.weight.detach().numpy() - before, axis=1)
    seen = {i for encoding in model[0].tokenizer.encode_batch(pool, add_special_tokens=False) for i in encoding.ids}
    unseen = [i for i in range(len(moved)) if i not in seen]
    assert unseen and min(moved[unseen]) == pytest.approx(moved.max())
    assert max(moved[list(seen)]) < moved.max()


def test_models_with_other_tokenizers_each_get_their_own_idf(data, st_wordpiece, st_unigram):
    """A WordPiece and a Unigram model in one sweep: each table gets an idf of its own rows, so both are scored."""
    rows = sweep({"wordpiece": st_wordpiece, "unigram": st_unigram}, [1.0], data)
    assert {r["model"] for r in rows} == {"wordpiece", "unigram"}


def test_the_recipe_refuses_a_bad_lexical_strength_before_any_work(tmp_path):
    """--lexical -1 is a usage error in one line, before the recipe reads data or builds a start."""
    command = [sys.executable, "-m", "benchmarks.recipes.retrieval", "--lexical", "-1", "--cache", str(tmp_path)]
    refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--lexical must be a finite number >= 0, got -1.0" in refused.stderr
    assert "Traceback" not in refused.stderr and not any(tmp_path.iterdir())
