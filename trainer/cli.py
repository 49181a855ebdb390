"""`static-edge distill | train | eval`: thin shells over trainer.distill, trainer.train and trainer.evaluate."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from static_edge.runtimes.console import console, done
from static_edge.runtimes.errors import InputError


def _dims_list(text: str) -> list[int]:
    try:
        dims = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"dims must be positive integers, got {text!r}")
    return dims


def add_distill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("teacher", nargs="?", help="transformer folder or hub id (default: all-MiniLM-L6-v2 from PyPI)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--pca-dims", type=int, default=256, help="output dimensions (PCA); 0 keeps the teacher's")
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")


def run_distill(args: argparse.Namespace) -> int:
    from static_edge.trainer.distill import default_teacher, distill

    teacher = args.teacher or default_teacher()
    out = distill(teacher, args.output, pca_dims=args.pca_dims or None, overwrite=args.force)
    done("saved", f"{out} (Sentence Transformers StaticEmbedding folder)")
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", help="start from this static model (default: random, needs --tokenizer)")
    parser.add_argument("--tokenizer", help="tokenizer.json, model folder or hub id for a random init")
    parser.add_argument("--dims", type=int, default=256, help="dimensions of a random init")
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        help="jsonl/csv/tsv/parquet file or hub data set name[:config][@split]; repeatable",
    )
    parser.add_argument("--matryoshka", type=_dims_list, help="comma-separated dims, e.g. 256,128,64,32")
    parser.add_argument("--matryoshka-weights", help="comma-separated loss weight per --matryoshka dim")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--save-steps", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.add_argument(
        "--mine-hard-negatives",
        action="store_true",
        help="add a mined negative to pair data (Sentence Transformers' mine_hard_negatives)",
    )
    parser.add_argument("--sts", type=Path, help="STS file to score the result on (for the model card)")
    parser.add_argument("-o", "--output", type=Path, required=True)


def run_train(args: argparse.Namespace) -> int:
    from static_edge.trainer.data import load_pairs
    from static_edge.trainer.model_card import write_model_card
    from static_edge.trainer.train import TrainConfig, init_model, train

    data = {Path(spec).stem if Path(spec).exists() else spec: load_pairs(spec) for spec in args.data}
    model = init_model(args.init, args.tokenizer, args.dims)
    config = TrainConfig(
        matryoshka_dims=args.matryoshka,
        matryoshka_weights=[float(w) for w in args.matryoshka_weights.split(",")] if args.matryoshka_weights else None,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_ratio=args.warmup_ratio,
        save_steps=args.save_steps,
        resume=args.resume,
        mine_hard_negatives=args.mine_hard_negatives,
    )
    model, history = train(model, data, args.output, config)
    scores = _score(args.output, args.sts, config.matryoshka_dims) if args.sts else None
    write_model_card(args.output, init=args.init, data={k: len(v) for k, v in data.items()}, scores=scores)
    if history:
        console.print(f"loss {history[0]['loss']:.4f} -> {history[-1]['loss']:.4f} over {len(history)} logged steps")
    done("saved", args.output)
    return 0


def _score(model: Path, sts: Path, dims: list[int] | None):
    from static_edge.trainer.evaluate import evaluate, model_encoder, read_sts
    from static_edge.trainer.train import default_matryoshka_dims

    encode, full, _ = model_encoder(model)
    return evaluate(encode, sorted(dims or default_matryoshka_dims(full)), sts={sts.stem: read_sts(sts)})


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="static model folder or exported bundle")
    parser.add_argument("--variant", choices=["fp32", "fp16", "int8"], help="bundle variant (default: its default)")
    parser.add_argument("--sts", type=Path, action="append", default=[], help="STS csv/tsv; repeatable")
    parser.add_argument("--retrieval", type=Path, action="append", default=[], help="BEIR folder; repeatable")
    parser.add_argument("--split", default="train", help="BEIR split of queries and qrels")
    parser.add_argument("--dims", type=_dims_list, help="dimensions to score (default: Matryoshka halvings)")
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the scores (a PNG plot goes beside it)")


def run_eval(args: argparse.Namespace) -> int:
    from static_edge.trainer.evaluate import evaluate, model_encoder, read_beir, read_sts
    from static_edge.trainer.plots import plot_scores_by_dims
    from static_edge.trainer.train import default_matryoshka_dims

    if not args.sts and not args.retrieval:
        raise InputError("give at least one --sts file or --retrieval folder to evaluate on")
    encode, full, description = model_encoder(args.model, args.variant)
    dims = sorted(d for d in (args.dims or default_matryoshka_dims(full)) if d <= full)
    if not dims:
        raise InputError(f"every requested dimension exceeds the model's {full}")
    scores = evaluate(
        encode,
        dims,
        sts={p.stem: read_sts(p) for p in args.sts},
        retrieval={p.name: read_beir(p, args.split) for p in args.retrieval},
    )
    from rich.table import Table

    table = Table(title=f"{args.model} ({description})")
    table.add_column("task")
    for d in dims:
        table.add_column(str(d), justify="right")
    for task, by_dim in scores.items():
        table.add_row(task, *(f"{by_dim[d]:.2f}" for d in dims))
    console.print(table)
    if (args.model / "static_edge.json").is_file():
        _record_quality(args.model, description, scores)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        payload = {"model": str(args.model), "encoder": description, "scores": scores}
        args.output.write_text(json.dumps(payload, indent=2))
        png = plot_scores_by_dims(scores, args.output.with_suffix(".png"), title=str(args.model))
        console.print(f"wrote {args.output} and {png}")
    return 0


def _record_quality(bundle: Path, description: str, scores: dict[str, dict[int, float]]) -> None:
    """Keep a bundle's measured scores in its manifest (`quality`), per variant, next to the parity report."""
    from static_edge.runtimes.bundle import read_manifest, write_manifest

    manifest = read_manifest(bundle)
    variant = description.removeprefix("bundle ")
    quality = dict(manifest.quality or {})
    quality[variant] = {task: {str(d): v for d, v in by_dim.items()} for task, by_dim in scores.items()}
    manifest.quality = quality
    write_manifest(bundle, manifest)
