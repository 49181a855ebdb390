"""Vocabulary pruning: keep the tokens a corpus uses, so the table holds only the rows a deployment needs.

`prune_source` tokenizes the corpus with the source tokenizer, keeps every token it produces plus the
special (added) tokens and the unknown token, rewrites the tokenizer's vocabulary with new consecutive
ids (original order), and re-indexes the table rows to match. Texts of the corpus then give the same
ids-to-rows and so the same vectors:

- WordPiece: greedy longest-match only picks pieces the corpus used, and every longer piece it could
  have picked was absent from the full vocabulary too, so each corpus word splits the same way.
- Unigram: the corpus's best segmentation is still available and every other segmentation is a
  subset of the full model's, so Viterbi picks the same pieces (scores are kept as they were).
- BPE: every merge a corpus word went through is kept (the merges that build each kept token, down
  to single symbols); a merge never applied to a corpus word cannot be the lowest-ranked applicable
  merge on it, so dropping it changes no corpus word. Byte-level BPE keeps its 256-symbol alphabet.
- WordLevel: a lookup; kept words map to the same rows.

Other text is tokenized by the pruned tokenizer as it stands: WordPiece falls back to shorter pieces
and to the unknown token for a word it cannot cover; Unigram to the unknown piece (or byte pieces
with byte fallback); BPE stops merging where a merge was dropped. With `max_vocab` below the number
of tokens the corpus uses, the rarest tokens are dropped too and the corpus texts that used them
change; the record says how many.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer, pre_tokenizers

from static_edge.exporter.sources import StaticSource, unk_token_id
from static_edge.runtimes.errors import StaticEdgeError

MANIFEST_KEY = "vocab_pruning"
SUPPORTED_MODELS = ("WordPiece", "Unigram", "BPE", "WordLevel")


class VocabPruningError(StaticEdgeError, ValueError):
    """A corpus or vocabulary limit that pruning cannot use."""


@dataclass(frozen=True)
class PruningRecord:
    """What the manifest records under `vocab_pruning`."""

    original_vocab_size: int
    kept: int
    corpus_sha256: str
    corpus_texts: int
    max_vocab: int | None
    corpus_tokens_dropped: int
    """Distinct corpus tokens left out because of `max_vocab` (0 without a limit)."""
    corpus_texts_changed: int
    """Corpus texts whose token ids differ from the full vocabulary's (0 without a limit)."""

    def to_dict(self) -> dict[str, Any]:
        """The record as the manifest stores it."""
        return dict(self.__dict__)


def read_corpus(path: str | os.PathLike[str]) -> tuple[list[str], str]:
    """The texts of a corpus file (UTF-8, one text per line, blank lines skipped; `.gz` is read
    compressed) and the sha256 of the file's bytes.

    :raises VocabPruningError: when the file is not UTF-8 text or holds no text.
    :raises FileNotFoundError: when it does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise VocabPruningError(f"--vocab-from takes a text file (one text per line), got the folder {path}")
    raw = path.read_bytes()
    try:
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
        text = data.decode("utf-8")
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as err:
        raise VocabPruningError(f"{path} is not UTF-8 text (one text per line): {err}") from err
    texts = [line for line in text.splitlines() if line.strip()]
    if not texts:
        raise VocabPruningError(f"{path} holds no text: pruning to it would keep only the special tokens")
    return texts, hashlib.sha256(raw).hexdigest()


def prune_to_corpus(
    source: StaticSource, corpus: str | os.PathLike[str], max_vocab: int | None = None
) -> tuple[StaticSource, PruningRecord]:
    """`prune_source` on the texts of a corpus file (see `read_corpus`)."""
    texts, digest = read_corpus(corpus)
    return prune_source(source, texts, digest, max_vocab)


def prune_source(
    source: StaticSource, texts: list[str], corpus_sha256: str, max_vocab: int | None = None
) -> tuple[StaticSource, PruningRecord]:
    """The source restricted to the tokens `texts` use (at most `max_vocab` rows), and the record.

    :raises VocabPruningError: for an unsupported tokenizer model or a `max_vocab` below the tokens
        that must stay (special tokens, the unknown token, a byte-level alphabet).
    """
    data = json.loads(source.tokenizer.to_str())
    kind = data["model"].get("type")
    if kind not in SUPPORTED_MODELS:
        raise VocabPruningError(f"vocabulary pruning supports {', '.join(SUPPORTED_MODELS)} tokenizers, not {kind}")
    if max_vocab is not None and (isinstance(max_vocab, bool) or not isinstance(max_vocab, int) or max_vocab < 1):
        raise VocabPruningError(f"max_vocab must be a positive integer, got {max_vocab!r}")

    counts = _token_counts(source.tokenizer, texts)
    required = _required_ids(source, data)
    closure = _bpe_closure(source.tokenizer, data) if kind == "BPE" else (lambda token_id: {token_id})
    kept = set(required)
    if max_vocab is not None and len(kept) > max_vocab:
        raise VocabPruningError(
            f"max_vocab {max_vocab} is below the {len(kept)} tokens every pruned vocabulary keeps "
            "(special tokens, the unknown token and any byte alphabet)"
        )
    dropped = 0
    # Most frequent first (ties: lower id), so a limit drops the rarest tokens.
    for token_id, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        needed = closure(token_id) - kept
        if max_vocab is not None and len(kept) + len(needed) > max_vocab:
            dropped += 1
            continue
        kept |= needed
    order = sorted(kept)
    tokenizer = _rewrite_tokenizer(source.tokenizer, data, order)
    pruned = replace(
        source,
        table=np.ascontiguousarray(source.table[order]),
        tokenizer=tokenizer,
        unk_token_id=unk_token_id(tokenizer),
    )
    changed = 0
    if dropped:
        new_id = {old: new for new, old in enumerate(order)}
        old_ids = [[new_id.get(i, -1) for i in row] for row in source.encode_ids(texts)]
        changed = sum(a != b for a, b in zip(old_ids, pruned.encode_ids(texts), strict=True))
    record = PruningRecord(
        original_vocab_size=source.vocab_size,
        kept=len(order),
        corpus_sha256=corpus_sha256,
        corpus_texts=len(texts),
        max_vocab=max_vocab,
        corpus_tokens_dropped=dropped,
        corpus_texts_changed=changed,
    )
    return pruned, record


def restrict_to_tokenizer(source: StaticSource, tokenizer: Tokenizer) -> StaticSource:
    """The source re-indexed to a pruned tokenizer's vocabulary (matched by token string), so it can be
    the reference that `check` compares a pruned bundle with.

    :raises VocabPruningError: when the pruned tokenizer holds a token the source does not.
    """
    full = source.tokenizer.get_vocab(with_added_tokens=True)
    pruned = tokenizer.get_vocab(with_added_tokens=True)
    by_new_id = sorted(pruned.items(), key=lambda item: item[1])
    missing = [token for token, _ in by_new_id if token not in full]
    if missing:
        raise VocabPruningError(f"the pruned tokenizer has tokens the source lacks, e.g. {missing[:3]}")
    order = [full[token] for token, _ in by_new_id]
    restricted = Tokenizer.from_str(tokenizer.to_str())
    restricted.no_padding()
    if source.max_length is None:
        restricted.no_truncation()
    else:
        restricted.enable_truncation(int(source.max_length))
    return replace(source, table=source.table[order], tokenizer=restricted, unk_token_id=unk_token_id(restricted))


def _token_counts(tokenizer: Tokenizer, texts: list[str]) -> Counter[int]:
    """How often each token id occurs in the corpus, tokenized in full (no truncation)."""
    untruncated = Tokenizer.from_str(tokenizer.to_str())
    untruncated.no_truncation()
    untruncated.no_padding()
    counts: Counter[int] = Counter()
    for encoding in untruncated.encode_batch_fast(texts, add_special_tokens=False):
        counts.update(encoding.ids)
    return counts


def _required_ids(source: StaticSource, data: dict[str, Any]) -> set[int]:
    """Ids every pruned vocabulary keeps: added/special tokens, the unknown token, byte alphabets."""
    vocab = source.tokenizer.get_vocab(with_added_tokens=True)
    required = {int(token["id"]) for token in data.get("added_tokens") or []}
    if source.unk_token_id is not None:
        required.add(int(source.unk_token_id))
    model = data["model"]
    if model.get("type") == "Unigram" and model.get("vocab"):
        # The unknown piece scores (lowest piece score - 10): keeping the lowest piece keeps that penalty.
        required.add(min(range(len(model["vocab"])), key=lambda i: model["vocab"][i][1]))
    if model.get("type") == "Unigram" and model.get("byte_fallback"):
        required |= {vocab[f"<0x{b:02X}>"] for b in range(256) if f"<0x{b:02X}>" in vocab}
    if model.get("type") == "BPE":
        if model.get("byte_fallback"):
            required |= {vocab[f"<0x{b:02X}>"] for b in range(256) if f"<0x{b:02X}>" in vocab}
        if _is_byte_level(data):
            required |= {vocab[symbol] for symbol in pre_tokenizers.ByteLevel.alphabet() if symbol in vocab}
    return required


def _is_byte_level(data: dict[str, Any]) -> bool:
    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return node.get("type") == "ByteLevel" or any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return walk(data.get("pre_tokenizer"))


def _merges(model: dict[str, Any]) -> list[tuple[str, str]]:
    """BPE merges as pairs, from either tokenizer.json form ("a b" strings or [a, b] lists)."""
    pairs = []
    for merge in model.get("merges") or []:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        pairs.append((left, right))
    return pairs


def _merge_result(left: str, right: str, model: dict[str, Any]) -> str:
    prefix = model.get("continuing_subword_prefix") or ""
    return left + (right[len(prefix) :] if prefix and right.startswith(prefix) else right)


def _bpe_closure(tokenizer: Tokenizer, data: dict[str, Any]):
    """A function: token id -> the ids of the token and every part of every merge that builds it."""
    model = data["model"]
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    makers: dict[str, list[tuple[str, str]]] = {}
    for left, right in _merges(model):
        makers.setdefault(_merge_result(left, right, model), []).append((left, right))

    def closure(token_id: int) -> set[int]:
        token = tokenizer.id_to_token(token_id)
        seen, stack = {token}, [token]
        while stack:
            for pair in makers.get(stack.pop(), []):
                for part in pair:
                    if part not in seen:
                        seen.add(part)
                        stack.append(part)
        return {vocab[t] for t in seen if t in vocab}

    return closure


def _rewrite_tokenizer(tokenizer: Tokenizer, data: dict[str, Any], order: list[int]) -> Tokenizer:
    """The tokenizer with only the ids in `order`, renumbered 0.. in that order.

    The post-processor and padding refer to ids and are dropped (the bundle drops them anyway).
    """
    new_id = {old: new for new, old in enumerate(order)}
    kept_tokens = {tokenizer.id_to_token(old) for old in order}
    model = data["model"]
    kind = model["type"]
    if kind in ("WordPiece", "WordLevel", "BPE"):
        model["vocab"] = {token: new_id[old] for token, old in model["vocab"].items() if old in new_id}
    if kind == "BPE":
        pairs = _merges(model)
        kept_pairs = [
            (a, b)
            for a, b in pairs
            if a in kept_tokens and b in kept_tokens and _merge_result(a, b, model) in kept_tokens
        ]
        as_strings = bool(model.get("merges")) and isinstance(model["merges"][0], str)
        model["merges"] = [f"{a} {b}" for a, b in kept_pairs] if as_strings else [[a, b] for a, b in kept_pairs]
    if kind == "Unigram":
        pieces = model["vocab"]
        model["vocab"] = [pieces[old] for old in order if old < len(pieces)]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    for token in data.get("added_tokens") or []:
        token["id"] = new_id[int(token["id"])]
    data["post_processor"] = None
    data["padding"] = None
    try:
        return Tokenizer.from_str(json.dumps(data, ensure_ascii=False))
    except Exception as err:  # tokenizers raises a bare Exception for an inconsistent file
        raise VocabPruningError(f"the pruned tokenizer does not load ({err}); please report this") from err
