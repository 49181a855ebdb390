"""Training data: local files or hub data sets, as (anchor, positive[, negative]) columns."""

from __future__ import annotations

import os
from pathlib import Path

from static_edge.runtimes.errors import StaticEdgeError

REQUIRED = ("anchor", "positive")
OPTIONAL = ("negative",)
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
}
_FILE_FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}


class DataError(StaticEdgeError, ValueError):
    """Training data with the wrong columns, no rows, or an unknown format."""


def load_pairs(spec: str | os.PathLike[str]):
    """A `datasets.Dataset` with columns anchor, positive and optionally negative.

    :param spec: a .jsonl/.json, .csv, .tsv or .parquet file, or a hub data set as
        `name[:config][@split]` (split defaults to train).
    :raises FileNotFoundError: for a missing local file.
    :raises DataError: for an unknown file type, missing columns or no usable rows.
    """
    import datasets

    path = Path(spec)
    if path.suffix in _FILE_FORMATS or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"training data file not found: {path}")
        if path.suffix not in _FILE_FORMATS:
            raise DataError(f"{path}: unknown format {path.suffix!r}; use one of {sorted(_FILE_FORMATS)}")
        kwargs = {"delimiter": "\t"} if path.suffix == ".tsv" else {}
        dataset = datasets.load_dataset(_FILE_FORMATS[path.suffix], data_files=str(path), split="train", **kwargs)
        name = path.name
    else:
        name, _, split = str(spec).partition("@")
        repo, _, config = name.partition(":")
        try:
            dataset = datasets.load_dataset(repo, config or None, split=split or "train")
        except Exception as err:  # datasets raises many types (offline, missing, bad config)
            raise DataError(f"could not load the hub data set {spec!r}: {err}") from err
    return normalize_columns(dataset, name)


def normalize_columns(dataset, name: str):
    """Rename aliases, keep anchor/positive[/negative], drop rows with an empty text.

    :raises DataError: naming the columns found when the required ones are missing, or when no row is left.
    """
    renames = {c: ALIASES[c] for c in dataset.column_names if c in ALIASES and ALIASES[c] not in dataset.column_names}
    dataset = dataset.rename_columns(renames)
    missing = [c for c in REQUIRED if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"{name} has columns {dataset.column_names}; training needs (anchor, positive) or "
            "(anchor, positive, negative) text columns"
        )
    keep = list(REQUIRED) + [c for c in OPTIONAL if c in dataset.column_names]
    dataset = dataset.select_columns(keep)
    dataset = dataset.filter(lambda row: all(isinstance(row[c], str) and row[c].strip() for c in keep))
    if len(dataset) == 0:
        raise DataError(f"{name} has no rows with non-empty {', '.join(keep)}")
    return dataset
