"""Fixtures of the runtime tests: one small int8 bundle, and a fresh copy of it for each test that edits a bundle."""

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
