"""Tables the CLI prints: bundle sizes and parity reports."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from static_edge.exporter.check import ParityReport
from static_edge.runtimes.bundle import VARIANT_FILES, bundle_digest, read_manifest
from static_edge.runtimes.variants import REFERENCE


def human_bytes(size: float) -> str:
    """A byte count in decimal units (B, KB, MB, GB)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def print_bundle_sizes(bundle: Path, console: Console) -> None:
    """A table of each variant's file and size, relative to the reference's."""
    manifest = read_manifest(bundle)
    sizes = manifest.variant_bytes()
    table = Table(title=f"{bundle}: {manifest.vocab_size} tokens x {manifest.dims} dims")
    table.add_column("variant")
    table.add_column("file")
    table.add_column("size", justify="right")
    table.add_column(f"vs {REFERENCE.name}", justify="right")
    for variant, size in sizes.items():
        share = f"{100 * size / sizes[REFERENCE.name]:.1f}%"
        table.add_row(variant, VARIANT_FILES[variant], human_bytes(size), share)
    console.print(table)


def print_parity(report: ParityReport, console: Console) -> None:
    """The parity report as a table of rows with their verdicts, then its notes and the overall verdict."""
    table = Table(title=f"parity on {report.texts} texts; reference: {report.reference}")
    table.add_column("pair")
    table.add_column("metric")
    table.add_column("measured", justify="right")
    table.add_column("tolerance", justify="right")
    table.add_column("")
    for row in report.rows:
        sign = "<=" if row.at_most else ">="
        verdict = Text("pass", style="green") if row.passed else Text("FAIL", style="red")
        measured = f"{row.value:.6f}" if "cosine" in row.metric else f"{row.value:.3g}"
        table.add_row(row.pair, row.metric, measured, f"{sign} {row.tolerance:g}", verdict)
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(
        Text("all tolerances met", style="green") if report.passed else Text("tolerances missed", style="red")
    )


def print_digest(bundle: Path, console: Console) -> None:
    """The bundle digest, with how to pin it (SECURITY.md)."""
    digest = bundle_digest(bundle)
    console.print(f"bundle digest (sha256): {digest}", soft_wrap=True)
    pin = f"pin it: load(BUNDLE, sha256={digest!r}), or static-edge encode BUNDLE --sha256 {digest}"
    console.print(pin, soft_wrap=True)
