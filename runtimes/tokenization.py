"""Turn texts into token ids exactly as the bundle's source model does."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from static_edge.runtimes.errors import InputError, InputTypeError

TOKENIZE_BATCH = 4096
"""Texts per tokenizers call in `BundleTokenizer.flat`: enough for its Rust threads, few enough that the
Encoding objects of one call stay a few MB."""


LONG_TEXT_CHARS = 1 << 16
"""A text longer than this (in characters) is tokenized in pieces by `BundleTokenizer.flat` when its tokenizer
allows (`split_refusal`): tokenizers' Encoding objects cost about 500 bytes a token, 0.5 GB for one text of 1M
tokens, while the pieces' cost stays that of `PIECES_PER_CALL` pieces."""

PIECE_CHARS = 1 << 14
"""Characters a piece of a long text aims at: it ends before the first safe space past half this size."""

PIECES_PER_CALL = 4
"""Pieces of a long text given to one tokenizers call (its Rust threads tokenize them in parallel)."""

SAFE_CUT = re.compile(r"(?<=[\w!-/:-@\[-`{-~]) ")
"""Where a long text may be cut: before a plain space (U+0020) that follows a letter, digit or ASCII punctuation.

Every tokenizer `split_refusal` accepts ends a pre-token there (whitespace splits, Metaspace, the byte-level
regex), its normalizers act on characters alone, and no character before the cut is whitespace in any sense, so
the run of spaces the cut starts stays whole in the next piece: the ids of the pieces, joined, are the ids of
the whole text (tests/runtimes/test_long_text_memory.py proves it on WordPiece, Unigram and byte-level BPE)."""

_CHARACTER_NORMALIZERS = {"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Nmt"}
"""Normalizers that map each character alone (never a space to another character): a cut survives them."""
_SPACE_SPLITTERS = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit", "Metaspace", "ByteLevel"}
"""Pre-tokenizers that always end a pre-token before a space (Metaspace with `split`, ByteLevel with its regex)."""
_LOCAL_SPLITTERS = {"Punctuation", "Digits"}
"""Pre-tokenizers that only split further, at characters: harmless beside a space splitter."""


def split_refusal(tokenizer: Tokenizer) -> str | None:
    """Why a long text must be tokenized whole by `tokenizer`, or None when cutting it at `SAFE_CUT` gives the
    same ids as tokenizing it whole.

    Accepted: WordPiece, WordLevel, Unigram and BPE (no dropout) models; no normalizer or character-wise ones
    (`_CHARACTER_NORMALIZERS`, also in a Sequence); a pre-tokenizer that splits at spaces (`_SPACE_SPLITTERS`,
    alone or in a Sequence with `_LOCAL_SPLITTERS`); no added token that strips spaces to its right or holds a
    space after another character; truncation none or to the right without stride. Everything else (no
    pre-tokenizer, as Llama's SentencePiece files; a regex Split, as GPT-4-style files; Replace or Precompiled
    normalizers) is tokenized whole: correct, but its memory grows with the text.
    """
    model = type(tokenizer.model).__name__
    if model not in ("WordPiece", "WordLevel", "Unigram", "BPE"):
        return f"its model is {model}"
    if model == "BPE" and tokenizer.model.dropout:
        return "its BPE model has dropout"
    if tokenizer.normalizer is not None:
        unsafe = [kind for kind in _component_types(tokenizer.normalizer) if kind not in _CHARACTER_NORMALIZERS]
        if unsafe:
            return f"its normalizer {unsafe[0]} may act across characters"
    if tokenizer.pre_tokenizer is None:
        return "it has no pre-tokenizer (a text is one word)"
    kinds = _component_types(tokenizer.pre_tokenizer)
    unknown = [kind for kind in kinds if kind not in _SPACE_SPLITTERS | _LOCAL_SPLITTERS]
    if unknown:
        return f"its pre-tokenizer {unknown[0]} is not known to split at spaces"
    if not _SPACE_SPLITTERS & set(kinds):
        return "its pre-tokenizer does not split at spaces"
    for token in tokenizer.get_added_tokens_decoder().values():
        if token.rstrip or re.search(r"\S ", token.content):
            return f"its added token {token.content!r} may take in a space after a cut"
    truncation = tokenizer.truncation
    if truncation and (truncation.get("direction", "right") != "right" or truncation.get("stride", 0)):
        return "it truncates from the left or with a stride"
    return None


def _component_types(component: object) -> list[str]:
    """The types of a normalizer or pre-tokenizer and of its Sequence's members; "Metaspace" without `split` and
    "ByteLevel" without its regex are named "... (no split)", since they leave a text in one piece."""
    state = json.loads(component.__getstate__())  # tokenizers' own JSON of the component
    parts = state.get("normalizers") or state.get("pretokenizers") or [state]
    return [
        part["type"] if part.get("split", True) and part.get("use_regex", True) else f"{part['type']} (no split)"
        for part in parts
    ]


def long_text_pieces(text: str, size: int = PIECE_CHARS) -> Iterator[str]:
    """`text` cut at `SAFE_CUT` into pieces of about `size` characters (half to all of it where the text has a
    cut there; longer where it has none, the whole rest where none follows)."""
    begin = 0
    while len(text) - begin > size:
        cut = SAFE_CUT.search(text, begin + size // 2, begin + size) or SAFE_CUT.search(text, begin + size)
        if cut is None:
            break
        yield text[begin : cut.start()]
        begin = cut.start()
    yield text[begin:]


def validate_texts(texts: Sequence[str] | str, offset: int = 0) -> list[str]:
    """Return `texts` as a list of strings.

    A single string is taken as one text. `offset` is added to the positions errors name (for a chunk of a stream).

    :raises ValueError: for an empty list.
    :raises TypeError: when an item is not a string, naming its position and type.
    :raises ValueError: for a text holding a lone surrogate (not encodable Unicode), naming its position.
    """
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence):
        raise InputTypeError(f"texts must be a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise InputError("texts is empty: pass at least one string to encode")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputTypeError(f"texts[{offset + i}] is {type(text).__name__}, not str")
        if not text.isascii():  # isascii is O(1) in CPython: only non-ASCII texts pay for the check
            _refuse_lone_surrogates(text, offset + i)
    return list(texts)


def _refuse_lone_surrogates(text: str, index: int) -> None:
    """A lone surrogate (from bytes decoded with errors="surrogateescape", or JSON "\\ud800") is not Unicode text:
    the tokenizer would fail the whole batch without naming it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(
            f"texts[{index}] holds a lone surrogate {text[err.start]!r} at character {err.start}, which is not "
            "valid Unicode: decode its bytes with errors='replace' (or fix the source) before encoding"
        ) from None


def validated_chunks(texts: Iterable[str] | str, chunk_size: int) -> Iterator[list[str]]:
    """Consecutive lists of at most `chunk_size` texts from any iterable (a list, a generator, a file), validated.

    Only one chunk is held at a time, so a stream of any length is read in bounded memory.

    :raises TypeError: for an item that is not a string, naming its position in the whole stream.
    """
    if chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1, got {chunk_size}")
    if isinstance(texts, str):
        texts = [texts]
    elif not isinstance(texts, Iterable):
        raise InputTypeError(f"texts must be an iterable of strings, got {type(texts).__name__}")
    stream = iter(texts)
    offset = 0
    while chunk := list(islice(stream, chunk_size)):
        yield validate_texts(chunk, offset)
        offset += len(chunk)


def use_threads(threads: int) -> None:
    """Cap this process's tokenizer threads: 0 leaves tokenizers' Rust pool at one thread per core, 1 turns it off.

    tokenizers reads these variables (TOKENIZERS_PARALLELISM on each call, RAYON_NUM_THREADS when its pool
    starts), so call this before the first text is tokenized: it is meant for a command's start.
    """
    if threads == 1:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    elif threads > 1:
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
        os.environ["RAYON_NUM_THREADS"] = str(threads)


def text_starts(lengths: np.ndarray) -> np.ndarray:
    """Where each text's ids begin in the concatenated ids of `BundleTokenizer.flat`."""
    return np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)


FAST_TOKENIZER_ENV = "STATIC_EDGE_TOKENIZER"
"""Set to `tokenizers` to never use nanotoken."""

LOG = logging.getLogger(__name__)


def _slower(reason: str, level: int = logging.INFO) -> str:
    """Log that the slower `tokenizers` path is taken, and why; returns the reason."""
    LOG.log(level, "tokenizing with tokenizers (slower than nanotoken): %s", reason)
    return reason


class FastWordPiece:
    """nanotoken's WordPiece (Rust; flat numpy ids, no object per text): about 30x tokenizers' throughput here.

    Adopted because its ids equal tokenizers' on every one of the 1.33M texts of the shared corpora
    (benchmarks/results/tokenizer_compare.md); `for_file` still checks each tokenizer file on hard texts
    (accents, CJK, emoji, unknown characters, a text past the truncation) and keeps tokenizers on any difference.
    """

    def __init__(self, tokenizer: Any, max_length: int | None):
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def for_file(cls, path: str | Path, reference: Tokenizer) -> tuple[FastWordPiece | None, str | None]:
        """The fast tokenizer for `path` and None, or None and why the slower `tokenizers` path is taken.

        A file whose ids differ from tokenizers' on the probe texts is logged as a warning (a tokenizer file
        nanotoken reads but tokenizes differently); the other reasons are expected and logged at info level.
        """
        if os.environ.get(FAST_TOKENIZER_ENV, "").lower() == "tokenizers":
            return None, _slower(f"switched off by {FAST_TOKENIZER_ENV}=tokenizers")
        try:
            import nanotoken
        except ImportError:
            return None, _slower("nanotoken is not installed (the base install has it where it has a wheel)")
        truncation = reference.truncation
        if truncation and (truncation.get("direction", "right") != "right" or truncation.get("stride", 0)):
            return None, _slower("the tokenizer truncates from the left or with a stride")
        try:
            fast = cls(nanotoken.Tokenizer(str(path)), truncation["max_length"] if truncation else None)
        except nanotoken.UnsupportedTokenizerError:
            return None, _slower("nanotoken reads WordPiece only; this tokenizer is another kind")
        from static_edge.runtimes.parity_texts import PARITY_TEXTS

        probe = [*PARITY_TEXTS, " ".join(PARITY_TEXTS) * 8]
        want = [e.ids for e in reference.encode_batch_fast(probe, add_special_tokens=False)]
        ids, lengths = fast.flat(probe)
        got = np.split(ids, np.cumsum(lengths)[:-1])
        if len(got) != len(want) or any(g.tolist() != w for g, w in zip(got, want, strict=False)):
            return None, _slower(f"nanotoken's ids differ from tokenizers' for {path}", logging.WARNING)
        return fast, None

    def flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All ids concatenated and each text's length, as `BundleTokenizer.flat`."""
        # a few texts are done before a thread pool would have started; "false" turns threads off as for tokenizers
        off = len(texts) < 256 or os.environ.get("TOKENIZERS_PARALLELISM", "").lower() in ("false", "0", "off")
        parallel = False if off else None
        ragged = self.tokenizer.encode_batch(
            texts, add_special_tokens=False, max_length=self.max_length, parallel=parallel
        )
        return ragged.ids.astype(np.int64), np.asarray(ragged.lengths, dtype=np.int64)


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
        self.fast, self.slow_reason = FastWordPiece.for_file(path, self.tokenizer)
        """nanotoken's WordPiece when installed and it gives this file's ids exactly (checked here), else None
        and `slow_reason` says why tokenizers is used."""
        self.whole_text_reason = split_refusal(self.tokenizer)
        """Why a long text is tokenized whole (its memory then grows with the text), or None: it goes in pieces."""
        truncation = self.tokenizer.truncation
        self.max_length: int | None = truncation["max_length"] if truncation else None

    @property
    def library(self) -> str:
        """Which library `flat` tokenizes with."""
        return "nanotoken" if self.fast is not None else "tokenizers"

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, as the graph receives them (unknown tokens still present)."""
        return [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

    def counted_ids(self, ids: list[int]) -> list[int]:
        """The ids that count towards the mean (unknown ones dropped when the source drops them)."""
        if self.drop_unknown:
            return [i for i in ids if i != self.unk_token_id]
        return ids

    def flat(self, texts: list[str], batch: int = TOKENIZE_BATCH) -> tuple[np.ndarray, np.ndarray]:
        """All ids of all texts concatenated, and each text's length.

        Texts go to tokenizers `batch` at a time: its Encoding objects (tokens, offsets, masks: about 3 KB for
        a short sentence) live only until their ids are copied out, so memory follows the ids, not the objects.
        Each encoding's ids are read once (every `.ids` access copies them out of Rust) and joined with
        `np.fromiter`, which avoids building one padded Python list per row. A text longer than
        `LONG_TEXT_CHARS` is tokenized in pieces (`long_text_ids`). nanotoken needs neither: its ids are flat
        from the start (8 bytes a token).
        """
        if self.fast is not None:
            return self.fast.flat(texts)
        if self.whole_text_reason is not None or max(map(len, texts), default=0) <= LONG_TEXT_CHARS:
            return self._flat_batches(texts, batch)
        id_parts, length_parts = [], []
        begin = 0
        for end, text in enumerate(texts):
            if len(text) <= LONG_TEXT_CHARS:
                continue
            if begin < end:
                ids, lengths = self._flat_batches(texts[begin:end], batch)
                id_parts.append(ids)
                length_parts.append(lengths)
            id_parts.append(self.long_text_ids(text))
            length_parts.append(np.array([len(id_parts[-1])], dtype=np.int64))
            begin = end + 1
        if begin < len(texts):
            ids, lengths = self._flat_batches(texts[begin:], batch)
            id_parts.append(ids)
            length_parts.append(lengths)
        return np.concatenate(id_parts), np.concatenate(length_parts)

    def long_text_ids(self, text: str) -> np.ndarray:
        """The ids of one text, tokenized `PIECES_PER_CALL` pieces (`long_text_pieces`) at a time and joined: the
        same ids as tokenizing it whole when `whole_text_reason` is None. Stops at `max_length` ids."""
        parts: list[np.ndarray] = []
        total = 0
        pieces = long_text_pieces(text)
        while (self.max_length is None or total < self.max_length) and (group := list(islice(pieces, PIECES_PER_CALL))):
            for encoding in self.tokenizer.encode_batch_fast(group, add_special_tokens=False):
                parts.append(np.array(encoding.ids, dtype=np.int64))
                total += len(parts[-1])
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return ids if self.max_length is None else ids[: self.max_length]

    def _flat_batches(self, texts: list[str], batch: int) -> tuple[np.ndarray, np.ndarray]:
        """`flat` for texts tokenized whole, `batch` texts per tokenizers call."""
        id_parts, length_parts = [], []
        for begin in range(0, len(texts), batch):
            encodings = self.tokenizer.encode_batch_fast(texts[begin : begin + batch], add_special_tokens=False)
            rows = [e.ids for e in encodings]
            del encodings
            lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
            id_parts.append(np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum())))
            length_parts.append(lengths)
        if not id_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        ids = id_parts[0] if len(id_parts) == 1 else np.concatenate(id_parts)
        lengths = length_parts[0] if len(length_parts) == 1 else np.concatenate(length_parts)
        return ids, lengths
