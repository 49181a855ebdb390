"""`static-edge encode` and `static-edge web`: thin shells over `load` and `write_web_page`."""

from __future__ import annotations

import argparse
from pathlib import Path

from static_edge.runtimes import BACKENDS
from static_edge.runtimes.bundle import CPU_VARIANT_ORDER, VARIANT_FILES
from static_edge.runtimes.console import console, done
from static_edge.runtimes.corpus_readers import FILE_CHUNK_SIZE, INPUT_FORMATS, CorpusReader
from static_edge.runtimes.errors import InputError
from static_edge.runtimes.vector_precisions import PRECISIONS
from static_edge.runtimes.web_corpus import BINARY_ABOVE_BYTES, VECTOR_KINDS


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """How `encode` and `serve` load the bundle: `--variant`, `--backend`, `--sha256` (the arguments of `load`)."""
    p.add_argument(
        "--variant",
        choices=list(VARIANT_FILES),
        help=f"bundle variant (default: the first the bundle holds of {', '.join(CPU_VARIANT_ORDER)}, fastest first "
        "on a CPU; static-edge info BUNDLE measures each)",
    )
    p.add_argument("--backend", choices=BACKENDS, default=BACKENDS[0])
    p.add_argument("--sha256", metavar="DIGEST", help="refuse the bundle unless its digest is DIGEST (see SECURITY.md)")


def add_encode_arguments(p: argparse.ArgumentParser) -> None:
    """`static-edge encode BUNDLE TEXT...` (print vectors), or with -o a corpus file to a vectors file."""
    p.add_argument("bundle", type=Path)
    p.add_argument(
        "texts", nargs="+", metavar="TEXT", help="texts whose vectors to print; with -o: one INPUT corpus file instead"
    )
    add_model_arguments(p)
    add_encode_file_arguments(p)


def run_encode(args: argparse.Namespace) -> int:
    """Print the first dims of each text's vector, or with -o encode a corpus file (`run_encode_file`)."""
    import numpy as np

    from static_edge.runtimes import load

    if args.output is not None:
        return run_encode_file(args)
    model = load(args.bundle, variant=args.variant, backend=args.backend, sha256=args.sha256)
    vectors = model.encode(args.texts)
    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    for text, vector in zip(args.texts, vectors, strict=True):
        console.print(f"{text!r}: dims={len(vector)} {vector[:8]} ...")
    return 0


def add_encode_file_arguments(p: argparse.ArgumentParser) -> None:
    """`static-edge encode BUNDLE INPUT -o OUTPUT`: a corpus file to a vectors file."""
    f = p.add_argument_group(
        "encode a corpus file (static-edge encode BUNDLE INPUT -o OUTPUT)",
        "INPUT is a file, or - for standard input (a named pipe or /dev/stdin works too): text, JSONL or CSV "
        "arrive as they are written (no --resume); Parquet must be a file. A .gz suffix is gunzipped.",
    )
    f.add_argument("-o", "--output", type=Path, help="vectors file to write: .parquet, .npy or .jsonl")
    f.add_argument("--input-format", choices=list(INPUT_FORMATS), help="(default: from the suffix; - is text)")
    f.add_argument("--column", help="text column of JSONL, CSV or Parquet input (default: text; with --no-header: 0)")
    f.add_argument("--id-column", help="column whose values become the output ids (default: the row number)")
    f.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="the CSV has no line of column names: --column and --id-column are numbers counted from 0",
    )
    f.add_argument("--precision", choices=list(PRECISIONS), default="float32")
    f.add_argument("--batch-size", type=int, default=1024, help="texts per onnxruntime run")
    f.add_argument(
        "--chunk-size", type=int, default=FILE_CHUNK_SIZE, help="texts read, tokenized and written at a time"
    )
    f.add_argument(
        "--threads",
        type=int,
        default=0,
        help="cores for tokenizing and embedding (batches embedded at once); 0: every core this process may use",
    )
    f.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run after its last complete chunk (the input must be the same bytes: its "
        "sha256 is checked; not for a pipe)",
    )
    f.add_argument("--force", action="store_true", help="replace an existing output file")
    f.add_argument("--quiet", action="store_true", help="no progress bar")


def run_encode_file(args: argparse.Namespace) -> int:
    """`static-edge encode BUNDLE INPUT -o OUTPUT`: stream the corpus into the vectors file (`encode_file`)."""
    from static_edge.runtimes import load
    from static_edge.runtimes.encode_files import encode_file
    from static_edge.runtimes.tokenization import use_threads

    if len(args.texts) != 1:
        raise InputError(f"with -o, give one INPUT file (got {len(args.texts)} arguments)")
    if args.threads < 0:
        raise InputError(f"--threads must be 0 (all cores) or more, got {args.threads}")
    use_threads(args.threads)
    reader = CorpusReader(Path(args.texts[0]), args.input_format, args.column, args.id_column, args.header)
    model = load(args.bundle, variant=args.variant, backend=args.backend, sha256=args.sha256, threads=args.threads)
    summary = encode_file(
        model, reader, args.output, precision=args.precision, batch_size=args.batch_size,
        chunk_size=args.chunk_size, resume=args.resume, overwrite=args.force, show_progress=not args.quiet,
    )  # fmt: skip
    resumed = f", {summary.resumed_rows:,} of them from the interrupted run" if summary.resumed_rows else ""
    done("wrote", f"{summary.output} ({summary.rows:,} vectors{resumed}; {summary.texts_per_second:,.0f} texts/s)")
    return 0


def add_web_arguments(p: argparse.ArgumentParser) -> None:
    """`static-edge web BUNDLE [--corpus FILE] [--vectors KIND] [--serve]`."""
    p.add_argument("bundle", type=Path)
    p.add_argument(
        "--corpus",
        type=Path,
        help="the passages to search, read as `encode -o` reads its input: a text file with one a line, or the "
        "'text' column of JSONL, CSV or Parquet; .gz is unpacked (default: the sample corpus)",
    )
    p.add_argument("--serve", action="store_true", help="serve the bundle on 127.0.0.1 after writing the page")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument(
        "--ort", action="store_true", help="also vendor onnxruntime-web for ?engine=ort (needs npm ci in runtimes/web)"
    )
    p.add_argument(
        "--vectors",
        choices=VECTOR_KINDS,
        default=VECTOR_KINDS[0],
        help="how the page ships the corpus vectors: int8, binary (sign bits ranked first, int8 rescores) "
        f"or auto (binary above {BINARY_ABOVE_BYTES // 2**20} MiB of int8 vectors)",
    )


def run_web(args: argparse.Namespace) -> int:
    """Write BUNDLE/web/ with the corpus encoded (`write_web_page`), then with --serve preview it on 127.0.0.1."""
    corpus = None
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be between 0 and 65535, got {args.port}")
    if args.corpus is not None:
        # the reader `encode -o` uses: the same formats (text, JSONL, CSV, Parquet, gzipped), lines and errors
        reader = CorpusReader(args.corpus)
        corpus = [text for _, texts in reader.chunks(FILE_CHUNK_SIZE) for text in texts]
    write_page(args.bundle, corpus, args.ort, hint=not args.serve, vectors=args.vectors)
    if args.serve:
        _serve(args.bundle, args.port)
    return 0


def write_page(
    bundle: Path, corpus: list[str] | None, ort: bool = False, hint: bool = True, vectors: str = "auto"
) -> None:
    """Write BUNDLE/web/ and, with `hint`, say how to serve it (a served page prints its own address)."""
    from static_edge.runtimes.web_page import write_web_page

    web = write_web_page(bundle, corpus, ort=ort, vectors=vectors)
    done("wrote", f"{web}/index.html")
    if hint:
        console.print(f"serve it with: static-edge web {bundle} --serve, then open http://127.0.0.1:8000/web/")


def _serve(bundle: Path, port: int) -> None:
    from static_edge.runtimes.web_server import serve_folder

    with serve_folder(bundle, port) as server:
        console.print(f"serving http://127.0.0.1:{server.server_address[1]}/web/ (Ctrl+C stops)")
        server.serve_forever()
