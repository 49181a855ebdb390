"""Steps the training recipes share: their common options, timing each step, pre-training a start, training into
OUT/model and exporting its 256-dim int8 bundle, scoring, and writing the model card and the scores.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import common
from static_edge.runtimes.model_folders import is_sentence_transformers_folder

Scores = dict[str, dict[int, float]]
"""task -> dimension -> score x 100 (static_edge.trainer.evaluate.evaluate)."""


def recipe_parser(doc: str | None, out: str, *, epochs: float, batch_size: int) -> argparse.ArgumentParser:
    """The options every recipe takes: --data, --out (benchmarks/results/OUT), --cache, --epochs, --batch-size."""
    parser = common.parser(doc, out=common.RESULTS / out)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--cache", type=Path, default=common.CACHE)
    parser.add_argument("--epochs", type=float, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument(
        "--guide-start",
        action="store_true",
        help="GISTEmbed: the start model guides the loss, masking in-batch negatives it scores above the positive",
    )
    parser.add_argument(
        "--average-share", type=float, default=0.0, help="average the weights over this last share of the steps"
    )
    return parser


def pretrain_size(value: str) -> int | None:
    """A `--pretrain-size`: a positive number of texts, or `all` (None: every distinct English train-side text,
    benchmarks.recipes.pretrain_texts.english_pretrain_texts)."""
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a positive number of texts or 'all': {value!r}")
    return int(value)


def size_label(size: int | None) -> str:
    """A `--pretrain-size` as a results table shows it: `60,000` or `all`."""
    return "all" if size is None else f"{size:,}"


def add_pretrain_arguments(parser: argparse.ArgumentParser, *, size: int | None, epochs: float) -> None:
    """Options of the pre-training step (`pretrained_start`); size None: all of the pool."""
    parser.add_argument(
        "--pretrain-size",
        type=pretrain_size,
        default=size,
        help=f"texts of the English pool to pre-train on (default {size_label(size)}; 'all': every distinct English "
        "train-side text of --data but the held-apart dev items, 466,577: benchmarks/results/pretrain_corpus.md)",
    )
    parser.add_argument("--pretrain-lr", type=float, default=0.01)
    parser.add_argument("--pretrain-epochs", type=float, default=epochs)
    parser.add_argument("--pretrain-targets", default="projection", choices=["projection", "pca", "aligned"])


@contextmanager
def timed(timings: dict[str, float], key: str) -> Iterator[None]:
    """Record the seconds the block took as `timings[key]`."""
    start = time.time()
    yield
    timings[key] = time.time() - start


def weights(spec: str | None) -> list[float] | None:
    """Comma-separated Matryoshka loss weights as floats (None stays None)."""
    return [float(w) for w in spec.split(",")] if spec else None


def train_config(
    args: argparse.Namespace, dims: list[int], learning_rate: float, start: Path | None = None, **options: Any
) -> Any:
    """The recipes' TrainConfig: `dims`, the options' epochs, batch size, averaging and (with
    --guide-start) `start` as GISTEmbed's guide, a 10% warm-up."""
    from static_edge.trainer.train import TrainConfig

    options = {
        "logging_steps": 10,
        "save_steps": 100_000,
        "average_share": args.average_share,
        "guide": str(start) if args.guide_start and start is not None else None,
        **options,
    }
    return TrainConfig(
        matryoshka_dims=dims,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=learning_rate,
        warmup_ratio=0.1,
        **options,
    )


def pretrain_config(args: argparse.Namespace) -> Any:
    """The PretrainConfig of the --pretrain-* options."""
    from static_edge.trainer.pretrain import PretrainConfig

    return PretrainConfig(epochs=args.pretrain_epochs, learning_rate=args.pretrain_lr, targets=args.pretrain_targets)


def train_and_export(
    model: Any, data: dict[str, Any], out: Path, config: Any, timings: dict[str, float], started: float, key: str
) -> tuple[Path, Path]:
    """Train `model` into OUT/model and export OUT/bundle-256-int8; record `timings[key]` (train, since `started`)
    and `timings["export"]`. Returns the model folder and the bundle."""
    from static_edge.exporter import ExportOptions, export
    from static_edge.trainer.train import train

    trained = out / "model"
    train(model, data, trained, config)
    timings[key] = time.time() - started
    with timed(timings, "export"):
        bundle = export(trained, out / "bundle-256-int8", ExportOptions(dims=256, int8=True, overwrite=True))
    return trained, bundle


def pretrained_start(
    base: Path, teacher: Path | str, data: Path, size: int | None, cache: Path, config: Any, timings: dict[str, float]
) -> Path:
    """`base` pre-trained on `teacher`'s vectors of `size` texts of the English pool (`teacher_pool.pretrain_corpus`;
    None: all of it), kept in `cache` (`cached_pretraining`)."""
    from benchmarks.recipes.teacher_pool import pretrain_corpus
    from static_edge.trainer.teacher_onnx import teacher_digest
    from static_edge.trainer.train import init_model

    texts, vectors = pretrain_corpus(teacher, data, size, cache)
    name = f"{base.name}-{teacher_digest(base)[:8]}-pretrained"  # a rebuilt start is a new pre-trained folder
    return cached_pretraining(lambda: init_model(base), name, str(teacher), texts, vectors, cache, config, timings)


def cached_pretraining(
    start: Callable[[], Any],
    name: str,
    teacher: str,
    texts: list[str],
    vectors: Callable[[], Any],
    cache: Path,
    config: Any,
    timings: dict[str, float],
) -> Path:
    """The model `start()` gives, pre-trained (trainer.pretrain) on `texts` with the targets `vectors()` gives,
    kept in `cache` under `name` and a digest of the teacher, the texts and the settings, so a second run reuses it
    without calling either. Records `timings["teacher vectors"]` and `timings["pretrain"]`."""
    from dataclasses import astuple

    from static_edge.trainer.distill import model_folder
    from static_edge.trainer.pretrain import pretrain, texts_digest

    settings = "-".join(map(str, astuple(config)))
    folder = cache / f"{name}-{texts_digest(teacher, texts)[:12]}-{settings}"
    timings["teacher vectors"] = timings["pretrain"] = 0.0
    if is_sentence_transformers_folder(folder):  # pre-trained by an earlier run: no teacher pass needed
        return folder
    with timed(timings, "teacher vectors"):
        targets = vectors()  # default backend: onnx, precision auto
    with timed(timings, "pretrain"), model_folder(folder, overwrite=True) as staging:  # whole or not at all
        pretrain(start(), texts, targets, staging, config)
    return folder


def distilled(teacher: Path | str, folder: Path, dims: int, swap_size: int = 0, data: Path | None = None) -> Path:
    """`teacher` distilled with model2vec to `dims` (PCA) into `folder`, unless an earlier run left it there. With
    `swap_size`, that many tokens of its tokenizer are swapped for words of the pool in `data` (`vocabulary_swap`)
    and the folder's name gets a digest of both lists, so a changed swap is a new folder. Returns the folder."""
    import hashlib

    from static_edge.trainer.distill import distill

    words, removed = vocabulary_swap(teacher, data, swap_size) if swap_size and data else (None, None)
    if words is not None:
        digest = hashlib.sha256("\0".join([*words, "", *removed]).encode("utf-8")).hexdigest()[:10]
        folder = folder.with_name(f"{folder.name}-swap{swap_size}-{digest}")
    if not is_sentence_transformers_folder(folder):
        distill(teacher, folder, pca_dims=dims, overwrite=True, vocabulary=words, remove_tokens=removed)
    return folder


def lexical_start(model: Any, data: Path, strength: float) -> Any:
    """`model` with lexical directions (trainer.lexical) whose idf is counted on the English pool without its
    held-apart dev items; in place."""
    from static_edge.trainer.lexical import add_lexical_directions

    return add_lexical_directions(model, training_pool(data), strength)


def training_pool(data: Path) -> list[str]:
    """The English pool without its held-apart dev items: every text a recipe may pre-train or count on."""
    from benchmarks.recipes.pretrain_texts import english_pretrain_texts
    from benchmarks.recipes.teacher_pool import pretrain_selection

    pool = english_pretrain_texts(data)
    return [pool[row] for row in pretrain_selection(pool, data, None)]


def vocabulary_swap(teacher: Path | str, data: Path, size: int) -> tuple[list[str], list[str]]:
    """The words to add to and the tokens to remove from `teacher`'s tokenizer, `size` each, counted on the English
    pool without its held-apart dev items (benchmarks.recipes.vocabulary)."""
    from benchmarks.recipes.vocabulary import swap_lists

    return swap_lists(Path(teacher) / "tokenizer.json", training_pool(data), size)


def scorer(sts: Mapping[str, Any], retrieval: Mapping[str, Any] | None = None, **sets: Any) -> Callable[..., Scores]:
    """`score(path, dims, variant=None, batch_size=1024)`: a model folder or bundle evaluated on these sets at the
    dims it has; `parallel=` sets are passed on to `evaluate`."""
    from static_edge.trainer.evaluate import evaluate, model_encoder

    def score(path: Path, dims: Sequence[int], variant: str | None = None, batch_size: int = 1024) -> Scores:
        encode, full, _ = model_encoder(path, variant, batch_size=batch_size)
        return evaluate(encode, [d for d in dims if d <= full], sts, retrieval, **sets)

    return score


def score_rows(results: Mapping[str, Scores], dims: Sequence[int]) -> list[dict[str, Any]]:
    """One row per model and task: its score at each of `dims` (None where it was not scored)."""
    return [
        {"model": model, "task": task, **{str(d): by_dim.get(d, by_dim.get(str(d))) for d in dims}}
        for model, tasks in results.items()
        for task, by_dim in tasks.items()
    ]


def json_scores(results: Mapping[str, Scores]) -> dict[str, dict[str, dict[str, float]]]:
    """The scores with string dimensions, as JSON stores them."""
    return {m: {t: {str(d): v for d, v in bd.items()} for t, bd in ts.items()} for m, ts in results.items()}


def end_of_run(timings: dict[str, float]) -> tuple[float, float, float]:
    """Record the CPU time of all threads in `timings`; return the load average (1/5/15 min) now."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    timings["CPU time, all threads"] = usage.ru_utime + usage.ru_stime
    return os.getloadavg()


def timings_note(timings: Mapping[str, float], load: Sequence[float]) -> str:
    """The timings line of a scores table, with the load average at the end."""
    return (
        "Timings (s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
        + f"; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)"
    )


def recorded_args(args: argparse.Namespace) -> dict[str, str]:
    """The parsed options as strings, for a results file."""
    return {k: str(v) for k, v in vars(args).items()}


def rows_note(data: Mapping[str, Any]) -> str:
    """The training sets and their sizes, for a scores table."""
    return "Training rows: " + ", ".join(f"{k} {len(v):,}" for k, v in data.items())


def write_card(trained: Path, out: Path, init: str | None, data: Mapping[str, Any], scores: Scores) -> None:
    """The trained model's card, copied to OUT/MODEL_CARD.md (the model folder is not committed)."""
    from static_edge.trainer.model_card import write_model_card

    write_model_card(trained, init=init, data={k: len(v) for k, v in data.items()}, scores=scores)
    (out / "MODEL_CARD.md").write_text((trained / "README.md").read_text())


def teacher_negatives(data: Mapping[str, Any], pool: Any, margin: float = 0.95) -> dict[str, Any]:
    """The sets with one hard negative per row mined by the teacher (`trainer.negatives.mine_with_vectors` on the
    `teacher_pool.TeacherPool`'s vectors: no teacher run for pool texts); a set's old negatives are replaced, and
    rows for which no passage qualifies are dropped."""
    from datasets import Dataset

    from static_edge.trainer.negatives import mine_with_vectors

    mined = {}
    for name, dataset in data.items():
        anchors, positives = list(dataset["anchor"]), list(dataset["positive"])
        negatives = mine_with_vectors(
            anchors, positives, pool.vectors_of(anchors), pool.vectors_of(positives), margin=margin
        )
        keep = [i for i, negative in enumerate(negatives) if negative is not None]
        if len(keep) < len(anchors):
            print(f"{name}: no passage below the margin for {len(anchors) - len(keep):,} rows: dropped", flush=True)
        mined[name] = Dataset.from_dict(
            {
                "anchor": [anchors[i] for i in keep],
                "positive": [positives[i] for i in keep],
                "negative": [negatives[i] for i in keep],
            }
        )
    return mined
