"""Steps every training recipe shares: train into OUT/model, then export its 256-dim int8 bundle."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


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
