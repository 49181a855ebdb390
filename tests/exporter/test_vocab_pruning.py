"""Vocabulary pruning: corpus texts keep their exact vectors, other text follows the pruned tokenizer."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest
from model_builders import random_table, save_sentence_transformers, training_text
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from static_edge.exporter import ExportOptions, check_bundle, export, read_source
from static_edge.exporter.bundle_export import ExportError
from static_edge.exporter.vocab_pruning import VocabPruningError, prune_source
from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.samples import sample_corpus

OPTIONS = {"int8": True, "int4": True}


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    """A small corpus file, with a trailing blank line."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(sample_corpus()[:60]) + "\n\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def st_bytelevel_bpe(tmp_path_factory):
    """A GPT-2 style byte-level BPE model (merges as "a b" strings), trained here."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=900,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer)
    folder = tmp_path_factory.mktemp("bpe") / "st-bpe"
    return save_sentence_transformers(tok, random_table(tok.get_vocab_size(), 32, 3), folder)


def _corpus(path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("model_fixture", ["st_wordpiece", "st_unigram", "st_bytelevel_bpe", "m2v_model"])
def test_corpus_texts_keep_identical_vectors_in_every_variant_and_runtime(
    request, tmp_path, corpus_file, model_fixture
):
    """Corpus texts keep identical vectors in every variant and runtime."""
    model = request.getfixturevalue(model_fixture)
    full = export(model, tmp_path / "full", ExportOptions(**OPTIONS))
    pruned = export(model, tmp_path / "pruned", ExportOptions(**OPTIONS, vocab_from=corpus_file))
    texts = _corpus(corpus_file)
    for variant in ("fp32", "int8", "int4"):
        for backend in ("onnxruntime", "numpy"):
            before = load(full, variant=variant, backend=backend).encode(texts)
            after = load(pruned, variant=variant, backend=backend).encode(texts)
            np.testing.assert_array_equal(after, before, err_msg=f"{model_fixture} {variant} {backend}")
    kept, original = read_manifest(pruned).vocab_size, read_manifest(full).vocab_size
    assert kept < original
    report = check_bundle(pruned, write=False)
    assert report.passed, [r.to_dict() for r in report.failures()]


def test_manifest_records_the_pruning_and_the_table_shrinks(tmp_path, st_wordpiece, corpus_file):
    """Manifest records the pruning and the table shrinks."""
    full = export(st_wordpiece, tmp_path / "full", ExportOptions(dims=64))
    pruned = export(st_wordpiece, tmp_path / "pruned", ExportOptions(dims=64, vocab_from=corpus_file))
    manifest = read_manifest(pruned)
    record = manifest.extra["vocab_pruning"]
    assert record["corpus_sha256"] == hashlib.sha256(corpus_file.read_bytes()).hexdigest()
    assert record["corpus_texts"] == 60 and record["max_vocab"] is None
    assert record["original_vocab_size"] == read_manifest(full).vocab_size
    assert record["kept"] == manifest.vocab_size == Tokenizer.from_file(str(pruned / "tokenizer.json")).get_vocab_size()
    assert record["corpus_tokens_dropped"] == 0 and record["corpus_texts_changed"] == 0
    config = json.loads((pruned / "config.json").read_text())
    assert config["vocab_size"] == manifest.vocab_size
    ratio = manifest.files["onnx/model.onnx"]["bytes"] / read_manifest(full).files["onnx/model.onnx"]["bytes"]
    assert ratio < 0.5 * (1 + 0.05), ratio  # rows kept / rows before, plus the graph's fixed bytes
    # the special tokens stay, with the unknown token the source had
    vocab = Tokenizer.from_file(str(pruned / "tokenizer.json")).get_vocab()
    assert {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} <= set(vocab)
    assert manifest.unk_token_id == vocab["[UNK]"]


def test_text_outside_the_corpus_uses_the_pruned_tokenizer_and_source_rows(tmp_path, st_wordpiece, corpus_file):
    """Text outside the corpus uses the pruned tokenizer and source rows."""
    source = read_source(st_wordpiece)
    corpus = _corpus(corpus_file)
    pruned_bundle = export(st_wordpiece, tmp_path / "p", ExportOptions(vocab_from=corpus_file))
    pruned_tok = Tokenizer.from_file(str(pruned_bundle / "tokenizer.json"))
    corpus_tokens = {t for e in source.tokenizer.encode_batch(corpus, add_special_tokens=False) for t in e.tokens}
    outside = [w for w in source.tokenizer.get_vocab() if w.isalpha() and len(w) > 4 and w not in corpus_tokens]
    assert outside, "the test model has whole words the corpus never uses"
    word = outside[0]
    assert source.tokenizer.encode(word, add_special_tokens=False).tokens == [word]
    pieces = pruned_tok.encode(word, add_special_tokens=False).tokens
    assert word not in pruned_tok.get_vocab() and pieces != [word]
    assert pieces == ["[UNK]"] or all(p in corpus_tokens or p == "[UNK]" for p in pieces)
    assert pruned_tok.encode("\U00013000", add_special_tokens=False).tokens == ["[UNK]"]
    # its vector is the mean of the source's rows for the pruned tokenizer's pieces
    full_vocab = source.tokenizer.get_vocab()
    expected = source.table[[full_vocab[p] for p in pieces]].mean(axis=0)
    np.testing.assert_allclose(load(pruned_bundle, variant="fp32").encode([word])[0], expected, atol=1e-6)


def test_max_vocab_drops_the_rarest_tokens_and_counts_the_changed_texts(tmp_path, st_wordpiece, corpus_file):
    """Max vocab drops the rarest tokens and counts the changed texts."""
    source = read_source(st_wordpiece)
    texts = _corpus(corpus_file)
    unlimited, _ = prune_source(source, texts, "x")
    limit = unlimited.vocab_size - 40
    pruned, record = prune_source(source, texts, "x", max_vocab=limit)
    assert pruned.vocab_size <= limit and record.corpus_tokens_dropped >= 40
    kept_tokens = set(pruned.tokenizer.get_vocab())
    changed = sum(
        any(t not in kept_tokens for t in e.tokens)
        for e in source.tokenizer.encode_batch(texts, add_special_tokens=False)
    )
    assert record.corpus_texts_changed == changed > 0
    counts: dict[str, int] = {}
    for e in source.tokenizer.encode_batch(texts, add_special_tokens=False):
        for t in e.tokens:
            counts[t] = counts.get(t, 0) + 1
    dropped = [t for t in counts if t not in kept_tokens]
    assert max(counts[t] for t in dropped) <= min(counts[t] for t in counts if t in kept_tokens)


def test_gzip_corpus_is_read_and_hashed_as_stored(tmp_path, st_wordpiece, corpus_file):
    """Gzip corpus is read and hashed as stored."""
    packed = tmp_path / "corpus.txt.gz"
    packed.write_bytes(gzip.compress(corpus_file.read_bytes()))
    bundle = export(st_wordpiece, tmp_path / "b", ExportOptions(dims=16, vocab_from=packed))
    record = read_manifest(bundle).extra["vocab_pruning"]
    assert record["corpus_texts"] == 60
    assert record["corpus_sha256"] == hashlib.sha256(packed.read_bytes()).hexdigest()


def test_bad_corpus_and_limits_fail_with_one_line_and_write_nothing(tmp_path, st_wordpiece, corpus_file, capsys):
    """Bad corpus and limits fail with one line and write nothing."""
    from static_edge.cli import main

    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    out = tmp_path / "out"
    cases = [
        (["--vocab-from", str(empty)], "holds no text"),
        (["--vocab-from", str(binary)], "not UTF-8"),
        (["--vocab-from", str(tmp_path)], "text file"),
        (["--vocab-from", str(corpus_file), "--max-vocab", "2"], "below the"),
        (["--vocab-from", str(corpus_file), "--max-vocab", "0"], "positive integer"),
        (["--max-vocab", "100"], "--vocab-from"),
    ]
    for extra, message in cases:
        assert main(["export", str(st_wordpiece), "-o", str(out), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
        assert not out.exists()
    assert main(["export", str(st_wordpiece), "-o", str(out), "--vocab-from", str(tmp_path / "missing.txt")]) == 1
    assert not out.exists()
    with pytest.raises(ExportError):
        export(st_wordpiece, out, ExportOptions(max_vocab=10))
    with pytest.raises(VocabPruningError):
        prune_source(read_source(st_wordpiece), ["hello"], "x", max_vocab=True)


def test_a_corpus_inside_the_bundle_being_replaced_is_never_deleted(tmp_path, st_wordpiece, corpus_file, capsys):
    """A corpus inside the bundle being replaced is never deleted."""
    from static_edge.cli import main

    out = tmp_path / "bundle"
    assert main(["export", str(st_wordpiece), "--dims", "8", "-o", str(out)]) == 0
    inside = out / "corpus.txt"
    inside.write_bytes(corpus_file.read_bytes())
    assert (
        main(["export", str(st_wordpiece), "--dims", "8", "-o", str(out), "--force", "--vocab-from", str(inside)]) == 2
    )
    assert "refusing to write" in capsys.readouterr().err
    assert inside.read_bytes() == corpus_file.read_bytes()


def test_unigram_keeps_its_lowest_score_so_the_unknown_penalty_stays(st_unigram):
    """Unigram keeps its lowest score so the unknown penalty stays."""
    source = read_source(st_unigram)
    pruned, _ = prune_source(source, ["a few words"], "x")
    scores = [json.loads(t.to_str())["model"]["vocab"] for t in (source.tokenizer, pruned.tokenizer)]
    assert min(score for _, score in scores[1]) == min(score for _, score in scores[0])
    assert len(scores[1]) < len(scores[0]) / 4


JS_TOKENIZER = "@huggingface/tokenizers/dist/tokenizers.mjs"
JS_ENCODE = """
import fs from "fs";
const [module, tokenizerPath, textsPath] = process.argv.slice(2);
const { Tokenizer } = await import(module);
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, "utf8")), {});
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
console.log(JSON.stringify(texts.map((t) => tokenizer.encode(t, { add_special_tokens: false }).ids)));
"""


@pytest.mark.parametrize("model_fixture", ["st_wordpiece", "st_unigram", "st_bytelevel_bpe"])
def test_the_js_tokenizer_gives_the_pruned_tokenizer_s_ids(request, tmp_path, corpus_file, model_fixture):
    """The browser runtimes tokenize with @huggingface/tokenizers: a pruned tokenizer.json must mean the same there."""
    import shutil
    import subprocess

    from static_edge.runtimes.parity_texts import PARITY_TEXTS
    from static_edge.runtimes.web_page import node_modules

    try:
        module = node_modules((JS_TOKENIZER,)) / JS_TOKENIZER
    except FileNotFoundError as err:
        pytest.skip(str(err))
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    bundle = export(
        request.getfixturevalue(model_fixture), tmp_path / "b", ExportOptions(dims=8, vocab_from=corpus_file)
    )
    texts = sample_corpus() + [t for t in PARITY_TEXTS if len(t) < 2000]  # corpus texts and others
    (tmp_path / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    (tmp_path / "encode.mjs").write_text(JS_ENCODE, encoding="utf-8")
    args = [
        "node",
        str(tmp_path / "encode.mjs"),
        module.as_uri(),
        str(bundle / "tokenizer.json"),
        str(tmp_path / "texts.json"),
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    python_ids = [
        e.ids for e in Tokenizer.from_file(str(bundle / "tokenizer.json")).encode_batch(texts, add_special_tokens=False)
    ]
    assert json.loads(result.stdout) == python_ids
