"""Texts shipped with the package: a small corpus for demos, quickstart timings and tests."""

from __future__ import annotations

from importlib import resources


def sample_corpus() -> list[str]:
    """About 200 English sentences on twenty everyday topics, written for static-edge."""
    text = resources.files("static_edge.runtimes").joinpath("data/sample_corpus.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
