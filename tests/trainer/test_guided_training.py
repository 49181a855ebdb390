"""Training with a guide (trainer.guided_loss, GISTEmbed's rule for static models) and with weight averaging,
through the real Sentence Transformers trainer on a small random table."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from datasets import Dataset

from static_edge.runtimes.errors import InputError
from static_edge.trainer import averaging
from static_edge.trainer.guided_loss import GuidedMultipleNegativesRankingLoss
from static_edge.trainer.train import TrainConfig, init_model, train

pytestmark = pytest.mark.slow  # end to end: training runs


@pytest.fixture
def start(tmp_path, tokenizer_file):
    """A random 32-dim static model saved as a folder (the start and the guide)."""
    folder = tmp_path / "start"
    init_model(None, tokenizer=tokenizer_file, dims=32).save(str(folder))
    return folder


def _pairs(pair_files) -> dict[str, Dataset]:
    rows = [json.loads(line) for line in pair_files[0].read_text().splitlines()]
    return {"pairs": Dataset.from_list(rows[:64])}


def _table(folder) -> np.ndarray:
    from safetensors.numpy import load_file

    return next(iter(load_file(str(folder / "model.safetensors")).values()))


def test_the_guide_masks_the_candidates_it_scores_above_the_positive(start):
    """Anchor 0's positive is unrelated text, and anchor 1's positive is anchor 0 itself: the guide scores that
    candidate above anchor 0's own positive, so it leaves anchor 0's softmax and the loss equals plain
    cross-entropy over the remaining candidates; a guide with another vocabulary is refused."""
    model, guide = init_model(start), init_model(start)
    loss = GuidedMultipleNegativesRankingLoss(model, guide)
    texts = ["the cat sat on the mat", "stock markets fell sharply", "a dog barked"]
    anchors = model.tokenize([texts[0], texts[2]])
    positives = model.tokenize([texts[1], texts[0]])
    value = loss([anchors, positives], None)
    with torch.no_grad():
        a = torch.nn.functional.normalize(model(model.tokenize([texts[0], texts[2]]))["sentence_embedding"], dim=-1)
        p = torch.nn.functional.normalize(model(model.tokenize([texts[1], texts[0]]))["sentence_embedding"], dim=-1)
    scores = (a @ p.T) * 20
    mask = scores / 20 > (scores / 20).diagonal()[:, None]
    mask.fill_diagonal_(False)
    assert mask[0, 1]  # anchor 0 against itself beats its unrelated positive
    expected = torch.nn.functional.cross_entropy(scores.masked_fill(mask, float("-inf")), torch.arange(2))
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    assert value.item() != pytest.approx(torch.nn.functional.cross_entropy(scores, torch.arange(2)).item())


def test_a_guide_with_another_vocabulary_is_refused(start, tmp_path):
    """A guide over a different tokenizer cannot read the batch's token ids: one InputError."""
    from model_builders import wordpiece_tokenizer

    other = tmp_path / "other.json"
    wordpiece_tokenizer(vocab_size=600).save(str(other))
    with pytest.raises(InputError, match="share the trained model's tokenizer"):
        GuidedMultipleNegativesRankingLoss(init_model(start), init_model(None, tokenizer=other, dims=32))


def test_training_with_a_guide_and_averaging_saves_the_mean_of_the_snapshots(start, pair_files, tmp_path, monkeypatch):
    """Four steps with the start as guide and the whole run averaged: the trainer drives the averaging callback,
    which snapshots every step, and the saved table is the mean of its snapshots, not the last step's."""
    made = []

    class Recorded(averaging.WeightAveraging):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(averaging, "WeightAveraging", Recorded)
    config = TrainConfig(
        matryoshka_dims=[32, 16], batch_size=16, max_steps=4, learning_rate=0.1, guide=str(start), average_share=1.0
    )
    out = tmp_path / "trained"
    train(init_model(start), _pairs(pair_files), out, config)
    (callback,) = made
    assert callback.count == 4
    (mean,) = [(total / callback.count).numpy() for total in callback.sums.values()]
    assert np.allclose(_table(out), mean, atol=1e-6)
    assert not np.allclose(_table(out), _table(start))
