"""Regenerate every table and plot in benchmarks/results/ with one command, or smoke-run every measurement.

    python -m benchmarks.run_all [--data ../shared/data] [--train] [--only speed,server] [--skip browser]
    python -m benchmarks.run_all --quick [--out /tmp/smoke]

A full run first makes what the tables measure, when missing: the English recipe at 256 and at 768 dims
(`--train` retrains them, about 5 minutes each here), the quickstart model and bundle (`static-edge
quickstart`), and the quickstart model exported at its full 384 dims. Then it runs every measurement in NAMES,
in order, each as `python -m benchmarks.measure.MODULE ...`; one whose tool is missing here (wrk, Chromium,
taskset, GNU time, the tokenizer candidates' venv) is skipped and says so. It goes on past a failed measurement
and exits non-zero at the end if any failed.

`--quick` runs every measurement once at toy sizes on a small random model built in seconds (no recipe, no
teacher download), writing into a temporary folder (or --out), never into benchmarks/results: a check that each
still runs end to end, not numbers to publish.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks import common
from benchmarks.measure.corpus import speed_text_files
from static_edge.runtimes.model_folders import is_sentence_transformers_folder


@dataclass
class Inputs:
    """What the measurements run on: the same fields in a full run and, smaller, in a quick one."""

    out: Path
    data: Path
    cache: Path
    quick: bool
    speed_bundle: Path
    """the speed table's bundle (the English recipe's 256-dim int8 bundle)"""
    bundle: Path
    """most tables' bundle (the quickstart's 256-dim bundle: fp32, fp16, int8, int4)"""
    wide_bundle: Path
    """the quickstart model exported at its full 384 dims, fp32 (the binary-search table)"""
    grid_model: Path
    """the quality grid's model (the English recipe at 768 dims)"""
    quickstart_model: Path
    tokenizer_venv: Path | None


QUICKSTART_NOTE = (
    "the static-edge quickstart model: all-MiniLM-L6-v2 distilled with model2vec, PCA to 384 dims; made by "
    "static_edge.trainer.distill.distill(default_teacher(), OUT, pca_dims=384), as 'static-edge quickstart' does"
)


def speed_options(r: Inputs) -> list[str]:
    """The speed table: MiniLM and mpnet baselines (both also exported to ONNX) on STS-B dev and SciFact texts;
    quick: MiniLM with torch only, on the STS-B sentences, batch sizes 1 and 32, one timed run."""
    from static_edge.trainer.distill import default_teacher

    files = speed_text_files(r.data, r.cache / "texts")[: 1 if r.quick else None]
    options = [str(r.speed_bundle), "-o", str(r.out), "--cache", str(r.cache)]
    options += [
        *(w for path in files for w in ("--texts", str(path))),
        "--baseline",
        f"all-MiniLM-L6-v2={default_teacher()}",
    ]
    if r.quick:
        return [*options, "--batch-sizes", "1,32", "--repeats", "1", "--min-seconds", "0.05"]
    from static_edge.trainer.teachers import mpnet_teacher

    return [*options, "--baseline", f"all-mpnet-base-v2={mpnet_teacher(r.cache)}", "--transformer-onnx"]


SIZES = {
    "binary_recall": [
        "--dims",
        "64,128,256,384",
        "--model-note",
        "(fp32, 384 dims: the quickstart model exported whole; smaller dims are Matryoshka slices)",
    ],
    "server": ["--seconds", "4"],
    "browser_corpus": ["--kinds", "auto", "int8", "binary"],
}
"""Options of a full run beyond each measurement's defaults (as the committed tables were made)."""
QUICK_SIZES = {
    "quality_grid": ["--dims", "32,64", "--prune-dims", "64"],
    "binary_recall": ["--dims", "32,64"],
    "long_text_parity": ["--lengths", "1000,4000"],
    "encode_memory": ["--sizes", "1000,5000"],
    "long_text_memory": ["--sizes", "2000"],
    "encode_file_scale": ["--lines", "5000"],
    "corpus_scale": ["--lines", "3000", "--ray-lines", "1000"],
    "serve_long_text": ["--words", "100,1000"],
    "server": ["--seconds", "0.5"],
    "browser": ["--rounds", "1", "--variants", "int8"],
    "browser_corpus": ["--sizes", "1000", "--queries", "3"],
    "tokenizer_compare": ["--limit", "2000", "--speed-texts", "1000"],
    "ddp_allreduce": ["--table-dims", "16"],
}
"""Toy sizes of a quick run."""


def plan(r: Inputs, chosen: set[str]) -> list[tuple[str, str, list[str]]]:
    """The `chosen` measurements as (name, module under benchmarks.measure, options), in order."""
    out, data, bundle = ["--out", str(r.out)], ["--data", str(r.data)], ["--bundle", str(r.bundle)]
    work = ["--work", str(r.cache / "work")]
    prune = ["--prune-corpus", str(r.data / "pairs" / "multi30k-captions" / "train.1.en.gz"), "--prune-limit", "10000"]
    grid = [str(r.quickstart_model), *data, *out, "--dims", "32,64,128,256,384", "--name", "quality_grid_quickstart"]
    steps = [
        ("speed", "speed", speed_options(r) if "speed" in chosen else []),
        ("quality_grid", "quality_grid", [str(r.grid_model), *data, *out]),
        ("quality_grid_quickstart", "quality_grid", [*grid, *prune, "--model-note", QUICKSTART_NOTE]),
        ("binary_recall", "binary_recall", [str(r.wide_bundle), *data, *out]),
        ("long_text_parity", "long_text_parity", out),
        ("encode_memory", "encode_memory", [*bundle, *out, *data, *work]),
        ("long_text_memory", "long_text_memory", [*bundle, *out, *data]),
        ("encode_file_scale", "encode_file_scale", [*bundle, *out, *data]),
        ("corpus_scale", "corpus_scale", [*bundle, *out, *data, *work]),
        ("serve_long_text", "serve_long_text", [*bundle, *out]),
        ("server", "server_load", [*bundle, *out, *data]),
        ("browser", "browser", [str(r.bundle), *out]),
        ("browser_corpus", "browser_corpus", [str(r.bundle), *out, *data]),  # after browser: it adds to browser.md
        ("tokenizer_compare", "tokenizer_compare", [*bundle, *out, *data, "--venv", str(r.tokenizer_venv)]),
        ("ddp_allreduce", "ddp_allreduce", ["--out", str(r.out / "training")]),
    ]
    sizes = QUICK_SIZES if r.quick else SIZES
    return [(name, module, [*options, *sizes.get(name, [])]) for name, module, options in steps if name in chosen]


NAMES = ("speed", "quality_grid", "quality_grid_quickstart", "binary_recall", "long_text_parity", "encode_memory",
         "long_text_memory", "encode_file_scale", "corpus_scale", "serve_long_text", "server", "browser",
         "browser_corpus", "tokenizer_compare", "ddp_allreduce")  # fmt: skip
"""Every measurement, in the order a run takes them."""


def missing(name: str, r: Inputs) -> str | None:
    """Why a measurement cannot run here (a tool or an input it needs), or None."""
    from benchmarks.measure.chromium import CHROMIUM

    tools = {"server": "wrk", "encode_file_scale": "taskset", "corpus_scale": "taskset"}
    if name in tools and shutil.which(tools[name]) is None:
        return f"{tools[name]} is not installed"
    if name == "corpus_scale" and not Path("/usr/bin/time").exists():
        return "GNU time (/usr/bin/time) is not installed"
    if name.startswith("browser") and not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed"
    if name == "tokenizer_compare" and r.tokenizer_venv is None:
        return "--tokenizer-venv not given (a venv with the candidate tokenizers installed)"
    return None


def run(command: list[str]) -> bool:
    """Print and run one command; True when it succeeded."""
    print("+", " ".join(command), flush=True)
    return subprocess.run(command).returncode == 0


def full_inputs(args: argparse.Namespace) -> Inputs:
    """Where a full run's inputs are (made by `prepare`)."""
    quickstart = args.quickstart
    return Inputs(
        out=args.out or common.RESULTS,
        data=args.data,
        cache=args.cache,
        quick=False,
        speed_bundle=(args.out or common.RESULTS) / "english" / "bundle-256-int8",
        bundle=quickstart / "bundle-256-int8",
        wide_bundle=args.cache / "quickstart-384",
        grid_model=(args.out or common.RESULTS) / "english-768" / "model",
        quickstart_model=quickstart / "models" / "minilm-static",
        tokenizer_venv=args.tokenizer_venv,
    )


def prepare(r: Inputs, names: set[str], train: bool) -> None:
    """Make what the chosen measurements measure, when missing: the English recipe's models (256 and 768 dims;
    `train` remakes them), the quickstart, and the quickstart model exported at 384 dims."""
    recipes = {"speed": (r.speed_bundle.parent, []), "quality_grid": (r.grid_model.parent, ["--dims", "768"])}
    for name, (folder, extra) in recipes.items():
        if name in names and (train or not is_sentence_transformers_folder(folder / "model")):
            recipe = ["--data", str(r.data), "--out", str(folder), "--cache", str(r.cache), *extra]
            if not run([sys.executable, "-m", "benchmarks.recipes.english", *recipe]):
                raise SystemExit("the English recipe failed")
    if names - {"speed", "quality_grid", "long_text_parity", "ddp_allreduce"} and not r.bundle.is_dir():
        if not run([sys.executable, "-m", "static_edge.cli", "quickstart", "--workdir", str(r.bundle.parent)]):
            raise SystemExit("static-edge quickstart failed")
    if "binary_recall" in names and not r.wide_bundle.is_dir():
        from static_edge.exporter import ExportOptions, export

        export(r.quickstart_model, r.wide_bundle, ExportOptions(overwrite=True))


def quick_inputs(args: argparse.Namespace) -> Inputs:
    """A small random model and its bundle (every variant) in --out (default: a new temporary folder)."""
    from benchmarks.measure.small_model import write_small_bundle, write_small_model

    out = args.out or Path(tempfile.mkdtemp(prefix="static-edge-run-all-"))
    model = write_small_model(out / "small-model")
    bundle = write_small_bundle(model, out / "small-bundle")
    return Inputs(
        out=out,
        data=args.data,
        cache=out / "cache",
        quick=True,
        speed_bundle=bundle,
        bundle=bundle,
        wide_bundle=bundle,
        grid_model=model,
        quickstart_model=model,
        tokenizer_venv=args.tokenizer_venv,
    )


def options() -> argparse.ArgumentParser:
    """The command line."""
    parser = common.parser(__doc__, out=None)
    parser.add_argument(
        "--out", type=Path, help="where the tables go (default: benchmarks/results; --quick: a temp folder)"
    )
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--cache", type=Path, default=common.CACHE, help="teachers, text files and ONNX baselines")
    parser.add_argument("--quick", action="store_true", help="every measurement at toy sizes on a small random model")
    parser.add_argument("--train", action="store_true", help="rerun the English recipe even when its models exist")
    parser.add_argument("--quickstart", type=Path, default=Path("quickstart"), help="the quickstart's workdir")
    parser.add_argument("--tokenizer-venv", type=Path, help="a venv with the tokenizer candidates (tokenizer_compare)")
    parser.add_argument("--only", type=lambda s: set(s.split(",")), help="comma-separated measurements to run")
    parser.add_argument("--skip", type=lambda s: set(s.split(",")), default=set(), help="measurements to leave out")
    return parser


def main() -> None:
    """Run every chosen measurement; list what was skipped and what failed."""
    args = options().parse_args()
    names = set(NAMES)
    chosen = (args.only or names) - args.skip - ({"quality_grid_quickstart"} if args.quick else set())
    if unknown := chosen - names:
        raise SystemExit(f"unknown measurements: {', '.join(sorted(unknown))} (known: {', '.join(sorted(names))})")
    inputs = quick_inputs(args) if args.quick else full_inputs(args)
    if not args.quick:
        prepare(inputs, chosen, args.train)
    failed, skipped = [], []
    for name, module, step_options in plan(inputs, chosen):
        if reason := missing(name, inputs):
            print(f"skipped {name}: {reason}", flush=True)
            skipped.append(name)
        elif not run([sys.executable, "-m", f"benchmarks.measure.{module}", *step_options]):
            failed.append(name)
    print(f"done in {inputs.out}; skipped: {', '.join(skipped) or 'none'}; failed: {', '.join(failed) or 'none'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
