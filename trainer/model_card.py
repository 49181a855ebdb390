"""Our section of a trained model's README.md: recipe, data, loss, and the scores before and after training.

Sentence Transformers writes a rich card when it saves a trained model (data sets, losses, training logs,
its own metadata); we keep it and add our section between two markers (replaced on a re-run), plus our
tags in its front matter. A folder without a card (or one whose card has no front matter) gets a new one.
"""

from __future__ import annotations

import json
from pathlib import Path

from static_edge.trainer.gain import GainReport, loss_summary
from static_edge.trainer.train import TRAINING_LOG

CARD_FILE = "README.md"
BEGIN, END = "<!-- static-edge:begin -->", "<!-- static-edge:end -->"
TAGS = ["static-embeddings", "matryoshka", "static-edge"]


def write_model_card(
    model_dir: Path,
    init: str | None,
    data: dict[str, int],
    scores: dict[str, dict[int, float]] | None = None,
    report: GainReport | None = None,
    name: str | None = None,
) -> Path:
    """Add our section (and tags) to `model_dir/README.md`, keeping what Sentence Transformers wrote.

    :param scores: the trained model's scores per task and dims (used when there is no `report`).
    :param report: scores before and after training; a run that made the model worse says so here.
    :param name: the model's folder name (default: `model_dir`'s; a staging folder is renamed later).
    """
    from huggingface_hub import ModelCard, ModelCardData

    path = Path(model_dir) / CARD_FILE
    name = name or Path(model_dir).name
    section = _section(Path(model_dir), init, data, scores, report, name)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    if existing.startswith("---"):
        card = ModelCard(existing)
    else:
        data_ = ModelCardData(library_name="sentence-transformers", pipeline_tag="sentence-similarity")
        card = ModelCard(f"---\n{data_.to_yaml()}\n---\n# {name}\n\n{existing}")
    card.data.tags = list(dict.fromkeys([*(card.data.tags or []), *TAGS]))
    card.text = _insert(card.text, f"{BEGIN}\n{section}\n{END}")
    path.write_text(str(card), encoding="utf-8")
    return path


def _insert(text: str, block: str) -> str:
    """Replace our previous block, else put ours after the card's title line (or on top)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    lines = text.splitlines()
    title = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if title is None:
        return f"{block}\n\n{text}"
    return "\n".join([*lines[: title + 1], "", block, "", *lines[title + 1 :]]) + "\n"


def _section(
    model_dir: Path,
    init: str | None,
    data: dict[str, int],
    scores: dict[str, dict[int, float]] | None,
    report: GainReport | None,
    name: str,
) -> str:
    log = json.loads((model_dir / TRAINING_LOG).read_text())
    config = log["config"]
    history = [e for e in log["history"] if "loss" in e]
    lines = ["## static-edge training report", ""]
    if report is not None:
        worse = report.worse()
        mark = "**Warning:** " if worse else ""
        lines += [f"{mark}{report.verdict()}.", ""]
    lines += [
        "A static embedding model (a token table averaged per text) trained with static-edge.",
        "",
        f"- initialisation: {init or 'random'}",
        "- loss: MatryoshkaLoss(MultipleNegativesRankingLoss), Matryoshka dims "
        f"{', '.join(map(str, config['matryoshka_dims']))}",
        f"- batch size {config['batch_size']}, learning rate {config['learning_rate']}, "
        f"warm-up ratio {config['warmup_ratio']}, epochs {config['epochs']}, no-duplicates batches, "
        "proportional sampling across data sets",
        f"- hard negatives mined: {'yes' if config['mine_hard_negatives'] else 'no'}",
        f"- {loss_summary(history)}",
        "",
        "| data set | rows |",
        "|---|---|",
        *(f"| {data_name} | {rows:,} |" for data_name, rows in data.items()),
    ]
    if report is not None:
        lines += [
            "",
            "### Scores (x100) per dimension, before and after training",
            "",
            "| task | dims | before | after | change |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in report.rows():
            flag = " (worse)" if row.change < -report.tolerance else ""
            lines.append(f"| {row.task} | {row.dims} | {row.before:.2f} | {row.after:.2f} | {row.change:+.2f}{flag} |")
    elif scores:
        dims = sorted({d for by_dim in scores.values() for d in by_dim})
        lines += [
            "",
            "### Scores (x100) per dimension",
            "",
            "| task | " + " | ".join(map(str, dims)) + " |",
            "|---|" + "---|" * len(dims),
        ]
        for task, by_dim in scores.items():
            lines.append(f"| {task} | " + " | ".join(f"{by_dim[d]:.2f}" if d in by_dim else "" for d in dims) + " |")
    lines += [
        "",
        f"Export it to a verified ONNX bundle: `static-edge export {name} --int8 -o out/{name}`",
    ]
    return "\n".join(lines)
