"""`static-edge encode` and `static-edge web`: thin shells over `load` and `write_web_page`."""

from __future__ import annotations

import argparse
from pathlib import Path

from static_edge.runtimes.console import console, done
from static_edge.runtimes.errors import InputError


def add_encode_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", type=Path)
    p.add_argument("texts", nargs="+")
    p.add_argument("--variant", choices=["fp32", "fp16", "int8"], help="bundle variant (default: the bundle's)")
    p.add_argument("--backend", choices=["onnxruntime", "numpy"], default="onnxruntime")


def run_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from static_edge.runtimes import load

    model = load(args.bundle, variant=args.variant, backend=args.backend)
    vectors = model.encode(args.texts)
    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    for text, vector in zip(args.texts, vectors, strict=True):
        console.print(f"{text!r}: dims={len(vector)} {vector[:8]} ...")
    return 0


def add_web_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", type=Path)
    p.add_argument("--corpus", type=Path, help="text file, one sentence a line (default: the sample corpus)")
    p.add_argument("--serve", action="store_true", help="serve the bundle on 127.0.0.1 after writing the page")
    p.add_argument("--port", type=int, default=8000)


def run_web(args: argparse.Namespace) -> int:
    corpus = None
    if args.corpus is not None:
        if not args.corpus.is_file():
            raise InputError(f"corpus file not found: {args.corpus}")
        corpus = args.corpus.read_text(encoding="utf-8").splitlines()
    write_page(args.bundle, corpus)
    if args.serve:
        _serve(args.bundle, args.port)
    return 0


def write_page(bundle: Path, corpus: list[str] | None) -> None:
    """Write BUNDLE/web/ and say how to open it."""
    from static_edge.runtimes.web_page import write_web_page

    web = write_web_page(bundle, corpus)
    done("wrote", f"{web}/index.html")
    console.print(f"serve it with: static-edge web {bundle} --serve, then open http://127.0.0.1:8000/web/")


def _serve(bundle: Path, port: int) -> None:
    from static_edge.runtimes.web_page import serve_folder

    with serve_folder(bundle, port) as server:
        console.print(f"serving http://127.0.0.1:{server.server_address[1]}/web/ (Ctrl+C stops)")
        server.serve_forever()
