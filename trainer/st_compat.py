"""Sentence Transformers module imports across 3.x-5.x (`models`) and 6.x (`sentence_transformer.modules`)."""

from __future__ import annotations

try:
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
except ImportError:  # Sentence Transformers < 6
    from sentence_transformers.models import Normalize, StaticEmbedding

__all__ = ["Normalize", "StaticEmbedding", "embedding_dimension"]


def embedding_dimension(model) -> int:
    """Output size of a SentenceTransformer (the method was renamed in Sentence Transformers 6)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())
