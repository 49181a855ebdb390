"""Sentence Transformers across 3.x-5.x (`models`) and 6.x (`sentence_transformer.modules`), and the one way
this project builds a Sentence Transformers model from a table (distill, `static-edge bench`, the tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

try:
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
except ImportError:  # Sentence Transformers < 6
    from sentence_transformers.models import Normalize, StaticEmbedding

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

__all__ = [
    "Normalize",
    "StaticEmbedding",
    "embedding_dimension",
    "sentence_transformer_from_table",
]


def embedding_dimension(model) -> int:
    """Output size of a SentenceTransformer (the method was renamed in Sentence Transformers 6)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def sentence_transformer_from_table(
    tokenizer: Tokenizer,
    table: np.ndarray,
    normalize: bool,
    base_model: str | None = None,
    max_length: int | None = None,
) -> SentenceTransformer:
    """SentenceTransformer(StaticEmbedding[, Normalize]) over `table`, on the CPU, float32.

    :param tokenizer: copied, with padding off and truncation at `max_length` tokens (None: a Sentence
        Transformers static model averages every token of a text).
    :param table: [vocab, dims]; copied, so the model never shares memory with the caller's array.
    :param normalize: append a Normalize module (L2-normalized output).
    :param base_model: recorded by StaticEmbedding as the model the table came from.
    """
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer.to_str())
    tokenizer.no_padding()
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(int(max_length))
    weights = torch.from_numpy(np.array(table, dtype=np.float32))
    modules = [StaticEmbedding(tokenizer, embedding_weights=weights, base_model=base_model)]
    if normalize:
        modules.append(Normalize())
    return SentenceTransformer(modules=modules, device="cpu")


def warmup_arguments(ratio: float) -> dict[str, float]:
    """The training-arguments key for a warm-up given as a fraction of the steps: transformers 5 takes it as a
    float `warmup_steps` and warns on `warmup_ratio`, which transformers 4 needs."""
    import transformers

    major = int(transformers.__version__.split(".")[0])
    return {"warmup_steps": ratio} if major >= 5 else {"warmup_ratio": ratio}
