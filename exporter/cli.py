"""`static-edge export` and `static-edge check`: thin shells over `export` and `check_bundle`."""

from __future__ import annotations

import argparse
from pathlib import Path

from static_edge.runtimes.console import console, done
from static_edge.runtimes.variants import REFERENCE, VARIANTS


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    """The `export` command's options."""
    p.add_argument("model", help="model folder (Sentence Transformers StaticEmbedding or model2vec) or hub id")
    p.add_argument("-o", "--output", type=Path, help="bundle folder to write (default: ./<model>-static-edge)")
    p.add_argument("--dims", type=int, help="keep the first N dimensions (Matryoshka slice; default: all)")
    for variant in VARIANTS.values():
        if variant is not REFERENCE:  # always written
            p.add_argument(f"--{variant.name}", action="store_true", help=f"also write the {variant.summary}")
    p.add_argument(
        "--vocab-from",
        type=Path,
        metavar="CORPUS",
        help="keep only the tokens this corpus uses (UTF-8 text file, one text per line)",
    )
    p.add_argument("--max-vocab", type=int, metavar="N", help="with --vocab-from: keep the N most frequent tokens")
    norm = p.add_mutually_exclusive_group()
    norm.add_argument(
        "--normalize", dest="normalize", action="store_true", default=None, help="L2-normalize in the graph"
    )
    norm.add_argument(
        "--no-normalize", dest="normalize", action="store_false", help="never normalize (default: as the source)"
    )
    p.add_argument("--revision", help="hub revision (branch, tag or commit) of a hub model")
    p.add_argument("--force", action="store_true", help="replace an existing bundle at the output folder")
    p.add_argument("--check", action="store_true", help="run `check` on the new bundle")
    p.add_argument("--web", action="store_true", help="also write the browser search page (BUNDLE/web/)")


def run_export(args: argparse.Namespace) -> int:
    """Export the model, print the sizes and digest, and (`--web`, `--check`) write the page and run the check."""
    from static_edge.exporter.bundle_export import ExportOptions, export
    from static_edge.exporter.report import print_bundle_sizes, print_digest

    output = args.output or Path(f"{Path(str(args.model).rstrip('/')).name}-static-edge")
    options = ExportOptions(
        dims=args.dims,
        extra_variants=[name for name in VARIANTS if getattr(args, name, False)],
        vocab_from=args.vocab_from,
        max_vocab=args.max_vocab,
        normalize=args.normalize,
        overwrite=args.force,
    )
    with console.status("exporting") as status:
        bundle = export(args.model, output, options, revision=args.revision, progress=status.update)
    done("wrote", bundle)
    print_bundle_sizes(bundle, console)
    print_digest(bundle, console)
    if args.web:
        from static_edge.runtimes.cli import write_page

        write_page(bundle, None)
    if args.check:
        return run_check_report(bundle, None)
    return 0


def add_check_arguments(p: argparse.ArgumentParser) -> None:
    """The `check` command's options."""
    p.add_argument("bundle", type=Path)
    p.add_argument("--reference", help="source model to compare with (default: the manifest's source)")
    p.add_argument("--no-write", action="store_true", help="do not store the report in the manifest")


def run_check(args: argparse.Namespace) -> int:
    """Run `check` on the bundle; 0 when every tolerance is met."""
    return run_check_report(args.bundle, args.reference, write=not args.no_write)


def run_check_report(bundle: Path, reference: str | None, write: bool = True) -> int:
    """Run and print the parity report; 0 when every tolerance is met."""
    from static_edge.exporter.check import check_bundle
    from static_edge.exporter.report import print_digest, print_parity

    with console.status("running the parity set through the source model, onnxruntime and numpy"):
        report = check_bundle(bundle, reference=reference, write=write)
    print_parity(report, console)
    print_digest(bundle, console)
    return 0 if report.passed else 1
