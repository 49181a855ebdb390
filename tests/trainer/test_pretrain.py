"""Pre-training on a teacher's sentence vectors (trainer.pretrain, `static-edge pretrain`)."""

from __future__ import annotations

import numpy as np
import pytest
from model_builders import random_table, save_sentence_transformers, save_tiny_bert, wordpiece_tokenizer

from static_edge.cli import main
from static_edge.runtimes.samples import sample_corpus

pytestmark = pytest.mark.slow  # end to end: pre-training runs


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _mean_vectors(tokenizer, table: np.ndarray, texts: list[str]) -> np.ndarray:
    """What a static model with `table` gives: the mean of each text's token rows."""
    return np.stack([table[tokenizer.encode(t).ids].mean(axis=0) for t in texts])


def _similarity_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the pairwise cosine similarities of two embeddings of the same texts."""
    upper = np.triu_indices(len(a), k=1)
    return float(np.corrcoef((_unit(a) @ _unit(a).T)[upper], (_unit(b) @ _unit(b).T)[upper])[0, 1])


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    """A real (tiny, random) BERT with its tokenizer: Sentence Transformers loads it with mean pooling."""
    return save_tiny_bert(wordpiece_tokenizer(), tmp_path_factory.mktemp("teacher") / "tiny-bert", hidden_size=48)


def test_aligned_targets_recover_a_student_the_teacher_explains_linearly():
    """Aligned targets recover a student the teacher explains linearly."""
    from static_edge.trainer.pretrain import aligned_targets

    rng = np.random.default_rng(0)
    student = rng.normal(size=(300, 8)) * rng.uniform(0.5, 3, size=(300, 1))  # unnormalized, as means are
    teacher = _unit(student) @ rng.normal(size=(8, 24)) + rng.normal(size=24)  # a linear image, plus a bias
    targets = aligned_targets(student.astype(np.float32), teacher.astype(np.float32))
    assert targets.shape == (300, 8)
    np.testing.assert_allclose(targets, _unit(student), atol=1e-5)


@pytest.mark.parametrize("targets", ["aligned", "pca", "projection"])
def test_pretraining_teaches_the_rows_what_the_teacher_says_about_whole_texts(tmp_path, targets):
    """The teacher here is a hidden static table and the start a noisy low-dimensional image of it (what
    distillation gives): pre-training must bring the student's sentence geometry closer to the teacher's, on
    texts it trained on and on texts it never saw."""
    from static_edge.trainer.pretrain import PretrainConfig, pretrain
    from static_edge.trainer.train import init_model

    tok = wordpiece_tokenizer()
    unseen = sample_corpus()
    words = sorted({w for t in unseen for w in t.split()})
    rng = np.random.default_rng(3)
    seen = [" ".join(rng.choice(words, size=rng.integers(6, 16))) for _ in range(3000)]  # the corpus: word salad
    hidden = random_table(tok.get_vocab_size(), 40, seed=7)
    noisy_start = hidden @ rng.normal(size=(40, 32)) / 6 + random_table(tok.get_vocab_size(), 32, seed=3) * 2
    start = save_sentence_transformers(tok, noisy_start.astype(np.float32), tmp_path / "start")
    model = init_model(start)

    before_seen = _similarity_agreement(model.encode(seen), _mean_vectors(tok, hidden, seen))
    before_unseen = _similarity_agreement(model.encode(unseen), _mean_vectors(tok, hidden, unseen))
    config = PretrainConfig(epochs=3, batch_size=64, learning_rate=0.05, logging_steps=10, targets=targets)
    model, history = pretrain(model, seen, _mean_vectors(tok, hidden, seen), tmp_path / "out", config)
    reloaded = init_model(tmp_path / "out")
    after_seen = _similarity_agreement(reloaded.encode(seen), _mean_vectors(tok, hidden, seen))
    after_unseen = _similarity_agreement(reloaded.encode(unseen), _mean_vectors(tok, hidden, unseen))

    assert history[-1]["loss"] < 0.7 * history[0]["loss"], history
    assert after_seen > before_seen + 0.15 and after_unseen > before_unseen + 0.15, (
        before_seen,
        after_seen,
        before_unseen,
        after_unseen,
    )
    assert (tmp_path / "out" / "pretrain_log.json").is_file() and not (tmp_path / "out" / "checkpoints").exists()


def test_pretraining_refuses_targets_that_do_not_fit(tmp_path):
    """Pretraining refuses targets that do not fit."""
    from static_edge.trainer.pretrain import PretrainConfig, pretrain
    from static_edge.trainer.train import init_model

    tok = wordpiece_tokenizer()
    model = init_model(save_sentence_transformers(tok, random_table(tok.get_vocab_size(), 16, 0), tmp_path / "m"))
    texts = sample_corpus()[:10]
    with pytest.raises(ValueError, match="10 texts but 9"):
        pretrain(model, texts, np.ones((9, 16), np.float32), tmp_path / "a")
    bad = np.ones((10, 16), np.float32)
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pretrain(model, texts, bad, tmp_path / "b")
    with pytest.raises(ValueError, match="targets have 12 dimensions, the model 16"):
        pretrain(model, texts, np.ones((10, 12), np.float32), tmp_path / "c", PretrainConfig(targets="raw"))


def test_teacher_vectors_are_computed_once_and_then_read_from_the_cache(tmp_path, tiny_teacher, monkeypatch):
    """Teacher vectors are computed once and then read from the cache."""
    import sentence_transformers

    from static_edge.trainer.pretrain import teacher_vectors

    texts = sample_corpus()[:40]
    first = teacher_vectors(tiny_teacher, texts, cache=tmp_path)
    assert first.shape == (40, 48) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert [p.name.startswith("teacher-vectors-") for p in tmp_path.iterdir()] == [True]  # no partial file left

    def no_teacher(*args, **kwargs):
        raise AssertionError("the teacher was loaded although its vectors are cached")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", no_teacher)
    np.testing.assert_array_equal(teacher_vectors(tiny_teacher, texts, cache=tmp_path), first)
    with pytest.raises(AssertionError, match="loaded although"):  # other texts: another key, so a new teacher pass
        teacher_vectors(tiny_teacher, texts[:39], cache=tmp_path)


def test_cli_pretrain_saves_a_model_that_exports_and_refuses_bad_input(tmp_path, tiny_teacher, capsys):
    """CLI pretrain saves a model that exports and refuses bad input."""
    from static_edge.exporter import ExportOptions, check_bundle, export

    tok = wordpiece_tokenizer()
    start = save_sentence_transformers(tok, random_table(tok.get_vocab_size(), 32, 5), tmp_path / "start")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(sample_corpus()[:200]) + "\n", encoding="utf-8")
    out = tmp_path / "pretrained"
    common = ["--teacher", str(tiny_teacher), "--cache", str(tmp_path / "cache"), "--epochs", "2", "-o", str(out)]

    assert main(["pretrain", str(start), "--corpus", str(corpus), *common]) == 0
    assert "pre-trained on 200 texts" in capsys.readouterr().out
    bundle = export(out, tmp_path / "bundle", ExportOptions(dims=32, int8=True))
    assert check_bundle(bundle).passed

    assert main(["pretrain", str(start), "--corpus", str(corpus), *common]) == 2  # no --force: kept
    assert "exists" in capsys.readouterr().err

    broken = tmp_path / "broken.txt"
    broken.write_bytes(b"a fine line\n\xff\xfe not utf-8\n")
    other = tmp_path / "other"
    assert main(["pretrain", str(start), "--corpus", str(broken), *common[:-1], str(other)]) == 2
    err = capsys.readouterr().err
    assert "line 2 is not UTF-8" in err and "Traceback" not in err and not other.exists()

    missing_teacher = ["--teacher", str(tmp_path / "no-such-teacher"), *common[2:-1], str(other)]
    assert main(["pretrain", str(start), "--corpus", str(corpus), *missing_teacher]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: teacher {tmp_path / 'no-such-teacher'}") and err.count("\n") == 1
    assert not other.exists()
