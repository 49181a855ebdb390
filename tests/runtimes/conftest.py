"""Fixtures of the runtime tests: bundles several test modules read, and a fresh copy for a test that edits one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from static_edge.exporter import ExportOptions, export


@pytest.fixture(scope="session")
def small_bundle(st_wordpiece, tmp_path_factory) -> Path:
    """The WordPiece model exported at 16 dims with fp32 and int8 variants; read only (edit `bundle` instead)."""
    return export(st_wordpiece, tmp_path_factory.mktemp("small") / "b", ExportOptions(dims=16, int8=True))


@pytest.fixture
def bundle(small_bundle, tmp_path) -> Path:
    """A copy of `small_bundle` that the test may edit."""
    return shutil.copytree(small_bundle, tmp_path / "b")


@pytest.fixture(scope="session")
def m2v_bundle(m2v_model, tmp_path_factory) -> Path:
    """The model2vec model (unknown-token masking, max_length 512, normalized) exported with every variant."""
    options = ExportOptions(int8=True, fp16=True, int4=True, int2=True)
    return export(m2v_model, tmp_path_factory.mktemp("m2v-bundle") / "m2v", options)
