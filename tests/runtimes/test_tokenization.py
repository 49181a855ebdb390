"""Which tokenizer library a bundle's text goes through, and the note left when the slower one is taken."""

from __future__ import annotations

import logging

import pytest
from tokenizers import Tokenizer

from static_edge.runtimes.tokenization import FAST_TOKENIZER_ENV, BundleTokenizer


def test_base_install_brings_nanotoken_and_a_wordpiece_bundle_uses_it(st_bundle, caplog):
    """Base install brings nanotoken and a WordPiece bundle uses it."""
    pytest.importorskip("nanotoken", reason="nanotoken has no wheel for this platform")
    with caplog.at_level(logging.INFO, logger="static_edge.runtimes.tokenization"):
        tokenizer = BundleTokenizer(st_bundle / "tokenizer.json")
    assert tokenizer.library == "nanotoken" and tokenizer.slow_reason is None
    assert not caplog.records, "nothing to note on the fast path"


def test_another_kind_of_tokenizer_is_noted_at_info(st_unigram, caplog):
    """Another kind of tokenizer is noted at info."""
    with caplog.at_level(logging.INFO, logger="static_edge.runtimes.tokenization"):
        tokenizer = BundleTokenizer(st_unigram / "tokenizer.json")
    assert tokenizer.library == "tokenizers"
    assert tokenizer.slow_reason is not None
    (record,) = caplog.records
    assert record.levelno == logging.INFO and tokenizer.slow_reason in record.getMessage()


def test_switching_it_off_is_honoured_and_said(st_bundle, monkeypatch, caplog):
    """Switching it off is honoured and said."""
    monkeypatch.setenv(FAST_TOKENIZER_ENV, "tokenizers")
    with caplog.at_level(logging.INFO, logger="static_edge.runtimes.tokenization"):
        tokenizer = BundleTokenizer(st_bundle / "tokenizer.json")
    assert tokenizer.library == "tokenizers" and FAST_TOKENIZER_ENV in tokenizer.slow_reason
    (record,) = caplog.records
    assert record.levelno == logging.INFO and tokenizer.slow_reason in record.getMessage()


def test_ids_that_differ_keep_tokenizers_and_warn(st_bundle, monkeypatch, caplog):
    """The probe texts decide, never the file's kind alone: ids that differ anywhere keep tokenizers."""
    nanotoken = pytest.importorskip("nanotoken", reason="nanotoken has no wheel for this platform")
    original = nanotoken.Tokenizer

    class Skewed:
        """nanotoken with every id shifted by one: what a silent difference would look like."""

        def __init__(self, path: str):
            self.inner = original(path)

        def encode_batch(self, texts, **kwargs):
            ragged = self.inner.encode_batch(texts, **kwargs)
            return type("Ragged", (), {"ids": ragged.ids + 1, "lengths": ragged.lengths})()

    monkeypatch.setattr(nanotoken, "Tokenizer", Skewed)
    with caplog.at_level(logging.INFO, logger="static_edge.runtimes.tokenization"):
        tokenizer = BundleTokenizer(st_bundle / "tokenizer.json")
    assert tokenizer.library == "tokenizers"
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "differ" in record.getMessage()
    ids, _ = tokenizer.flat(["a plain sentence"])
    reference = Tokenizer.from_file(str(st_bundle / "tokenizer.json"))
    assert ids.tolist() == reference.encode("a plain sentence", add_special_tokens=False).ids
