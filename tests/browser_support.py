"""What the browser tests share: Debian's Chromium, driven as the browser benchmarks drive it, and the npm packages
they need."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.measure.chromium import CHROMIUM, CHROMIUM_ARGS
from static_edge.runtimes.web_page import node_modules

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "require_browser_tools"]


def require_browser_tools() -> None:
    """Skip (fail on CI) when Chromium or the npm packages the browser tests need are missing."""
    missing = [] if Path(CHROMIUM).exists() else [f"{CHROMIUM} (apt-get install chromium)"]
    try:
        node_modules()
    except FileNotFoundError as err:
        missing.append(str(err))
    if missing and os.environ.get("CI"):
        pytest.fail(f"browser tests need: {missing}")  # CI installs these; their absence is a failure there
    if missing:
        pytest.skip(f"browser tests need: {missing}")
