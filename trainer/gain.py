"""What a training run gained: scores before and after on every Matryoshka dim, and the loss it logged.

A run can lose quality without any error (a learning rate too high for a good start, mismatched pairs);
`static-edge train --eval-sts/--eval-retrieval` scores the model before and after with this module, prints
the table, warns for every score that fell by more than the tolerance and records both in the model card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from static_edge.trainer.evaluate import EncodeFn, RetrievalData, StsData, evaluate

Scores = dict[str, dict[int, float]]
"""task ("sts:NAME", "retrieval:NAME") -> dim -> score x100"""

DEFAULT_TOLERANCE = 0.1
"""Score points (x100) a task may fall before the run is reported as worse than its start."""


@dataclass(frozen=True)
class GainRow:
    """One task at one Matryoshka dim: its score before and after training."""

    task: str
    dims: int
    before: float
    after: float

    @property
    def change(self) -> float:
        """After minus before, in score points (x100)."""
        return self.after - self.before


@dataclass(frozen=True)
class GainReport:
    """Scores of the starting model and the trained one on the same tasks and dims."""

    before: Scores
    after: Scores
    tolerance: float = DEFAULT_TOLERANCE

    def rows(self) -> list[GainRow]:
        """Every task at every dim, largest dim first within a task."""
        return [
            GainRow(task, dims, self.before[task][dims], score)
            for task, by_dim in self.after.items()
            for dims, score in sorted(by_dim.items(), reverse=True)
        ]

    def worse(self) -> list[GainRow]:
        """Every (task, dims) whose score fell by more than the tolerance."""
        return [row for row in self.rows() if row.change < -self.tolerance]

    def verdict(self) -> str:
        """One line: how many scores rose, fell or held."""
        rows = self.rows()
        worse = self.worse()
        if worse:
            listed = ", ".join(f"{r.task} at {r.dims} dims {r.before:.2f} -> {r.after:.2f}" for r in worse)
            return (
                f"the trained model is WORSE than its start on {len(worse)} of {len(rows)} scores "
                f"(tolerance {self.tolerance:g} points): {listed}"
            )
        better = sum(row.change > self.tolerance for row in rows)
        return f"the trained model improved on {better} of {len(rows)} scores and is worse on none"

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: tolerance, every row with its change, and the rows that fell."""
        return {
            "tolerance": self.tolerance,
            "rows": [
                {"task": r.task, "dims": r.dims, "before": r.before, "after": r.after, "change": r.change}
                for r in self.rows()
            ],
            "worse": [{"task": r.task, "dims": r.dims} for r in self.worse()],
        }


def in_memory_encoder(model, batch_size: int = 1024) -> EncodeFn:
    """encode(texts) of an in-memory SentenceTransformer, unnormalized as its `encode` returns them."""

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(
            texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=False, show_progress_bar=False
        )

    return encode


def score_model(
    model,
    dims: Sequence[int],
    sts: dict[str, StsData] | None = None,
    retrieval: dict[str, RetrievalData] | None = None,
) -> Scores:
    """The model's scores on every task at every dim (largest first in the report)."""
    return evaluate(in_memory_encoder(model), sorted(dims), sts=sts, retrieval=retrieval)


def loss_summary(history: list[dict[str, Any]]) -> str:
    """First and last logged loss with 6 significant digits and the relative change, so a change shows."""
    losses = [float(entry["loss"]) for entry in history if "loss" in entry]
    if not losses:
        return "no loss was logged (fewer steps than --logging-steps?)"
    first, last = losses[0], losses[-1]
    relative = f" ({100 * (last - first) / abs(first):+.3g}%)" if first else ""
    return f"loss {first:.6g} -> {last:.6g}{relative} over {len(losses)} logged steps"


def gain_table(report: GainReport):
    """A rich Table of before, after and change per task and dims."""
    from rich.table import Table

    table = Table(title="Scores (x100) before and after training")
    for name, justify in (("task", "left"), ("dims", "right"), ("before", "right"), ("after", "right")):
        table.add_column(name, justify=justify)
    table.add_column("change", justify="right")
    for row in report.rows():
        style = "red" if row.change < -report.tolerance else "green" if row.change > report.tolerance else ""
        table.add_row(
            row.task, str(row.dims), f"{row.before:.2f}", f"{row.after:.2f}", f"{row.change:+.2f}", style=style
        )
    return table
