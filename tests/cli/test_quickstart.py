"""The quickstart reuses what an earlier run made while it is still valid, so a second run takes seconds."""

from __future__ import annotations

import json

import pytest

from static_edge.exporter import ExportOptions, export
from static_edge.quickstart import _bundle_is_current, _teacher_speed
from static_edge.runtimes.console import console


def test_a_bundle_is_reused_only_while_it_matches_its_model_and_options(st_wordpiece, tmp_path):
    """A bundle is reused only while it matches its model and options."""
    options = ExportOptions(dims=32, int8=True, int4=True)
    bundle = export(st_wordpiece, tmp_path / "bundle", options)
    assert _bundle_is_current(bundle, st_wordpiece, options)
    assert not _bundle_is_current(bundle, st_wordpiece, ExportOptions(dims=64, int8=True, int4=True))
    assert not _bundle_is_current(bundle, st_wordpiece, ExportOptions(dims=32, int8=True))
    assert not _bundle_is_current(tmp_path / "missing", st_wordpiece, options)
    tokenizer = bundle / "tokenizer.json"
    tokenizer.write_bytes(tokenizer.read_bytes().replace(b'"[UNK]"', b'"[UNX]"', 1))
    assert not _bundle_is_current(bundle, st_wordpiece, options), "a file that no longer verifies"


def test_the_teacher_speed_is_measured_once(tmp_path, monkeypatch):
    """The teacher speed is measured once."""
    texts = ["a", "b"]
    cache = tmp_path / "teacher_speed.json"
    key = {"teacher": "/teacher", "texts": 2}
    cache.write_text(json.dumps({"key": key, "sentences_per_second": 123.0, "measured_at": "then"}))
    import sentence_transformers

    def no_torch(*args, **kwargs):
        raise AssertionError("the teacher was loaded although its speed was cached")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", no_torch)
    assert _teacher_speed(tmp_path, "/teacher", texts, False, console) == 123.0
    with pytest.raises(AssertionError, match="was loaded"):
        _teacher_speed(tmp_path, "/teacher", texts, True, console)  # --fresh measures again
    with pytest.raises(AssertionError, match="was loaded"):
        _teacher_speed(tmp_path, "/other-teacher", texts, False, console)  # another teacher is another speed
