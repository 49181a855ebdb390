"""One rule for each folder kind: a saved Sentence Transformers model, and a folder holding a bundle manifest."""

from __future__ import annotations

from static_edge.runtimes.model_folders import holds_manifest, is_sentence_transformers_folder


def test_folder_kinds_are_told_apart(st_wordpiece, st_bundle, tmp_path):
    """Folder kinds are told apart."""
    assert is_sentence_transformers_folder(st_wordpiece) and not holds_manifest(st_wordpiece)
    assert holds_manifest(st_bundle) and not is_sentence_transformers_folder(st_bundle)
    assert not holds_manifest(tmp_path) and not is_sentence_transformers_folder(tmp_path)
    assert not holds_manifest(tmp_path / "missing")


def test_a_broken_manifest_still_marks_a_bundle_folder(tmp_path):
    """A broken manifest still marks a bundle folder."""
    (tmp_path / "static_edge.json").write_text("{not json", encoding="utf-8")
    assert holds_manifest(tmp_path)
