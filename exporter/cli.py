"""The `static-edge` command line: a thin shell over functions callable from Python.

Subcommands that need torch, Streamlit or the benchmarks import them inside the subcommand, so
`static-edge export` and `static-edge check` never load them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

Handler = Callable[[argparse.Namespace], int]


def _export(args: argparse.Namespace) -> int:
    from exporter.export import ExportOptions, export
    from exporter.report import print_bundle_sizes

    output = args.output or Path(f"{Path(str(args.model).rstrip('/')).name}-static-edge")
    options = ExportOptions(
        dims=args.dims, int8=args.int8, fp16=args.fp16, normalize=args.normalize, overwrite=args.force
    )
    with console.status("exporting") as status:
        bundle = export(args.model, output, options, revision=args.revision, progress=status.update)
    console.print(f"[green]wrote[/green] {bundle}")
    print_bundle_sizes(bundle, console)
    if args.web:
        _write_page(bundle, None)
    if args.check:
        return _run_check(bundle, None)
    return 0


def _check(args: argparse.Namespace) -> int:
    return _run_check(args.bundle, args.reference, write=not args.no_write)


def _run_check(bundle: Path, reference: str | None, write: bool = True) -> int:
    from exporter.check import check_bundle
    from exporter.report import print_parity

    with console.status("running the parity set through the source model, onnxruntime and numpy"):
        report = check_bundle(bundle, reference=reference, write=write)
    print_parity(report, console)
    return 0 if report.passed else 1


def _web(args: argparse.Namespace) -> int:
    corpus = None
    if args.corpus is not None:
        if not args.corpus.is_file():
            raise FileNotFoundError(f"corpus file not found: {args.corpus}")
        corpus = args.corpus.read_text(encoding="utf-8").splitlines()
    _write_page(args.bundle, corpus)
    if args.serve:
        _serve(args.bundle, args.port)
    return 0


def _write_page(bundle: Path, corpus: list[str] | None) -> None:
    from runtimes.web_page import write_web_page

    web = write_web_page(bundle, corpus)
    console.print(f"[green]wrote[/green] {web}/index.html")
    console.print(
        f"serve it with: python -m http.server -b 127.0.0.1 -d {bundle} 8000, then open http://127.0.0.1:8000/web/"
    )


def _serve(bundle: Path, port: int) -> None:
    from runtimes.web_page import serve_folder

    with serve_folder(bundle, port) as server:
        console.print(f"serving http://127.0.0.1:{server.server_address[1]}/web/ (Ctrl+C stops)")
        server.serve_forever()


def _encode(args: argparse.Namespace) -> int:
    import numpy as np

    from runtimes import load

    model = load(args.bundle, variant=args.variant, backend=args.backend)
    vectors = model.encode(args.texts)
    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    for text, vector in zip(args.texts, vectors, strict=True):
        console.print(f"{text!r}: dims={len(vector)} {vector[:8]} ...")
    return 0


def _quickstart(args: argparse.Namespace) -> int:
    from exporter.quickstart import run_quickstart

    return run_quickstart(Path(args.workdir), console)


def _lazy(module: str, function: str) -> Handler:
    """A handler that imports its implementation only when its subcommand runs."""

    def handler(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), function)(args)

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="static-edge",
        description="Train static embedding models, export them to small ONNX bundles, check and run them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("export", help="export a static model to an ONNX bundle")
    p.add_argument("model", help="model folder (Sentence Transformers StaticEmbedding or model2vec) or hub id")
    p.add_argument("-o", "--output", type=Path, help="bundle folder to write (default: ./<model>-static-edge)")
    p.add_argument("--dims", type=int, help="keep the first N dimensions (Matryoshka slice)")
    p.add_argument("--int8", action="store_true", help="also write the int8 table (one scale per row)")
    p.add_argument("--fp16", action="store_true", help="also write the float16 table")
    norm = p.add_mutually_exclusive_group()
    norm.add_argument(
        "--normalize",
        dest="normalize",
        action="store_true",
        default=None,
        help="L2-normalize sentence_embedding in the graph",
    )
    norm.add_argument(
        "--no-normalize",
        dest="normalize",
        action="store_false",
        help="never normalize (default: as the source model does)",
    )
    p.add_argument("--revision", help="hub revision (branch, tag or commit)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--check", action="store_true", help="run `check` on the new bundle")
    p.add_argument("--web", action="store_true", help="also write the browser search page (BUNDLE/web/)")
    p.set_defaults(handler=_export)

    p = sub.add_parser("web", help="write a browser search page next to a bundle (onnxruntime-web, no network)")
    p.add_argument("bundle", type=Path)
    p.add_argument("--corpus", type=Path, help="text file, one sentence a line (default: the sample corpus)")
    p.add_argument("--serve", action="store_true", help="serve the bundle on 127.0.0.1 after writing the page")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(handler=_web)

    p = sub.add_parser("check", help="parity report of a bundle against its source model")
    p.add_argument("bundle", type=Path)
    p.add_argument("--reference", help="source model to compare with (default: the manifest's source)")
    p.add_argument("--no-write", action="store_true", help="do not store the report in the manifest")
    p.set_defaults(handler=_check)

    p = sub.add_parser("encode", help="print the vectors of a few texts")
    p.add_argument("bundle", type=Path)
    p.add_argument("texts", nargs="+")
    p.add_argument("--variant", choices=["fp32", "fp16", "int8"])
    p.add_argument("--backend", choices=["onnxruntime", "numpy"], default="onnxruntime")
    p.set_defaults(handler=_encode)

    p = sub.add_parser("quickstart", help="distill a default model offline, export, check and time it")
    p.add_argument("--workdir", default="quickstart", help="where the model and bundle go")
    p.set_defaults(handler=_quickstart)

    for name, (module, summary) in EXTENSIONS.items():
        p = sub.add_parser(name, help=summary)
        getattr(importlib.import_module(module), f"add_{name}_arguments")(p)
        p.set_defaults(handler=_lazy(module, f"run_{name}"))
    return parser


# Subcommands that live beside the exporter: name -> (module, help). The module defines
# `add_<name>_arguments(parser)` and `run_<name>(args) -> int`, and imports torch, Streamlit and the
# like only inside `run_<name>`.
EXTENSIONS: dict[str, tuple[str, str]] = {
    "distill": ("trainer.cli", "distill a static model from a transformer teacher (model2vec)"),
    "train": ("trainer.cli", "contrastive Matryoshka training (Sentence Transformers' static recipe)"),
    "eval": ("trainer.cli", "STS Spearman and retrieval nDCG@10 per dimension, for a model or a bundle"),
    "bench": ("benchmarks.cli", "encode throughput vs Sentence Transformers, model2vec and transformers"),
    "demo": ("demo_app.cli", "start the Streamlit demo on 127.0.0.1"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `static-edge` console script."""
    from exporter.export import ExportError
    from exporter.sources import SourceModelError
    from runtimes.bundle import BundleError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ExportError, SourceModelError, BundleError, FileNotFoundError, ValueError, TypeError) as err:
        err_console.print(f"[red]error:[/red] {err}")
        return 2
    except ImportError as err:
        extra = {"distill": "train", "train": "train", "eval": "train", "bench": "bench", "demo": "demo"}
        hint = f"; install it with pip install 'static-edge[{extra.get(args.command, 'all')}]'"
        err_console.print(f"[red]error:[/red] {err}{hint}")
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
