"""The teacher pass through ONNX Runtime, length-sorted and resumable (trainer.teacher_onnx, trainer.pretrain)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from model_builders import save_tiny_bert, wordpiece_tokenizer

from static_edge.runtimes.errors import InputError, ModelLoadError
from static_edge.runtimes.samples import sample_corpus


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    """A real (tiny, random) BERT with its tokenizer: Sentence Transformers loads it with mean pooling."""
    return save_tiny_bert(wordpiece_tokenizer(), tmp_path_factory.mktemp("teacher") / "tiny-bert", hidden_size=48)


@pytest.fixture(scope="module")
def texts():
    """Texts of very different lengths, shuffled: sorting them changes their order and batches need padding."""
    corpus = sample_corpus()[:60]
    mixed = corpus[:30] + [" ".join(corpus[i : i + 4]) for i in range(30, 60, 4)] + ["ok", "a b"]
    return [mixed[i] for i in np.random.default_rng(0).permutation(len(mixed))]


class Counting:
    """An encoder that counts the texts it is given and can fail after some batches, as a killed pass would."""

    def __init__(self, encode, fail_after: int | None = None) -> None:
        self.encode, self.fail_after, self.texts, self.batches = encode, fail_after, [], 0

    def __call__(self, batch: list[str]) -> np.ndarray:
        """Encode `batch`, or raise KeyboardInterrupt once `fail_after` batches are done."""
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.batches += 1
        self.texts.extend(batch)
        return self.encode(batch)


def test_onnx_vectors_equal_torch_rows_in_input_order(tiny_teacher, texts, tmp_path):
    """ONNX vectors equal torch rows in input order."""
    from static_edge.trainer.pretrain import teacher_vectors

    torch_vectors = teacher_vectors(tiny_teacher, texts, backend="torch", batch_size=8)
    onnx_vectors = teacher_vectors(tiny_teacher, texts, precision="fp32", batch_size=8, model_cache=tmp_path)
    assert onnx_vectors.shape == torch_vectors.shape == (len(texts), 48) and onnx_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    assert (np.sum(onnx_vectors * torch_vectors, axis=1) > 1 - 1e-4).all()  # each row: the same text's vector

    int8 = teacher_vectors(tiny_teacher, texts, precision="int8", batch_size=8, model_cache=tmp_path)
    assert np.mean(np.sum(int8 * torch_vectors, axis=1)) > 0.9  # quantized weights: close, not equal
    assert sorted(p.name.split("-")[-1] for p in (tmp_path / "teacher-onnx").iterdir()) == ["fp32.onnx", "int8.onnx"]


def test_batches_go_shortest_first_and_rows_come_back_in_input_order(tiny_teacher, texts, tmp_path):
    """Batches go shortest first and rows come back in input order."""
    from static_edge.trainer.teacher_onnx import encode_sorted, load_encoder

    encode = load_encoder(tiny_teacher, precision="fp32", model_cache=tmp_path)
    counting = Counting(encode)
    vectors = encode_sorted(counting, texts, batch_size=5)
    assert [len(t) for t in counting.texts] == sorted(len(t) for t in texts) and counting.batches == 8
    alone = np.concatenate([encode([text]) for text in texts])  # no batch, no padding, input order
    assert (np.sum(vectors * alone, axis=1) > 1 - 1e-4).all()


def test_a_killed_pass_resumes_from_its_last_whole_chunk(tiny_teacher, texts, tmp_path):
    """A killed pass resumes from its last whole chunk."""
    from static_edge.trainer.teacher_onnx import encode_sorted, load_encoder

    encode = load_encoder(tiny_teacher, precision="fp32", model_cache=tmp_path)
    parts = tmp_path / "parts"
    killed = Counting(encode, fail_after=5)  # batches of 4, chunks of 8 texts: killed inside the third chunk
    with pytest.raises(KeyboardInterrupt):
        encode_sorted(killed, texts, batch_size=4, parts=parts, chunk_texts=8)
    assert sorted(p.name for p in parts.iterdir()) == ["chunk-0-8.npy", "chunk-8-16.npy"]  # whole chunks only

    resumed = Counting(encode)
    vectors = encode_sorted(resumed, texts, batch_size=4, parts=parts, chunk_texts=8)
    assert len(resumed.texts) == len(texts) - 16 and not set(resumed.texts) & set(killed.texts[:16])
    np.testing.assert_allclose(vectors, encode_sorted(encode, texts, batch_size=4), atol=1e-5)

    (parts / "chunk-8-16.npy").unlink()  # one chunk lost: only its texts are encoded again
    again = Counting(encode)
    np.testing.assert_allclose(encode_sorted(again, texts, batch_size=4, parts=parts, chunk_texts=8), vectors)
    assert again.texts == killed.texts[8:16]


def test_the_cache_key_follows_texts_teacher_files_backend_and_precision(tiny_teacher, texts, tmp_path):
    """The cache key follows texts teacher files backend and precision."""
    from static_edge.trainer.pretrain import vectors_key

    key = vectors_key(tiny_teacher, texts, "onnx", "int8")
    assert key == vectors_key(tiny_teacher, list(texts), "onnx", "int8")
    assert key != vectors_key(tiny_teacher, texts[:-1], "onnx", "int8")
    assert key != vectors_key(tiny_teacher, texts[::-1], "onnx", "int8")
    assert key != vectors_key(tiny_teacher, texts, "onnx", "fp32")
    assert key != vectors_key(tiny_teacher, texts, "torch", "fp32")
    edited = shutil.copytree(tiny_teacher, tmp_path / "tiny-bert")
    assert vectors_key(edited, texts, "onnx", "int8") != key  # another folder name
    renamed = vectors_key(edited, texts, "onnx", "int8")
    (edited / "config.json").write_text((edited / "config.json").read_text() + "\n")
    assert vectors_key(edited, texts, "onnx", "int8") != renamed  # same name, other files


def test_the_cached_pass_is_one_file_and_bad_choices_are_one_line(tiny_teacher, texts, tmp_path):
    """The cached pass is one file and bad choices are one line."""
    from static_edge.trainer.pretrain import teacher_vectors

    first = teacher_vectors(tiny_teacher, texts, cache=tmp_path / "vectors", model_cache=tmp_path)
    assert [p.suffix for p in (tmp_path / "vectors").iterdir()] == [".npy"]  # the chunks are gone
    np.testing.assert_array_equal(teacher_vectors(tiny_teacher, texts, cache=tmp_path / "vectors"), first)

    with pytest.raises(InputError, match="unknown teacher backend 'jax'"):
        teacher_vectors(tiny_teacher, texts, backend="jax")
    with pytest.raises(InputError, match="int8 needs the onnx"):
        teacher_vectors(tiny_teacher, texts, backend="torch", precision="int8")
    with pytest.raises(ModelLoadError, match=f"^teacher {tmp_path / 'none'}: no such file") as caught:
        teacher_vectors(tmp_path / "none", texts, model_cache=tmp_path)
    assert "\n" not in str(caught.value)


def test_damaged_cache_files_are_computed_again_not_tracebacks(tiny_teacher, texts, tmp_path):
    """Cache files cut short or edited (ONNX exports, the int8 record, the vectors, a chunk) are cache misses."""
    from static_edge.trainer.pretrain import teacher_vectors
    from static_edge.trainer.teacher_onnx import encode_sorted, load_encoder

    first = teacher_vectors(tiny_teacher, texts, cache=tmp_path / "vectors", model_cache=tmp_path)
    for path in [*(tmp_path / "teacher-onnx").iterdir(), *(tmp_path / "vectors").iterdir()]:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    np.testing.assert_allclose(teacher_vectors(tiny_teacher, texts, model_cache=tmp_path), first, atol=1e-6)
    np.testing.assert_allclose(
        teacher_vectors(tiny_teacher, texts, cache=tmp_path / "vectors", model_cache=tmp_path), first, atol=1e-6
    )
    assert all(path.stat().st_size > 10**5 for path in (tmp_path / "teacher-onnx").glob("*.onnx"))  # exported again

    encode = load_encoder(tiny_teacher, precision="fp32", model_cache=tmp_path)
    parts = tmp_path / "parts"
    vectors = encode_sorted(encode, texts, batch_size=4, parts=parts, chunk_texts=8)
    (parts / "chunk-8-16.npy").write_bytes((parts / "chunk-8-16.npy").read_bytes()[:90])
    again = Counting(encode)
    np.testing.assert_allclose(encode_sorted(again, texts, batch_size=4, parts=parts, chunk_texts=8), vectors)
    assert len(again.texts) == 8


def test_a_pass_goes_on_when_a_concurrent_pass_removes_the_chunk_folder(tiny_teacher, texts, tmp_path):
    """Two passes over the same texts share a chunk folder; the first to finish removes it under the other."""
    from static_edge.trainer.teacher_onnx import encode_sorted, load_encoder

    encode = load_encoder(tiny_teacher, precision="fp32", model_cache=tmp_path)
    parts = tmp_path / "parts"

    def finished_elsewhere(batch: list[str]) -> np.ndarray:
        shutil.rmtree(parts, ignore_errors=True)
        return encode(batch)

    vectors = encode_sorted(finished_elsewhere, texts, batch_size=4, parts=parts, chunk_texts=8)
    np.testing.assert_allclose(vectors, encode_sorted(encode, texts, batch_size=4), atol=1e-5)


def test_auto_precision_is_int8_only_while_int8_keeps_the_teachers_vectors(tiny_teacher, tmp_path):
    """Auto precision is int8 only while int8 keeps the teachers vectors."""
    import json

    from static_edge.trainer.teacher_onnx import INT8_BOUND, load_teacher, onnx_teacher

    model = load_teacher(tiny_teacher)
    chosen = onnx_teacher(model, tiny_teacher, "auto", tmp_path)
    record = json.loads(next((tmp_path / "teacher-onnx").glob("*-int8.json")).read_text())
    kept = record["mean"] >= INT8_BOUND[0] and record["min"] >= INT8_BOUND[1]
    assert chosen.name.endswith("-int8.onnx" if kept else "-fp32.onnx") and record["texts"] > 200

    for mean, least, precision in ((0.999, 0.98, "int8"), (0.985, 0.98, "fp32"), (0.999, 0.9, "fp32")):
        next((tmp_path / "teacher-onnx").glob("*-int8.json")).write_text(json.dumps({"mean": mean, "min": least}))
        assert onnx_teacher(model, tiny_teacher, "auto", tmp_path).name.endswith(f"-{precision}.onnx")


def test_an_export_that_gives_other_vectors_than_torch_is_refused(tiny_teacher, tmp_path):
    """An export that gives other vectors than torch is refused."""
    from static_edge.trainer.teacher_onnx import check_export, export_pipeline, load_teacher

    model = load_teacher(tiny_teacher)
    export_pipeline(model, tiny_teacher, tmp_path / "same.onnx")
    check_export(model, tiny_teacher, tmp_path / "same.onnx")  # the teacher's own graph passes

    other = save_tiny_bert(wordpiece_tokenizer(), tmp_path / "other-bert", hidden_size=48)  # other random weights
    export_pipeline(load_teacher(other), other, tmp_path / "other.onnx")
    with pytest.raises(ModelLoadError, match="gives other vectors than torch .min cosine .*use the torch"):
        check_export(model, tiny_teacher, tmp_path / "other.onnx")


def test_cli_pretrain_runs_the_teacher_backend_it_is_given(tmp_path, tiny_teacher, capsys):
    """CLI pretrain runs the teacher backend it is given."""
    from model_builders import random_table, save_sentence_transformers

    from static_edge.cli import main
    from static_edge.trainer.pretrain import vectors_key

    tok = wordpiece_tokenizer()
    start = save_sentence_transformers(tok, random_table(tok.get_vocab_size(), 16, 3), tmp_path / "start")
    texts = sample_corpus()[:50]
    (tmp_path / "corpus.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    common = ["pretrain", str(start), "--corpus", str(tmp_path / "corpus.txt"), "--teacher", str(tiny_teacher)]
    common += ["--cache", str(tmp_path / "cache"), "--epochs", "1"]
    assert main([*common, "--teacher-backend", "torch", "-o", str(tmp_path / "out")]) == 0
    key = vectors_key(tiny_teacher, texts, "torch", "fp32")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"teacher-vectors-{key[:20]}.npy"]  # no export

    assert main([*common, "--teacher-precision", "int8", "-o", str(tmp_path / "out8")]) == 0
    assert (
        tmp_path / "cache" / f"teacher-vectors-{vectors_key(tiny_teacher, texts, 'onnx', 'int8')[:20]}.npy"
    ).is_file()
    assert next((tmp_path / "cache" / "teacher-onnx").glob("*-int8.onnx"))
    capsys.readouterr()
