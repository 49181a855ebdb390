"""Steps the training recipes share: read their JSONL data, pre-train a start, train into OUT/model, export
its 256-dim int8 bundle."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_jsonl_gz(path: Path) -> Iterator[dict]:
    """The records of a gzipped JSON-lines file (blank lines skipped), one at a time."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


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
    start = time.time()
    bundle = export(trained, out / "bundle-256-int8", ExportOptions(dims=256, int8=True, overwrite=True))
    timings["export"] = time.time() - start
    return trained, bundle


def pretrained_start(
    base: Path, teacher: Path | str, texts: list[str], cache: Path, config: Any, timings: dict[str, float]
) -> Path:
    """`base` pre-trained on `teacher`'s vectors of `texts` (trainer.pretrain), kept in `cache` under a name
    that encodes the inputs and settings, so a second run of a recipe reuses it. Records `timings["teacher
    vectors"]` and `timings["pretrain"]`."""
    from dataclasses import astuple

    from static_edge.trainer.distill import model_folder
    from static_edge.trainer.pretrain import pretrain, teacher_vectors, texts_digest
    from static_edge.trainer.train import init_model

    settings = "-".join(map(str, astuple(config)))
    folder = cache / f"{base.name}-pretrained-{texts_digest(str(teacher), texts)[:12]}-{settings}"
    timings["teacher vectors"] = timings["pretrain"] = 0.0
    if (folder / "modules.json").is_file():  # pre-trained by an earlier run: no teacher pass needed
        return folder
    start = time.time()
    print(f"teacher pass: {teacher} embeds {len(texts):,} texts for pre-training (cached in {cache})", flush=True)
    vectors = teacher_vectors(teacher, texts, cache)
    timings["teacher vectors"] = time.time() - start
    start = time.time()
    with model_folder(folder, overwrite=True) as staging:  # whole or not at all
        pretrain(init_model(base), texts, vectors, staging, config)
    timings["pretrain"] = time.time() - start
    return folder
