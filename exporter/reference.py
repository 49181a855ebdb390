"""The source model's own encoder (Sentence Transformers or model2vec), the yardstick of `check`."""

from __future__ import annotations

import numpy as np

from static_edge.exporter.sources import StaticSource
from static_edge.runtimes.embedder import l2_normalize


def own_encoder_name(source: StaticSource) -> str:
    """The name of the library the source was made for, as the parity report names it."""
    return "Sentence Transformers" if source.kind == "sentence-transformers" else "model2vec"


def own_encode(source: StaticSource, texts: list[str], dims: int, normalize: bool) -> np.ndarray | None:
    """Encode with the library the source was made for, then slice to `dims` and normalize if asked.

    The library's own normalization is bypassed and applied after slicing, which is what the
    bundle promises for Matryoshka slices. Returns None when the library is not installed.
    """
    if source.kind == "sentence-transformers":
        vectors = _sentence_transformers_encode(source, texts)
    else:
        vectors = _model2vec_encode(source, texts)
    if vectors is None:
        return None
    vectors = np.asarray(vectors, dtype=np.float32)[:, :dims]
    if normalize:
        vectors = l2_normalize(vectors)
    return vectors


def _sentence_transformers_encode(source: StaticSource, texts: list[str]) -> np.ndarray | None:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    full = SentenceTransformer(str(source.path), device="cpu")
    # Only the StaticEmbedding module: a Normalize module after it would normalize before slicing.
    static_only = SentenceTransformer(modules=[full[0]], device="cpu")
    return static_only.encode(texts, batch_size=len(texts), convert_to_numpy=True).astype(np.float32)


def _model2vec_encode(source: StaticSource, texts: list[str]) -> np.ndarray | None:
    try:
        from model2vec import StaticModel
    except ImportError:
        return None
    model = StaticModel.from_pretrained(str(source.path), normalize=False)
    return model.encode(texts, use_multiprocessing=False)
