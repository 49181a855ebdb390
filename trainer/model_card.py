"""The README.md written into every trained model: data, loss, dims, scores."""

from __future__ import annotations

import json
from pathlib import Path

from static_edge.trainer.train import TRAINING_LOG


def write_model_card(
    model_dir: Path, init: str | None, data: dict[str, int], scores: dict[str, dict[int, float]] | None = None
) -> Path:
    """Write `model_dir/README.md` from the training log and (optional) scores per dimension."""
    log = json.loads((model_dir / TRAINING_LOG).read_text())
    config = log["config"]
    losses = [e["loss"] for e in log["history"] if "loss" in e]
    lines = [
        "---",
        "library_name: sentence-transformers",
        "tags: [static-embeddings, matryoshka, static-edge]",
        "---",
        f"# {model_dir.name}",
        "",
        "A static embedding model (a token table averaged per text) trained with static-edge.",
        "",
        "## Training",
        f"- initialisation: {init or 'random'}",
        "- loss: MatryoshkaLoss(MultipleNegativesRankingLoss), Matryoshka dims "
        f"{', '.join(map(str, config['matryoshka_dims']))}",
        f"- batch size {config['batch_size']}, learning rate {config['learning_rate']}, "
        f"warm-up ratio {config['warmup_ratio']}, epochs {config['epochs']}, no-duplicates batches, "
        "proportional sampling across data sets",
        f"- hard negatives mined: {'yes' if config['mine_hard_negatives'] else 'no'}",
    ]
    if losses:
        lines.append(f"- loss {losses[0]:.4f} at the first logged step, {losses[-1]:.4f} at the last")
    lines += ["", "## Data", "| data set | rows |", "|---|---|"]
    lines += [f"| {name} | {rows:,} |" for name, rows in data.items()]
    if scores:
        dims = sorted({d for by_dim in scores.values() for d in by_dim})
        lines += [
            "",
            "## Scores (x100) per dimension",
            "| task | " + " | ".join(map(str, dims)) + " |",
            "|---|" + "---|" * len(dims),
        ]
        for task, by_dim in scores.items():
            lines.append(f"| {task} | " + " | ".join(f"{by_dim[d]:.2f}" if d in by_dim else "" for d in dims) + " |")
    lines += [
        "",
        "## Use",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        f'model = SentenceTransformer("{model_dir.name}")',
        "```",
        f"or export it: `static-edge export {model_dir.name} --dims 256 --int8 -o out/{model_dir.name}`",
        "",
    ]
    path = model_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
