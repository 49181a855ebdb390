"""A recipe's steps, each measured: runs that differ by one step, in order, and what each step gained.

    python -m benchmarks.recipes.step_gains "no pre-training=benchmarks/results/retrieval/runs/r-none" \
        "all texts=benchmarks/results/retrieval" --out benchmarks/results/retrieval --name corpus_size

Reads each run's scores.json (written by the recipes) and writes NAME.md, NAME.json and NAME.png: the 256-dim
int8 bundle's score per task with its gain over the previous run, then the trained model's score per Matryoshka
dim. A step is kept in a recipe only where this table shows a gain on the dev suite (benchmarks.recipes.dev_suite).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import common

BUNDLE_MODELS = ("trained, bundle 256 int8", "bundle 256 int8")
"""The 256-dim int8 bundle's row name in the recipes' scores (english and retrieval; multilingual)."""


MEANS = {
    "mean:stsb-dev-10-non-english": lambda task: task.startswith("sts:stsb-") and task != "sts:stsb-en-dev",
    "mean:flores300-top1-20": lambda task: task.startswith("parallel:flores300-"),
}
"""Summary tasks of the multilingual recipe: the mean over the per-language tasks each one selects."""


def run_scores(folder: Path) -> dict[str, dict[str, dict[str, float]]]:
    """A run's scores: model -> task -> dimension -> score (`scores` of its scores.json), with the `MEANS` of the
    per-language tasks a multilingual run has."""
    scores = json.loads((folder / "scores.json").read_text())["scores"]
    for tasks in scores.values():
        for name, selects in MEANS.items():
            chosen = [by_dim for task, by_dim in tasks.items() if selects(task)]
            dims = set.intersection(*(set(by_dim) for by_dim in chosen)) if chosen else set()
            if dims:
                tasks[name] = {d: sum(by_dim[d] for by_dim in chosen) / len(chosen) for d in dims}
    return scores


def bundle_rows(runs: list[tuple[str, dict]], tasks: list[str], against_first: bool = False) -> list[dict[str, Any]]:
    """One row per run: the bundle's 256-dim score per task, and the gain over the previous run (with
    `against_first`, over the first run: each row is one step tried alone on the first row's recipe)."""
    rows, previous = [], None
    for label, scores in runs:
        bundle = next(scores[name] for name in BUNDLE_MODELS if name in scores)
        now = {task: bundle.get(task, {}).get("256") for task in tasks}
        row: dict[str, Any] = {"step": label}
        for task in tasks:
            row[task] = now[task]
            gain = None if previous is None or None in (now[task], previous[task]) else now[task] - previous[task]
            row[f"gain {task}"] = None if gain is None else f"{gain:+.2f}"
        rows.append(row)
        previous = previous if against_first and previous is not None else now
    return rows


def dim_rows(runs: list[tuple[str, dict]], tasks: list[str]) -> list[dict[str, Any]]:
    """One row per run and task: the trained model's score at each Matryoshka dim."""
    rows = []
    for label, scores in runs:
        trained = scores["trained"]
        for task in tasks:
            dims = sorted(trained.get(task, {}), key=int)
            rows.append({"step": label, "task": task, **{d: trained[task][d] for d in dims}})
    return rows


def plot(rows: list[dict[str, Any]], tasks: list[str], path: Path, title: str) -> Path:
    """One line per task: the bundle's score after each step."""
    fig, ax = common.figure(size=(8, 4.5), dpi=120)
    steps = [row["step"] for row in rows]
    for task in tasks:
        ax.plot(steps, [row[task] for row in rows], marker="o", label=task)
    ax.set_ylabel("score x 100, 256-dim int8 bundle")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7, rotation=15)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return common.save(fig, path)


def main() -> None:
    """Parse LABEL=FOLDER runs (in step order) and write the gain table."""
    parser = common.runs_parser(__doc__, "steps", "Recipe steps and their gains (256-dim int8 bundle)")
    parser.add_argument("--tasks", help="comma-separated tasks to show (default: every task of the first run)")
    parser.add_argument(
        "--against-first",
        action="store_true",
        help="gains over the first run (each later run tries one step alone) instead of over the previous run",
    )
    args = parser.parse_args()
    runs = [(label, run_scores(folder)) for label, folder in common.labelled_runs(parser, args.runs)]
    tasks = args.tasks.split(",") if args.tasks else list(runs[0][1]["trained"])
    for label, scores in runs:
        if not any(name in scores for name in BUNDLE_MODELS) or "trained" not in scores:
            parser.error(f"run {label!r} has no trained model and 256-dim int8 bundle scores")
        unknown = [task for task in tasks if task not in scores["trained"]]
        if unknown:
            parser.error(f"run {label!r} has no task {', '.join(unknown)} (it has {', '.join(scores['trained'])})")
    rows = bundle_rows(runs, tasks, args.against_first)
    md = common.publish(
        args.out,
        args.name,
        "benchmarks.recipes.step_gains",
        title=args.title,
        rows=rows,
        sections={"Trained model per Matryoshka dim": dim_rows(runs, tasks)},
        notes=[
            (
                "Each row tries one step alone on the first row's recipe"
                if args.against_first
                else "Each row adds one step to the row above"
            )
            + "; gains are in points (x100) at 256 dims, int8 bundle."
        ],
        data={"runs": dict(zip((label for label, _ in runs), args.runs, strict=True))},
        plot=lambda path: plot(rows, tasks, path, args.title),
    )
    print(md.read_text())


if __name__ == "__main__":
    main()
