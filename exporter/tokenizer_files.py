"""Tokenizer and config files that transformers.js and fastembed load unmodified."""

from __future__ import annotations

import json
from typing import Any

from tokenizers import Tokenizer

from static_edge.runtimes.variants import VARIANTS

_ROLE_CANDIDATES = {
    "pad_token": ("[PAD]", "<pad>", "<|padding|>", "[pad]"),
    "unk_token": ("[UNK]", "<unk>", "<|unk|>", "[unk]"),
    "cls_token": ("[CLS]", "<s>", "<cls>"),
    "sep_token": ("[SEP]", "</s>", "<sep>"),
    "mask_token": ("[MASK]", "<mask>"),
}


def bundle_tokenizer_json(tokenizer: Tokenizer, max_length: int | None) -> str:
    """The source tokenizer without post-processor or padding, truncated at `max_length` tokens.

    Removing the post-processor makes "no special tokens" the default in every consumer, so a
    tokenizer called with its defaults (transformers.js, fastembed) produces the ids the source
    model averages. Truncation is written into the file so Python and JS tokenizers both honour it.
    """
    data = json.loads(tokenizer.to_str())
    data["post_processor"] = None
    data["padding"] = None
    data["truncation"] = (
        None
        if max_length is None
        else {"direction": "Right", "max_length": int(max_length), "strategy": "LongestFirst", "stride": 0}
    )
    text = json.dumps(data, ensure_ascii=False)
    Tokenizer.from_str(text)  # fail here, not in a user's runtime, if the edit broke the file
    return text


def special_tokens(tokenizer: Tokenizer, unk_id: int | None) -> dict[str, str]:
    """The role -> token map (pad, unk, cls, sep, mask) of the tokens the vocabulary has."""
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    found: dict[str, str] = {}
    for role, candidates in _ROLE_CANDIDATES.items():
        for token in candidates:
            if token in vocab:
                found[role] = token
                break
    if unk_id is not None and "unk_token" not in found:
        token = tokenizer.id_to_token(unk_id)
        if token is not None:
            found["unk_token"] = token
    if "pad_token" not in found:
        found["pad_token"] = found.get("unk_token") or tokenizer.id_to_token(0) or ""
    return found


def tokenizer_config(specials: dict[str, str], max_length: int | None) -> dict[str, Any]:
    """`tokenizer_config.json`: what transformers' and fastembed's loaders read."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": int(max_length) if max_length is not None else 1_000_000,
        "clean_up_tokenization_spaces": False,
        "padding_side": "right",
        **specials,
    }


def model_config(
    dims: int, vocab_size: int, pad_token_id: int, default_variant: str, max_length: int | None
) -> dict[str, Any]:
    """`config.json`: the shape of the model, for transformers.js and fastembed."""
    return {
        # transformers.js picks its model class by model_type; a BERT-like encoder class passes
        # input_ids and attention_mask, which is all this graph takes.
        "model_type": "bert",
        "architectures": ["StaticEmbedding"],
        "hidden_size": dims,
        "vocab_size": vocab_size,
        "pad_token_id": pad_token_id,
        "max_position_embeddings": int(max_length) if max_length is not None else 1_000_000,
        "transformers.js_config": {"dtype": VARIANTS[default_variant].transformers_js_dtype},
    }
