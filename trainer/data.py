"""Training data: local files or hub data sets, as (anchor, positive[, negative]) columns.

The accepted layouts (docs/training.md, "Training data"): pairs (anchor, positive), triplets (anchor, positive,
negative) and scored pairs (anchor, positive, score: only the pairs scored in the upper half of the file's range
are kept as positives), in JSONL, CSV, TSV or Parquet, under these names or their common aliases (`ALIASES`).
Every file is checked when it is loaded, before any model is: a missing column, an empty file or an unreadable
one is a `DataError` of one line.
"""

from __future__ import annotations

import os
from pathlib import Path

from static_edge.runtimes.errors import DataError
from static_edge.trainer.loading import reason

REQUIRED = ("anchor", "positive")
OPTIONAL = ("negative",)
SCORE = "score"
"""A scored pair's score column (higher: more alike)."""
# Common column names in public pair data sets, mapped to the names the loss expects.
ALIASES = {
    "sentence1": "anchor",
    "sentence2": "positive",
    "query": "anchor",
    "question": "anchor",
    "premise": "anchor",
    "text1": "anchor",
    "text2": "positive",
    "answer": "positive",
    "document": "positive",
    "hypothesis": "positive",
    "similarity_score": "score",
}
_FILE_FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
LAYOUTS = "(anchor, positive) pairs, (anchor, positive, negative) triplets or (anchor, positive, score) scored pairs"


def load_pairs(spec: str | os.PathLike[str]):
    """A `datasets.Dataset` with columns anchor, positive and optionally negative.

    :param spec: a .jsonl/.json, .csv, .tsv or .parquet file, or a hub data set as
        `name[:config][@split]` (split defaults to train).
    :raises DataError: for a missing local file, an unknown file type, an empty or unreadable file, missing columns
        or no usable rows.
    """
    import datasets

    quiet = datasets.is_progress_bar_enabled()
    if quiet:  # its "Generating train split" bars would bury an error line; the rows are counted in the card
        datasets.disable_progress_bars()
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # it logs a parse error before raising it
    try:
        return _load(spec)
    finally:
        datasets.logging.set_verbosity(verbosity)
        if quiet:
            datasets.enable_progress_bars()


def _load(spec: str | os.PathLike[str]):
    import datasets

    path = Path(spec)
    if path.suffix in _FILE_FORMATS or path.exists():
        if not path.is_file():
            raise DataError(f"training data file {path} {'is a folder' if path.is_dir() else 'not found'}")
        if path.suffix not in _FILE_FORMATS:
            raise DataError(f"{path}: unknown format {path.suffix!r}; use one of {sorted(_FILE_FORMATS)}")
        if not _has_content(path):
            raise DataError(f"{path} is empty; training needs {LAYOUTS}")
        kwargs = {"delimiter": "\t"} if path.suffix == ".tsv" else {}
        try:
            dataset = datasets.load_dataset(_FILE_FORMATS[path.suffix], data_files=str(path), split="train", **kwargs)
        except Exception as err:  # datasets wraps parse errors of every format in its own types
            raise DataError(f"{path} cannot be read as {path.suffix[1:]}: {reason(err)}") from err
        name = path.name
    else:
        name, _, split = str(spec).partition("@")
        repo, _, config = name.partition(":")
        try:
            dataset = datasets.load_dataset(repo, config or None, split=split or "train")
        except Exception as err:  # datasets raises many types (offline, missing, bad config)
            raise DataError(f"could not load the hub data set {spec!r}: {err}") from err
    return normalize_columns(dataset, name)


def _has_content(path: Path) -> bool:
    """Whether the file holds anything but white space (a Parquet file: any bytes)."""
    if path.suffix == ".parquet":
        return path.stat().st_size > 0
    with path.open("rb") as handle:
        return any(block.strip() for block in iter(lambda: handle.read(1 << 16), b""))


def normalize_columns(dataset, name: str):
    """Rename aliases, keep anchor/positive[/negative], keep the upper half of scored pairs, drop rows with an
    empty text.

    :raises DataError: naming the columns found when the required ones are missing, or when no row is left.
    """
    renames = {c: ALIASES[c] for c in dataset.column_names if c in ALIASES and ALIASES[c] not in dataset.column_names}
    dataset = dataset.rename_columns(renames)
    missing = [c for c in REQUIRED if c not in dataset.column_names]
    if missing:
        raise DataError(f"{name} has columns {dataset.column_names}; training needs {LAYOUTS}")
    if SCORE in dataset.column_names and "negative" not in dataset.column_names:
        dataset = _best_scored(dataset, name)
    keep = list(REQUIRED) + [c for c in OPTIONAL if c in dataset.column_names]
    dataset = dataset.select_columns(keep)
    dataset = dataset.filter(lambda row: all(isinstance(row[c], str) and row[c].strip() for c in keep))
    if len(dataset) == 0:
        raise DataError(f"{name} has no rows with non-empty {', '.join(keep)}")
    return dataset


def _best_scored(dataset, name: str):
    """The scored pairs at or above the middle of the file's score range: the loss treats every pair as alike.

    :raises DataError: for a score that is not a number.
    """
    scores = dataset[SCORE]
    if not all(isinstance(s, int | float) and not isinstance(s, bool) for s in scores):
        bad = next(s for s in scores if not isinstance(s, int | float) or isinstance(s, bool))
        raise DataError(f"{name}: column {SCORE!r} must hold numbers, found {bad!r}")
    middle = (min(scores) + max(scores)) / 2 if scores else 0.0
    return dataset.filter(lambda row: row[SCORE] >= middle)
