"""Pre-train a static table on a teacher's sentence vectors over a corpus: the tokenlearn recipe, before `train`.

model2vec's distillation gives each token the teacher's vector of that token alone. Pre-training then fits
the table so that the *mean* of a text's rows predicts the teacher's vector of the whole text, over real
sentences and passages: the rows learn how much each token counts in context (tokenlearn, which made the
potion models, does the same). Contrastive training (`train`) follows as usual.

The regression runs through Sentence Transformers' trainer with its `EmbedDistillLoss`: cosine distance between
a learned linear projection of the student's vector (its dimensions -> the teacher's) and the teacher's
pre-computed vector. The projection is thrown away after training; the table keeps what it learned. The teacher's
vectors (the slow part) come from the teacher run through ONNX Runtime (trainer.teacher_onnx), cached on disk by
a digest of the teacher, the texts and the precision, chunk by chunk while the pass runs. Other ways to fit them
(`PretrainConfig.targets`) are kept for comparison; docs/training.md has the measurements that chose the default.

Why not the `tokenlearn` package itself: it reads its corpus from the Hugging Face hub with `datasets` and
trains model2vec `StaticModel`s; here the corpus is local text and the model a Sentence Transformers
StaticEmbedding that `train`, `eval` and `export` read as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from static_edge.runtimes.errors import DataError, InputError

PRETRAIN_LOG = "pretrain_log.json"
TARGET_KINDS = ("aligned", "pca", "projection", "raw")
"""The ways to fit the teacher's vectors (`PretrainConfig.targets`)."""


@dataclass
class PretrainConfig:
    """Hyperparameters of the regression onto the teacher's vectors."""

    epochs: float = 10.0
    """Passes over the corpus: 10 measured best on 12,000 texts (1 was not enough; docs/training.md)."""
    batch_size: int = 256
    learning_rate: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 12
    logging_steps: int = 20
    targets: str = "projection"
    """How the teacher's vectors are fitted: "projection" (a learned linear map from the student to the teacher,
    Sentence Transformers' `EmbedDistillLoss(projection_dim=...)`), "pca" (the teacher's top principal
    components as targets, as tokenlearn does), "aligned" (the teacher's vectors mapped into the student's
    coordinates by least squares, `aligned_targets`), or "raw" (as they are: the dimensions must match)."""

    def __post_init__(self) -> None:
        """Refuse values the trainer would reject only after the teacher pass, or accept and train nothing with.

        :raises InputError: naming the first bad value.
        """
        from static_edge.trainer.train import check_schedule

        check_schedule(self.epochs, -1, self.batch_size, self.learning_rate, self.warmup_ratio)
        if self.logging_steps < 1:
            raise InputError(f"logging steps must be at least 1, got {self.logging_steps}")
        if self.targets not in TARGET_KINDS:
            raise InputError(f"unknown targets {self.targets!r}: one of {', '.join(TARGET_KINDS)}")


def read_corpus(paths: Iterable[str | os.PathLike[str]], limit: int | None = None) -> list[str]:
    """Distinct non-empty lines of text files (`.gz` read transparently), in order, at most `limit`.

    :raises DataError: when a file is missing, is not UTF-8 (naming its line) or not gzip, or no text is found.
    """
    import gzip

    texts: dict[str, None] = {}
    for path in paths:
        if not Path(path).is_file():
            raise DataError(f"corpus file {path} {'is a folder' if Path(path).is_dir() else 'not found'}")
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as handle:  # decoded line by line, so an error names its line
            for number, raw in enumerate(_lines(handle, path), start=1):
                try:
                    text = raw.decode("utf-8").strip()
                except UnicodeDecodeError as err:
                    raise DataError(f"{path}: line {number} is not UTF-8 ({err.reason})") from err
                if text:
                    texts.setdefault(text, None)
                if limit is not None and len(texts) >= limit:
                    return list(texts)
    if not texts:
        raise DataError("the pre-training corpus has no text")
    return list(texts)


def _lines(handle, path: str | os.PathLike[str]) -> Iterator[bytes]:
    """The raw lines of `handle`; a .gz file that is not gzip is a `DataError`."""
    import gzip

    try:
        yield from handle
    except (gzip.BadGzipFile, EOFError) as err:
        raise DataError(f"{path} is not a complete gzip file ({err})") from err


def texts_digest(teacher: str, texts: Sequence[str]) -> str:
    """sha256 over the teacher's name and the texts, in order: the key of a cached teacher pass."""
    digest = hashlib.sha256(teacher.encode("utf-8"))
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8"))
    return digest.hexdigest()


def vectors_key(teacher: str | os.PathLike[str], texts: Sequence[str], backend: str, precision: str) -> str:
    """The key of a cached teacher pass: sha256 over the teacher's files (`teacher_digest`), the texts in order
    (`texts_digest`), the backend and the precision the teacher ran in."""
    from static_edge.trainer.teacher_onnx import teacher_digest

    parts = (teacher_digest(teacher), texts_digest(str(teacher), texts), backend, precision)
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def vectors_file(
    teacher: str | os.PathLike[str],
    texts: Sequence[str],
    cache: str | os.PathLike[str],
    backend: str = "onnx",
    precision: str = "auto",
) -> Path:
    """Where `teacher_vectors` keeps the vectors of `texts` in `cache` (present once a pass has finished)."""
    from static_edge.trainer.teacher_onnx import resolve_precision

    key = vectors_key(teacher, texts, backend, resolve_precision(backend, precision))
    return Path(cache).expanduser() / f"teacher-vectors-{key[:20]}.npy"


def teacher_vectors(
    teacher: str | os.PathLike[str],
    texts: Sequence[str],
    cache: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    backend: str = "onnx",
    precision: str = "auto",
    model_cache: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """The teacher's (normalized) sentence vectors of `texts`, float32, one row per text.

    The teacher runs through ONNX Runtime by default, exported into `model_cache` (default ~/.cache/static-edge);
    precision "auto" is int8 on CPU where int8 keeps the teacher's vectors, else fp32 (`teacher_onnx.PRECISIONS`).
    `backend="torch"` runs it through Sentence Transformers. Either way texts go shortest first
    (`teacher_onnx.encode_sorted`), on a GPU where the backend finds one.

    With `cache`, the vectors are kept in `cache/teacher-vectors-<key>.npy` (`vectors_key`: teacher files, texts,
    backend, precision) and reused by any later call with the same key. While the pass runs, every
    `teacher_onnx.CHUNK_TEXTS` texts are written to `cache/teacher-vectors-<key>.parts/`, so a killed pass
    resumes from its last whole chunk; every file is written atomically (`staging.write_file_atomic`).

    :raises InputError: for an unknown backend or precision.
    :raises ModelLoadError: when the teacher cannot be loaded (or, for onnx, exported).
    """
    from static_edge.trainer.teacher_onnx import encode_sorted, load_encoder, read_cached, resolve_precision

    precision = resolve_precision(backend, precision)
    target = vectors_file(teacher, texts, cache, backend, precision) if cache is not None else None
    vectors = read_cached(target) if target is not None else None
    if vectors is not None and vectors.shape[0] == len(texts):
        return vectors
    encode = load_encoder(teacher, backend, precision, model_cache)
    parts = target.with_suffix(".parts") if target is not None else None
    vectors = encode_sorted(encode, texts, batch_size, parts)
    if target is not None:
        from static_edge.runtimes.staging import write_file_atomic

        write_file_atomic(target, lambda handle: np.save(handle, vectors))
        shutil.rmtree(parts, ignore_errors=True)
    return vectors


def aligned_targets(student_vectors: np.ndarray, teacher: np.ndarray) -> np.ndarray:
    """The teacher's vectors mapped into the student's coordinates: `teacher @ W`, W the least-squares fit of
    the student's current vectors from the teacher's (with a bias), rows normalized.

    The student keeps its own basis (model2vec's PCA order, so Matryoshka slices stay meaningful); what it is
    pulled towards is the part of its space the teacher can explain, text by text.
    """
    design = np.hstack([teacher, np.ones((teacher.shape[0], 1), dtype=teacher.dtype)]).astype(np.float64)
    student = student_vectors.astype(np.float64)
    student /= np.linalg.norm(student, axis=1, keepdims=True).clip(min=1e-12)
    weights, *_ = np.linalg.lstsq(design, student, rcond=None)
    targets = design @ weights
    targets /= np.linalg.norm(targets, axis=1, keepdims=True).clip(min=1e-12)
    return targets.astype(np.float32)


def pca_targets(teacher: np.ndarray, dims: int) -> np.ndarray:
    """The teacher's vectors, centred, on their top `dims` principal axes (tokenlearn's targets)."""
    centred = teacher.astype(np.float64) - teacher.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return (centred @ axes[:dims].T).astype(np.float32)


def targets_dataset(texts: Sequence[str], targets: np.ndarray) -> Any:
    """A `datasets.Dataset` of (text, label) rows, the labels float64 vectors laid out in Arrow straight from the
    array: `Dataset.from_dict` with `targets.tolist()` makes a Python float of every value first, about 14 GB at
    466,000 x 384."""
    import pyarrow as pa
    from datasets import Dataset
    from datasets.table import InMemoryTable

    flat = pa.array(np.ascontiguousarray(targets, dtype=np.float64).ravel())
    labels = pa.FixedSizeListArray.from_arrays(flat, targets.shape[1])
    return Dataset(InMemoryTable(pa.table({"text": pa.array(list(texts), pa.string()), "label": labels})))


def pretrain(
    model: Any,
    texts: Sequence[str],
    targets: np.ndarray,
    output: str | os.PathLike[str],
    config: PretrainConfig | None = None,
) -> tuple[Any, list[dict[str, float]]]:
    """Regress `model`'s text vectors onto `targets` (one row per text) and save it to `output`.

    `targets` are the teacher's vectors; `config.targets` says how they are fitted (see `PretrainConfig`).

    :returns: the model and the trainer's log history (loss per logging step).
    :raises InputError: when texts and targets differ in count, targets are not finite, or ("raw") their
        dimensions differ from the model's.
    """
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import EmbedDistillLoss

    from static_edge.trainer.st_compat import embedding_dimension, warmup_arguments

    config = config or PretrainConfig()
    if len(texts) != len(targets):
        raise InputError(f"{len(texts)} texts but {len(targets)} teacher vectors")
    if not np.isfinite(targets).all():
        raise InputError("the teacher vectors hold NaN or infinite values")
    dims = embedding_dimension(model)
    if config.targets == "aligned":
        student = model.encode(list(texts), batch_size=1024, convert_to_numpy=True, show_progress_bar=False)
        targets = aligned_targets(student, targets)
    elif config.targets == "pca":
        targets = pca_targets(targets, dims)
    elif config.targets == "raw" and targets.shape[1] != dims:
        raise InputError(f"targets have {targets.shape[1]} dimensions, the model {dims}")
    projection = targets.shape[1] if config.targets == "projection" else None

    output = Path(output)
    checkpoints = output / "checkpoints"
    dataset = targets_dataset(texts, targets)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        **warmup_arguments(config.warmup_ratio),
        lr_scheduler_type="cosine",
        logging_steps=config.logging_steps,
        save_strategy="no",
        seed=config.seed,
        use_cpu=True,
        report_to="none",
        disable_tqdm=False,
    )
    loss = EmbedDistillLoss(model, distance_metric="cosine", projection_dim=projection)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
    trainer.train()
    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    model.save(str(output))
    (output / PRETRAIN_LOG).write_text(
        json.dumps({"config": asdict(config), "texts": len(texts), "history": trainer.state.log_history}, indent=2)
    )
    shutil.rmtree(checkpoints, ignore_errors=True)
    return model, history
