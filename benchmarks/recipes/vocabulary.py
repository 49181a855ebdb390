"""A vocabulary swap at the same table size: frequent words the teacher's tokenizer splits in, rarely seen tokens out.

A static model gives a word split into pieces ("chromatin" -> "chr", "##oma", "##tin") the mean of its pieces'
rows, which are shared with unrelated words; a word of its own gets the teacher's vector of that word from
model2vec's distillation, then pre-training refines it. Both lists come from the pre-training pool (train-side text
only: `teacher_pool`), never from an evaluation set:
- in: the most frequent lower-case words of at least 4 letters that the tokenizer splits;
- out: as many tokens as come in, the least frequent in the pool (never a special token or a single character,
  so every word can still be spelt).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

_WORD = re.compile(r"\b[a-z]{4,}\b")
SAMPLE = 200_000
"""Pool texts counted (a seeded prefix of the pool: the counts settle well before this)."""


def swap_lists(tokenizer_file: Path, texts: Sequence[str], size: int) -> tuple[list[str], list[str]]:
    """(words to add, tokens to remove), `size` of each, counted over `texts`."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    sample = list(texts[:SAMPLE])
    token_counts: Counter[int] = Counter()
    for encoding in tokenizer.encode_batch(sample, add_special_tokens=False):
        token_counts.update(encoding.ids)
    word_counts = Counter(word for text in sample for word in _WORD.findall(text.lower()))
    split = (w for w, _ in word_counts.most_common() if len(tokenizer.encode(w, add_special_tokens=False).ids) > 1)
    words = [w for w, _ in zip(split, range(size), strict=False)]
    vocab = tokenizer.get_vocab()
    removable = [
        token
        for token in vocab
        if not (token.startswith("[") and token.endswith("]")) and len(token.removeprefix("##")) > 1
    ]
    removable.sort(key=lambda token: (token_counts[vocab[token]], token))
    return words, removable[: len(words)]
