"""The multilingual recipe's distillation texts (benchmarks.recipes.multilingual.distillation_texts): each
translation is paired with its English side, each English sentence with itself, at most N pairs per language."""

from __future__ import annotations

from benchmarks.recipes.multilingual import distillation_texts


def test_translations_predict_their_english_side_and_thin_languages_keep_all_pairs():
    """Two languages, one with more pairs than the cap: the cap holds, every kept translation points at its own
    English sentence, the English sentences follow once each, and the same call gives the same sample."""
    parallel = {
        "de": [(f"Sentence {i}.", f"Satz {i}.") for i in range(10)],
        "fr": [("Sentence 1.", "Phrase 1."), ("Sentence 2.", "Phrase 2."), ("Sentence 2.", "Phrase 2.")],
    }
    texts, sources = distillation_texts(parallel, per_language=4)
    assert len(texts) == len(sources)
    translations = [(t, s) for t, s in zip(texts, sources, strict=True) if t != s]
    assert sum(t.startswith("Satz") for t, _ in translations) == 4
    assert sum(t.startswith("Phrase") for t, _ in translations) == 2  # the duplicate pair counted once
    for text, source in translations:
        assert text.split()[1] == source.split()[1]
    english = [t for t, s in zip(texts, sources, strict=True) if t == s]
    assert english == list(dict.fromkeys(s for _, s in translations))
    assert distillation_texts(parallel, per_language=4) == (texts, sources)
