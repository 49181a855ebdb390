"""PNG plots of scores (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def plot_scores_by_dims(scores: dict[str, dict[int, float]], path: Path, title: str = "") -> Path:
    """One line per task: score against embedding dimensions (log2 x axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for task, by_dim in scores.items():
        dims = sorted(by_dim)
        ax.plot(dims, [by_dim[d] for d in dims], marker="o", label=task)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("dimensions (Matryoshka slice)")
    ax.set_ylabel("score x 100 (Spearman / nDCG@10)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
