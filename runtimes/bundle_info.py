"""`static-edge info BUNDLE`: what a bundle holds and which variant to use where.

Each variant with its file size, its speed measured now on this machine (onnxruntime, the sample corpus), and
which target loads it by default (Python on a CPU: the fastest; a browser: the smallest), then the recorded
parity and quality reports and the bundle digest.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from static_edge.runtimes.bundle import VARIANT_FILES, bundle_digest, read_manifest, resolve_variant
from static_edge.runtimes.console import console


@dataclass
class VariantInfo:
    """One variant as `info` reports it."""

    variant: str
    file: str
    bytes: int
    sentences_per_second: float | None
    default_for: list[str]


def variant_infos(bundle: Path, measure: bool = True) -> list[VariantInfo]:
    """Every variant the bundle holds; `measure` times each on the sample corpus (about a second each)."""
    from static_edge.runtimes import load
    from static_edge.runtimes.samples import sample_corpus
    from static_edge.runtimes.speed import sentences_per_second

    manifest = read_manifest(bundle)
    cpu = resolve_variant(manifest, None)
    texts = sample_corpus() * 5
    infos = []
    for variant, size in manifest.variant_bytes().items():
        speed = None
        if measure:
            model = load(bundle, variant=variant)
            speed = sentences_per_second(model.encode, texts, repeats=3)
        targets = [
            t for t, chosen in (("Python, CPU", cpu), ("browser", manifest.default_variant)) if chosen == variant
        ]
        infos.append(VariantInfo(variant, VARIANT_FILES[variant], size, speed, targets))
    return infos


def add_info_arguments(p: argparse.ArgumentParser) -> None:
    """The `info` command's options."""
    p.add_argument("bundle", type=Path)
    p.add_argument("--no-speed", action="store_true", help="do not time the variants (about a second each)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def run_info(args: argparse.Namespace) -> int:
    """Print the bundle's variants, defaults, reports and digest."""
    manifest = read_manifest(args.bundle)
    infos = variant_infos(args.bundle, measure=not args.no_speed)
    facts: dict[str, Any] = {
        "bundle": str(args.bundle),
        "digest": bundle_digest(args.bundle),
        "source": manifest.source.get("model"),
        "dims": manifest.dims,
        "vocab_size": manifest.vocab_size,
        "normalize": manifest.normalize,
        "variants": [asdict(info) for info in infos],
        "parity": manifest.parity,
        "quality": manifest.quality,
    }
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    _print_tables(facts, infos)
    return 0


def _print_tables(facts: dict[str, Any], infos: list[VariantInfo]) -> None:
    from rich.table import Table

    console.print(f"{facts['bundle']}: {facts['dims']} dims, {facts['vocab_size']:,} tokens, from {facts['source']}")
    table = Table(title="variants (sentences/s: onnxruntime, the sample corpus, this machine, now)")
    for column in ("variant", "file", "size", "sentences/s", "default for"):
        table.add_column(column, justify="right" if column in ("size", "sentences/s") else "left")
    for info in infos:
        speed = "-" if info.sentences_per_second is None else f"{info.sentences_per_second:,.0f}"
        table.add_row(info.variant, info.file, f"{info.bytes / 1e6:.2f} MB", speed, ", ".join(info.default_for))
    console.print(table)
    parity = facts["parity"]
    verdict = "not measured (static-edge check)" if not parity else (
        f"{'passed' if parity.get('passed') else 'FAILED'} ({parity.get('checked_at')})"
    )  # fmt: skip
    console.print(f"parity: {verdict}")
    quality = facts["quality"]
    console.print(f"quality: {json.dumps(quality) if quality else 'not recorded (static-edge eval BUNDLE ...)'}")
    console.print(f"bundle digest (sha256): {facts['digest']}")
