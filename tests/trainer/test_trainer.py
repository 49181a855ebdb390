"""Trainer: a tiny model trains for a few steps, its loss falls, and every Matryoshka dim is scored."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from static_edge.cli import main
from static_edge.runtimes.samples import sample_corpus


@pytest.mark.slow  # end to end: a training or distillation run
def test_training_lowers_the_loss_and_scores_every_matryoshka_dim(tmp_path, pair_files, tokenizer_file):
    """Training lowers the loss and scores every Matryoshka dim."""
    from static_edge.trainer.data import load_pairs
    from static_edge.trainer.evaluate import evaluate, model_encoder, read_sts
    from static_edge.trainer.model_card import write_model_card
    from static_edge.trainer.train import TrainConfig, init_model, train

    pairs, sts_file = pair_files
    data = {"pairs": load_pairs(pairs)}
    assert len(data["pairs"]) == 2 * len(sample_corpus())
    model = init_model(None, tokenizer=tokenizer_file, dims=64)
    sts = {"toy": read_sts(sts_file)}
    config = TrainConfig(matryoshka_dims=[64, 32, 16], epochs=4, batch_size=64, learning_rate=0.1, logging_steps=2)
    model, history = train(model, data, tmp_path / "model", config)
    losses = [h["loss"] for h in history]
    assert len(losses) >= 4 and np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2]), losses

    encode, full, description = model_encoder(tmp_path / "model")
    assert full == 64 and description == "Sentence Transformers"
    scores = evaluate(encode, [16, 32, 64], sts)["sts:toy"]
    assert set(scores) == {16, 32, 64} and all(-100 <= v <= 100 for v in scores.values())
    assert len(set(scores.values())) == 3, "each dimension is scored on its own slice"
    card = write_model_card(
        tmp_path / "model", init=None, data={"pairs": len(data["pairs"])}, scores={"sts:toy": scores}
    )
    text = card.read_text()
    assert "MatryoshkaLoss(MultipleNegativesRankingLoss)" in text and "64, 32, 16" in text and "| pairs | 440 |" in text
    assert not (tmp_path / "model" / "checkpoints").exists()


@pytest.mark.slow  # end to end: a training or distillation run
def test_cli_train_export_and_eval_the_bundle(tmp_path, pair_files, st_unigram, capsys):
    """CLI train export and eval the bundle."""
    pairs, sts_file = pair_files
    out = tmp_path / "trained"
    args = [
        "--matryoshka",
        "64,32",
        "--matryoshka-weights",
        "1,2",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--lr",
        "0.05",
        "--sts",
        str(sts_file),
    ]
    rc = main(["train", "--init", str(st_unigram), "--data", str(pairs), *args, "-o", str(out)])
    assert rc == 0
    assert "Scores (x100) per dimension" in (out / "README.md").read_text()
    assert main(["export", str(out), "--dims", "32", "--int8", "-o", str(tmp_path / "bundle")]) == 0
    result = tmp_path / "eval" / "scores.json"
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                str(tmp_path / "bundle"),
                "--variant",
                "int8",
                "--sts",
                str(sts_file),
                "--dims",
                "16,32",
                "-o",
                str(result),
            ]
        )
        == 0
    )
    scores = json.loads(result.read_text())
    assert scores["encoder"] == "bundle int8" and set(scores["scores"]["sts:sts"]) == {"16", "32"}
    assert result.with_suffix(".png").stat().st_size > 1000
    recorded = json.loads((tmp_path / "bundle" / "static_edge.json").read_text())["quality"]["int8"]
    assert recorded["sts:sts"] == scores["scores"]["sts:sts"]


def test_bad_training_data(tmp_path):
    """Bad training data."""
    from static_edge.trainer.data import DataError, load_pairs

    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"question_text": "a", "reply": "b"}) + "\n")
    with pytest.raises(DataError, match="training needs"):
        load_pairs(wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text("anchor,positive\n , \n")
    with pytest.raises(DataError, match="no rows"):
        load_pairs(empty)
    with pytest.raises(DataError, match="missing.parquet not found"):
        load_pairs(tmp_path / "missing.parquet")
    odd = tmp_path / "data.xml"
    odd.write_text("<a/>")
    with pytest.raises(DataError, match="unknown format"):
        load_pairs(odd)
    aliased = tmp_path / "aliased.tsv"
    aliased.write_text("sentence1\tsentence2\nhello there\thi there\n")
    assert load_pairs(aliased).column_names == ["anchor", "positive"]


def test_eval_needs_a_task(st_bundle, capsys):
    """Eval needs a task."""
    assert main(["eval", str(st_bundle)]) == 2
    assert "at least one --sts" in capsys.readouterr().err


@pytest.mark.slow  # end to end: a training or distillation run
def test_distill_a_small_transformer_into_a_static_model(tmp_path, tokenizer_file):
    """model2vec distillation of a real (tiny, random) BERT, saved as a Sentence Transformers static folder."""
    from model_builders import save_tiny_bert
    from tokenizers import Tokenizer

    from static_edge.exporter import ExportOptions, check_bundle, export
    from static_edge.trainer.distill import distill

    teacher = save_tiny_bert(Tokenizer.from_file(str(tokenizer_file)), tmp_path / "tiny-bert")
    out = distill(teacher, tmp_path / "static", pca_dims=32)
    assert json.loads((out / "modules.json").read_text())[0]["type"].endswith("StaticEmbedding")
    bundle = export(out, tmp_path / "bundle", ExportOptions(int8=True))
    assert check_bundle(bundle).passed


def test_hard_negative_mining_adds_a_negative_from_the_other_positives(pair_files, st_unigram):
    """Hard negative mining adds a negative from the other positives."""
    from static_edge.trainer.data import load_pairs
    from static_edge.trainer.train import init_model, mine_negatives

    pairs = load_pairs(pair_files[0]).select(range(200))
    mined = mine_negatives(init_model(st_unigram), pairs)
    assert mined.column_names == ["anchor", "positive", "negative"] and len(mined) > 0
    positives = set(pairs["positive"])
    assert all(row["negative"] in positives and row["negative"] != row["positive"] for row in mined)
    assert mine_negatives(init_model(st_unigram), mined) is mined  # already has negatives: unchanged


@pytest.mark.slow  # end to end: a training or distillation run
def test_training_resumes_from_its_last_checkpoint(tmp_path, pair_files, tokenizer_file):
    """Training resumes from its last checkpoint."""
    from static_edge.trainer.data import load_pairs
    from static_edge.trainer.train import TrainConfig, init_model, train

    data = {"pairs": load_pairs(pair_files[0])}
    out = tmp_path / "model"
    first = TrainConfig(
        matryoshka_dims=[32, 16],
        batch_size=64,
        learning_rate=0.1,
        max_steps=2,
        save_steps=2,
        logging_steps=1,
        keep_checkpoints=True,
    )
    _, first_history = train(init_model(None, tokenizer=tokenizer_file, dims=32), data, out, first)
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    second = dataclasses.replace(first, max_steps=4, resume=True, keep_checkpoints=False)
    _, history = train(init_model(out), data, out, second)
    # Resuming restores the checkpoint's log (steps 1-2, identical) and trains steps 3-4 only; a fresh run
    # would start again at step 1 from the already-trained weights and log a different loss there.
    assert [h["step"] for h in history] == [1, 2, 3, 4]
    assert history[:2] == first_history
    assert not (out / "checkpoints").exists()


def test_matryoshka_weights_must_match_the_dims(tmp_path, pair_files, tokenizer_file):
    """Matryoshka weights must match the dims."""
    from static_edge.trainer.data import load_pairs
    from static_edge.trainer.train import TrainConfig, init_model, train

    config = TrainConfig(matryoshka_dims=[32, 16], matryoshka_weights=[1.0], max_steps=1)
    with pytest.raises(ValueError, match="1 Matryoshka weights for 2 dims"):
        train(init_model(None, tokenizer=tokenizer_file, dims=32), {"p": load_pairs(pair_files[0])}, tmp_path, config)
