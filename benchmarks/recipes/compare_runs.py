"""Compare recipe runs side by side: each run's start and its 256-dim int8 bundle, per task (a table and a bar plot).

    python -m benchmarks.recipes.compare_runs "distill start=benchmarks/results/english/previous-round/distill-start" \\
        "pre-trained start=benchmarks/results/english/previous-round" --out OUT --name starts

Reads each run's scores.json (written by the recipes) and writes NAME.md, NAME.json and NAME.png.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import common

BUNDLE = "trained, bundle 256 int8"


def run_rows(label: str, folder: Path, dims: str = "256") -> list[dict]:
    """One row per (stage, task) of a run: its start (the model named "... (start)") and its int8 bundle."""
    rows = json.loads((folder / "scores.json").read_text())["rows"]
    picked = []
    for row in rows:
        stage = "start" if row["model"].endswith("(start)") else "bundle 256 int8" if row["model"] == BUNDLE else None
        if stage is not None and row.get(dims) is not None:
            picked.append({"run": label, "stage": stage, "task": row["task"], "score": round(row[dims], 2)})
    return picked


def plot(rows: list[dict], path: Path, title: str) -> Path:
    """Grouped bars: one group per task and stage, one bar per run."""
    import numpy as np

    groups = list(dict.fromkeys((r["task"], r["stage"]) for r in rows))
    runs = list(dict.fromkeys(r["run"] for r in rows))
    width = 0.8 / len(runs)
    fig, ax = common.figure(size=(8, 4), dpi=120)
    for k, run in enumerate(runs):
        values = [
            next((r["score"] for r in rows if r["run"] == run and (r["task"], r["stage"]) == g), 0) for g in groups
        ]
        bars = ax.bar(np.arange(len(groups)) + k * width, values, width, label=run)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(groups)) + width * (len(runs) - 1) / 2)
    ax.set_xticklabels([f"{task}\n{stage}" for task, stage in groups], fontsize=7)
    ax.set_ylabel("score x 100 at 256 dims")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return common.save(fig, path)


def main() -> None:
    """Parse LABEL=FOLDER runs and write the comparison."""
    parser = common.runs_parser(__doc__, "compared", "Recipe runs compared (256 dims)")
    args = parser.parse_args()
    rows = [row for label, folder in common.labelled_runs(parser, args.runs) for row in run_rows(label, folder)]
    md = common.publish(
        args.out,
        args.name,
        "benchmarks.recipes.compare_runs",
        title=args.title,
        rows=rows,
        plot=lambda path: plot(rows, path, args.title),
    )
    print(md.read_text())


if __name__ == "__main__":
    main()
