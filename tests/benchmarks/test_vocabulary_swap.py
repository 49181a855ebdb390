"""The vocabulary swap (benchmarks.recipes.vocabulary): frequent split words in, rarely seen tokens out, one for
one, and a distilled model built with it keeps its size and tokenizes the new words whole."""

from __future__ import annotations

from model_builders import wordpiece_tokenizer

from benchmarks.recipes.vocabulary import swap_lists


def test_split_words_come_in_for_the_least_seen_tokens(tmp_path):
    """'chromatin' (split by the tokenizer, frequent here) is added before 'histone' (less frequent); as many
    tokens leave, none special, none a single character, the least seen first."""
    tokenizer = wordpiece_tokenizer()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    texts = ["Chromatin and chromatin again."] * 5 + ["Histone marks on chromatin."] * 2 + ["A cat sat."]
    words, removed = swap_lists(path, texts, 2)
    assert words == ["chromatin", "histone"]
    assert all(len(tokenizer.encode(w, add_special_tokens=False).ids) > 1 for w in words)
    assert len(removed) == 2
    vocab = tokenizer.get_vocab()
    for token in removed:
        assert token in vocab and not token.startswith("[") and len(token.removeprefix("##")) > 1
    seen = {i for text in texts for i in tokenizer.encode(text, add_special_tokens=False).ids}
    assert not {vocab[token] for token in removed} & seen
