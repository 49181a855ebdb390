"""Turn texts into token ids exactly as the bundle's source model does."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from static_edge.runtimes.errors import InputError, InputTypeError


def validate_texts(texts: Sequence[str] | str) -> list[str]:
    """Return `texts` as a list of strings.

    A single string is taken as one text.

    :raises ValueError: for an empty list.
    :raises TypeError: when an item is not a string, naming its position and type.
    """
    if isinstance(texts, str):
        return [texts]
    if not isinstance(texts, Sequence):
        raise InputTypeError(f"texts must be a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise InputError("texts is empty: pass at least one string to encode")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputTypeError(f"texts[{i}] is {type(text).__name__}, not str")
    return list(texts)


def text_starts(lengths: np.ndarray) -> np.ndarray:
    """Where each text's ids begin in the concatenated ids of `BundleTokenizer.flat`."""
    return np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)


class BundleTokenizer:
    """The bundle's `tokenizer.json` plus the manifest's unknown-token rule.

    The tokenizer file already carries the bundle's truncation and has no post-processor, so
    `encode_batch_fast(..., add_special_tokens=False)` gives the ids the graph expects.
    """

    def __init__(self, path: str | Path, unk_token_id: int | None = None, drop_unknown: bool = False):
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_padding()
        self.unk_token_id = unk_token_id
        self.drop_unknown = drop_unknown and unk_token_id is not None

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, as the graph receives them (unknown tokens still present)."""
        return [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

    def counted_ids(self, ids: list[int]) -> list[int]:
        """The ids that count towards the mean (unknown ones dropped when the source drops them)."""
        if self.drop_unknown:
            return [i for i in ids if i != self.unk_token_id]
        return ids

    def flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All ids of all texts concatenated, and each text's length.

        Each encoding's ids are read once (every `.ids` access copies them out of Rust) and joined with
        `np.fromiter`, which avoids building one padded Python list per row.
        """
        rows = [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        ids = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
        return ids, lengths
