"""Reading source models (exporter/sources.py): malformed files and tables that are not finite floating point give
one clear error; the manifest records the source as the user named it and the commit a hub revision resolved to;
`check` says when the source changed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from static_edge.cli import main
from static_edge.exporter import ExportOptions, SourceModelError, export, read_source
from static_edge.exporter.check import check_bundle
from static_edge.runtimes.bundle import read_manifest, sha256_file

COMMIT = "0123456789abcdef0123456789abcdef01234567"
NEWER_COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


# malformed source files


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('{"0": {"type": "StaticEmbedding"}}', "must hold a JSON list of modules"),
        ('["StaticEmbedding"]', "module 0 must be an object with a string 'type'"),
        ('[{"type": 7, "path": ""}]', "module 0 must be an object with a string 'type'"),
        ('[{"type": "sentence_transformers.models.StaticEmbedding", "path": 3}]', "module 0 has path 3"),
        ('[{"type": "sentence_transformers.models.StaticEmbedding", "path": "../elsewhere"}]', "not a folder inside"),
        ('[{"type": "sentence_transformers.models.StaticEmbedding", "path": "/etc"}]', "not a folder inside"),
        ("[{", "not valid JSON"),
    ],
)
def test_malformed_modules_json(st_wordpiece, tmp_path, capsys, content, named):
    """Malformed modules JSON."""
    model = shutil.copytree(st_wordpiece, tmp_path / "model")
    (model / "modules.json").write_text(content)
    with pytest.raises(SourceModelError, match=named):
        read_source(model)
    assert main(["export", str(model), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_modules_json_that_is_not_utf8(st_wordpiece, tmp_path):
    """Modules JSON that is not UTF-8."""
    model = shutil.copytree(st_wordpiece, tmp_path / "model")
    (model / "modules.json").write_bytes(b"[\xff\xfe]")
    with pytest.raises(SourceModelError, match="not UTF-8"):
        read_source(model)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ("[1, 2]", "must hold a JSON object"),
        ('{"max_length": "512"}', "max_length must be null or an integer"),
        ('{"max_length": 0}', "max_length must be null or an integer"),
        ('{"max_length": 1e400}', "max_length must be null or an integer"),
        ('{"max_length": 100000000000000000000000}', "max_length must be null or an integer"),
        ('{"normalize": "yes"}', "normalize must be true or false"),
    ],
)
def test_malformed_model2vec_config(m2v_model, tmp_path, config, named):
    """Malformed model2vec config."""
    model = shutil.copytree(m2v_model, tmp_path / "m2v")
    (model / "config.json").write_text(config)
    with pytest.raises(SourceModelError, match=named):
        read_source(model)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda t: {**t, "embeddings": t["embeddings"][0]}, "expected 2 dimensions"),
        (lambda t: {**t, "mapping": np.array([0, 10**6], dtype=np.int64)}, "'mapping' points outside"),
        (lambda t: {**t, "mapping": np.array([-1, 0], dtype=np.int64)}, "'mapping' points outside"),
        (lambda t: {**t, "mapping": np.zeros(3, dtype=np.float32)}, "'mapping' must be a 1-D integer tensor"),
        (lambda t: {**t, "weights": np.ones(2, dtype=np.float32)}, "'weights' must be"),
        (lambda t: {**t, "weights": np.ones(len(t["embeddings"]), dtype=np.int64)}, "'weights' must be"),
    ],
)
def test_malformed_model2vec_tensors(m2v_model, tmp_path, edit, named):
    """Malformed model2vec tensors."""
    model = shutil.copytree(m2v_model, tmp_path / "m2v")
    tensors = load_file(str(model / "model.safetensors"))
    save_file(edit(tensors), str(model / "model.safetensors"))
    with pytest.raises(SourceModelError, match=named):
        read_source(model)


# tables that are not finite floating point


def _with_table(model: Path, folder: Path, edit) -> tuple[Path, Tokenizer]:
    """A copy of a Sentence Transformers model whose table is `edit(table)`."""
    copy = shutil.copytree(model, folder)
    weights = copy / "model.safetensors"
    tensors = load_file(str(weights))
    tensors["embedding.weight"] = edit(tensors["embedding.weight"].copy())
    save_file(tensors, str(weights))
    return copy, Tokenizer.from_file(str(copy / "tokenizer.json"))


def _set(row: int, value: float):
    def edit(table: np.ndarray) -> np.ndarray:
        table[row, 5] = value
        return table

    return edit


@pytest.mark.parametrize(("value", "row"), [(np.nan, 17), (np.inf, 400), (-np.inf, 3)])
def test_export_refuses_a_non_finite_row_naming_it_and_its_token(st_wordpiece, tmp_path, value, row):
    """Export refuses a non finite row naming it and its token."""
    model, tokenizer = _with_table(st_wordpiece, tmp_path / "model", _set(row, value))
    token = tokenizer.id_to_token(row)
    with pytest.raises(SourceModelError, match=re.escape(f"row {row} of the embedding table (token {token!r})")):
        export(model, tmp_path / "out", ExportOptions(int8=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_export_refuses_a_float64_value_beyond_float32(st_wordpiece, tmp_path, capsys):
    """Export refuses a float64 value beyond float32."""
    model, _ = _with_table(st_wordpiece, tmp_path / "model", lambda t: _set(9, 1e300)(t.astype(np.float64)))
    assert main(["export", str(model), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "row 9 of the embedding table" in err and "beyond float32's range" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.bool_, np.uint8])
def test_export_refuses_a_table_that_is_not_floating_point(st_wordpiece, tmp_path, dtype):
    """Export refuses a table that is not floating point."""
    model, _ = _with_table(st_wordpiece, tmp_path / "model", lambda t: (t * 100).astype(dtype))
    with pytest.raises(SourceModelError, match="not floating point"):
        export(model, tmp_path / "out")


def test_export_refuses_a_non_finite_model2vec_table(m2v_model, tmp_path):
    """Export refuses a non finite model2vec table."""
    model = shutil.copytree(m2v_model, tmp_path / "m2v")
    tensors = load_file(str(model / "model.safetensors"))
    tensors["embeddings"][11, 0] = np.nan
    save_file(tensors, str(model / "model.safetensors"))
    with pytest.raises(SourceModelError, match="row 11 of the embedding table"):
        export(model, tmp_path / "out")


# what the manifest records about the source


def test_a_local_folder_is_recorded_as_typed(st_wordpiece, tmp_path, monkeypatch):
    """A local folder is recorded as typed."""
    shutil.copytree(st_wordpiece, tmp_path / "models" / "mine")
    monkeypatch.chdir(tmp_path)
    out = export("models/mine", "bundle", ExportOptions(dims=8))
    source = read_manifest(out).source
    assert source["model"] == "models/mine"  # never the absolute path of the exporting machine
    assert source["revision"] is None and source["requested_revision"] is None
    assert source["sha256"] == sha256_file(tmp_path / "models" / "mine" / "model.safetensors")
    with pytest.raises(SourceModelError, match="--revision applies to hub ids"):
        read_source("models/mine", revision="main")
    assert check_bundle(out, write=False).passed  # from the folder it was typed in
    monkeypatch.chdir(tmp_path / "models")
    assert check_bundle(tmp_path / "bundle", write=False).passed  # found from the bundle (path_from_bundle)
    (tmp_path / "models" / "mine").rename(tmp_path / "models" / "moved")
    with pytest.raises(SourceModelError, match="the source was the local folder models/mine .* pass --reference"):
        check_bundle(tmp_path / "bundle", write=False)  # not a hub id, even though it looks like one


def _fake_hub_cache(root: Path, model: Path, monkeypatch) -> Path:
    """huggingface_hub's cache layout for `static-edge-tests/tiny`: snapshots/<commit>/ and refs/main."""
    import huggingface_hub.constants

    repo = root / "models--static-edge-tests--tiny"
    shutil.copytree(model, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return repo


@pytest.mark.parametrize("revision", [None, "main", COMMIT])
def test_a_hub_revision_is_recorded_as_the_commit_it_resolved_to(st_wordpiece, tmp_path, monkeypatch, revision):
    """A hub revision is recorded as the commit it resolved to."""
    _fake_hub_cache(tmp_path / "hub", st_wordpiece, monkeypatch)
    out = export("static-edge-tests/tiny", tmp_path / "b", ExportOptions(dims=8), revision=revision)
    source = read_manifest(out).source
    assert source["model"] == "static-edge-tests/tiny"
    assert source["revision"] == COMMIT and source["requested_revision"] == revision


def test_check_compares_with_the_recorded_commit_after_the_branch_moved(st_wordpiece, tmp_path, monkeypatch):
    """Check compares with the recorded commit after the branch moved."""
    repo = _fake_hub_cache(tmp_path / "hub", st_wordpiece, monkeypatch)
    out = export("static-edge-tests/tiny", tmp_path / "b", ExportOptions(dims=8), revision="main")
    newer = shutil.copytree(repo / "snapshots" / COMMIT, repo / "snapshots" / NEWER_COMMIT)
    tensors = load_file(str(newer / "model.safetensors"))
    save_file({"embedding.weight": -tensors["embedding.weight"]}, str(newer / "model.safetensors"))
    (repo / "refs" / "main").write_text(NEWER_COMMIT)
    report = check_bundle(out, write=False)
    assert report.passed and not report.notes  # the exported commit, not the moved branch


def test_check_says_when_the_source_changed_since_export(st_wordpiece, tmp_path, capsys):
    """Check says when the source changed since export."""
    model = shutil.copytree(st_wordpiece, tmp_path / "model")
    out = export(model, tmp_path / "b", ExportOptions(dims=8))
    recorded = read_manifest(out).source["sha256"]
    tensors = load_file(str(model / "model.safetensors"))
    save_file({"embedding.weight": tensors["embedding.weight"] * 1.5}, str(model / "model.safetensors"))
    now = sha256_file(model / "model.safetensors")
    assert main(["check", str(out)]) == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert f"no longer matches the hash recorded at export (recorded {recorded}, now {now})" in printed
    rows = {row["pair"]: row for row in read_manifest(out).parity["rows"]}
    assert rows["source weights vs the sha256 recorded at export"]["passed"] is False


def test_check_against_another_reference_notes_the_hash_but_does_not_fail_for_it(st_wordpiece, tmp_path):
    """Check against another reference notes the hash but does not fail for it."""
    out = export(st_wordpiece, tmp_path / "b", ExportOptions(dims=8))
    other = shutil.copytree(st_wordpiece, tmp_path / "same-model-other-file")
    tensors = load_file(str(other / "model.safetensors"))
    save_file(
        {"embedding.weight": tensors["embedding.weight"], "unused": np.zeros(1)}, str(other / "model.safetensors")
    )
    report = check_bundle(out, reference=str(other), write=False)
    assert report.passed and any("no longer matches the hash recorded at export" in note for note in report.notes)
    assert json.dumps(report.to_dict())  # the report stays JSON
