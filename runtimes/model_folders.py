"""What kind of folder a path is: a static-edge bundle, or a saved Sentence Transformers model.

One rule each, shared by the exporter, the trainer, the quick start and the benchmarks, which tell a folder to
read, reuse or replace by the file it holds.
"""

from __future__ import annotations

import os
from pathlib import Path

from static_edge.runtimes.bundle import MANIFEST_FILE

MODULES_FILE = "modules.json"
"""The file that makes a folder a saved Sentence Transformers model (its list of modules)."""


def is_sentence_transformers_folder(folder: str | os.PathLike[str]) -> bool:
    """True for a saved Sentence Transformers model: a folder holding modules.json."""
    return (Path(folder) / MODULES_FILE).is_file()


def holds_manifest(folder: str | os.PathLike[str]) -> bool:
    """True for a folder holding static_edge.json, readable or not: a bundle, or a broken one that `load` will
    explain (`bundle.is_bundle` also parses the manifest, for what `--force` may replace)."""
    return (Path(folder) / MANIFEST_FILE).is_file()
