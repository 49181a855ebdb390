"""Bad input to export gets a clear error and never leaves a half-written bundle."""

from __future__ import annotations

import shutil

import pytest

from static_edge.exporter import ExportOptions, SourceModelError, export, read_source
from static_edge.exporter.bundle_export import ExportError
from static_edge.runtimes import read_manifest


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("dims", [0, -3, 257])
def test_bad_dims(tmp_path, st_wordpiece, dims):
    """Bad dims."""
    with pytest.raises(ExportError, match="dims"):
        export(st_wordpiece, tmp_path / "out", ExportOptions(dims=dims))
    assert _leftovers(tmp_path) == []


def test_dims_larger_than_model_names_both(tmp_path, st_wordpiece):
    """Dims larger than model names both."""
    with pytest.raises(ExportError, match="dims 300 is larger than the model's 256"):
        export(st_wordpiece, tmp_path / "out", ExportOptions(dims=300))


def test_missing_model_folder(tmp_path):
    """Missing model folder."""
    with pytest.raises(FileNotFoundError, match="not found"):
        read_source(tmp_path / "no-such-model")


def test_folder_that_is_not_a_static_model(tmp_path):
    """Folder that is not a static model."""
    (tmp_path / "junk.txt").write_text("hello")
    with pytest.raises(SourceModelError, match="Expected either a Sentence Transformers StaticEmbedding"):
        read_source(tmp_path)


def test_missing_tokenizer_and_corrupt_weights(tmp_path, st_wordpiece):
    """Missing tokenizer and corrupt weights."""
    broken = shutil.copytree(st_wordpiece, tmp_path / "broken")
    (broken / "tokenizer.json").unlink()
    with pytest.raises(SourceModelError, match="missing tokenizer file"):
        read_source(broken)
    corrupt = shutil.copytree(st_wordpiece, tmp_path / "corrupt")
    (corrupt / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(SourceModelError, match="not a valid safetensors file"):
        read_source(corrupt)


def test_hub_id_offline_gives_clear_error(monkeypatch):
    """Hub id offline gives clear error."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceModelError, match="Hugging Face hub"):
        read_source("static-edge-tests/no-such-model")


def test_failed_export_leaves_nothing_behind(tmp_path, st_wordpiece, monkeypatch):
    """Failed export leaves nothing behind."""
    from static_edge.exporter.quantization import QUANTIZERS

    def explode(*args, **kwargs):
        raise RuntimeError("disk full while writing the int8 graph")

    monkeypatch.setitem(QUANTIZERS, "int8", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        export(st_wordpiece, tmp_path / "out", ExportOptions(int8=True))
    assert _leftovers(tmp_path) == []


def test_existing_output_is_kept_unless_forced(tmp_path, st_wordpiece):
    """Existing output is kept unless forced."""
    out = export(st_wordpiece, tmp_path / "out", ExportOptions(dims=8))
    with pytest.raises(ExportError, match="already exists"):
        export(st_wordpiece, out, ExportOptions(dims=16))
    assert read_manifest(out).dims == 8
    export(st_wordpiece, out, ExportOptions(dims=16, overwrite=True))
    assert read_manifest(out).dims == 16
    assert _leftovers(tmp_path) == ["out"]
