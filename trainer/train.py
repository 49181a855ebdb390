"""Contrastive Matryoshka training of static models: Sentence Transformers' static-embedding recipe.

StaticEmbedding, MultipleNegativesRankingLoss inside MatryoshkaLoss, the no-duplicates batch
sampler, proportional sampling across data sets, a high learning rate with warm-up, all through
SentenceTransformerTrainer (checkpoints and resume included).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from static_edge.runtimes.errors import InputError

TRAINING_LOG = "training_log.json"


@dataclass
class TrainConfig:
    """Hyperparameters. The recipe trains from random init with lr 0.2 and batch 2048."""

    matryoshka_dims: list[int] | None = None
    """Dimensions the loss trains to stand alone; halvings of the model size down to 32 when None."""
    matryoshka_weights: list[float] | None = None
    """Loss weight of each Matryoshka dim (same order as the dims); equal when None."""
    epochs: float = 1.0
    batch_size: int = 2048
    learning_rate: float = 0.2
    warmup_ratio: float = 0.1
    max_steps: int = -1
    seed: int = 12
    logging_steps: int = 10
    save_steps: int = 500
    save_total_limit: int = 2
    resume: bool = False
    """Continue from the newest checkpoint in OUTPUT/checkpoints."""
    keep_checkpoints: bool = False
    """Keep OUTPUT/checkpoints after a finished run (they are removed by default)."""
    mine_hard_negatives: bool = False
    guide: str | None = None
    """GISTEmbed's guide: a static model with the trained model's vocabulary (e.g. the start it was trained from);
    in-batch negatives it scores above a row's positive are masked as likely false negatives
    (trainer.guided_loss); None: MNRL."""
    average_share: float = 0.0
    """Average the weights over this last share of the steps (trainer.averaging); 0: keep the last weights."""

    def __post_init__(self) -> None:
        """Refuse values the trainer would reject only after loading, or accept and train nothing with.

        :raises InputError: naming the first bad value.
        """
        check_schedule(self.epochs, self.max_steps, self.batch_size, self.learning_rate, self.warmup_ratio)
        for name in ("logging_steps", "save_steps", "save_total_limit"):
            if getattr(self, name) < 1:
                raise InputError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.average_share <= 1:
            raise InputError(f"average share must be between 0 and 1, got {self.average_share}")
        if self.average_share and self.resume:
            raise InputError("--average-share and --resume do not combine: the running average is not checkpointed")
        weights = self.matryoshka_weights
        if weights is not None and (not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights)):
            raise InputError(f"Matryoshka weights must be numbers of at least 0, not all 0, got {weights}")


def check_schedule(epochs: float, max_steps: int, batch_size: int, learning_rate: float, warmup_ratio: float) -> None:
    """The checks `TrainConfig` and `PretrainConfig` share: a run that trains at least one step, sanely.

    :raises InputError: naming the first bad value.
    """
    if not (max_steps == -1 or max_steps >= 1):
        raise InputError(f"max steps must be at least 1 (or -1: as many as the epochs make), got {max_steps}")
    if max_steps == -1 and not epochs > 0:
        raise InputError(f"epochs must be above 0, got {epochs}")
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise InputError(f"learning rate must be above 0, got {learning_rate}")
    if not 0 <= warmup_ratio < 1:
        raise InputError(f"warm-up ratio must be at least 0 and below 1, got {warmup_ratio}")


def init_model(init: str | os.PathLike[str] | None, tokenizer: str | os.PathLike[str] | None = None, dims: int = 256):
    """The model to start from: a static model folder (ours or Sentence Transformers), a model2vec folder or hub id,
    or (init None) a random `dims`-wide table over `tokenizer` (a tokenizer.json, a folder holding one, or a hub id).

    :raises InputError: when neither `init` nor `tokenizer` is given, or `dims` is below 1.
    :raises ModelLoadError: when `init` or `tokenizer` cannot be loaded.
    """
    from static_edge.trainer.loading import load_static_model, load_tokenizer

    if init is not None:
        return load_static_model(init, role="model to start from")
    if tokenizer is None:
        raise InputError("a random init needs a tokenizer (--tokenizer: a tokenizer.json, a model folder or hub id)")
    if dims < 1:
        raise InputError(f"a random init needs at least 1 dimension, got {dims}")
    from sentence_transformers import SentenceTransformer

    from static_edge.trainer.st_compat import StaticEmbedding

    return SentenceTransformer(modules=[StaticEmbedding(load_tokenizer(tokenizer), embedding_dim=dims)], device="cpu")


def world_size() -> int:
    """Processes in this run: `torchrun` and `accelerate launch` set WORLD_SIZE (1 for a plain run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0 (or a plain run): the one process that writes the model, its log and its card under DDP."""
    return int(os.environ.get("RANK", "0")) == 0


def default_matryoshka_dims(dims: int) -> list[int]:
    """Halvings of a `dims`-wide model down to 32, largest first (`dims` alone when it is below 64)."""
    out = [dims]
    while out[-1] // 2 >= 32:
        out.append(out[-1] // 2)
    return out


def trained_dims(matryoshka_dims: list[int] | None, width: int) -> list[int]:
    """The Matryoshka dims a run trains (and records, and scores), largest first: the given ones, or halvings.

    :raises InputError: for a dim below 1 or above the model's `width`.
    """
    dims = sorted(matryoshka_dims or default_matryoshka_dims(width), reverse=True)
    if dims[0] > width or dims[-1] < 1:
        raise InputError(f"Matryoshka dims {dims} must be between 1 and the model's {width} dimensions")
    return dims


def matryoshka_loss_dims(config: TrainConfig, width: int) -> tuple[list[int], list[float] | None]:
    """The dims the loss trains (`trained_dims`) and their weights in the same order (None: equal weights).

    :raises InputError: for dims outside the model's width, or a weight count that differs from the dims'.
    """
    dims = trained_dims(config.matryoshka_dims, width)
    weights = config.matryoshka_weights
    if weights is None:
        return dims, None
    if len(weights) != len(dims):
        raise InputError(f"{len(weights)} Matryoshka weights for {len(dims)} dims {dims}")
    if config.matryoshka_dims:  # the weights follow the order the dims were given in; sort them like the dims
        order = sorted(range(len(config.matryoshka_dims)), key=lambda i: -config.matryoshka_dims[i])
        weights = [weights[i] for i in order]
    return dims, weights


def recorded_dims(model_dir: str | os.PathLike[str]) -> list[int] | None:
    """The Matryoshka dims recorded in a trained folder's training log (None: no log there)."""
    log = Path(model_dir) / TRAINING_LOG
    if not log.is_file():
        return None
    return list(json.loads(log.read_text(encoding="utf-8"))["config"]["matryoshka_dims"])


def newest_complete_checkpoint(checkpoints: Path) -> Path | None:
    """The highest-numbered `checkpoint-N` whose trainer state was written: a run killed while saving leaves a
    checkpoint without it, which transformers would pick and then fail to read."""
    complete = [
        folder
        for folder in checkpoints.glob("checkpoint-*")
        if folder.name.removeprefix("checkpoint-").isdigit() and (folder / "trainer_state.json").is_file()
    ]
    return max(complete, key=lambda folder: int(folder.name.removeprefix("checkpoint-")), default=None)


def checkpoint_folder(output: str | os.PathLike[str]) -> Path:
    """Where `static-edge train -o OUTPUT` keeps its checkpoints until the run ends: `.OUTPUT.checkpoints` beside
    the output (the output itself is built in a staging folder, so a killed run leaves only these, for --resume)."""
    output = Path(output).absolute()
    return output.with_name(f".{output.name}.checkpoints")


def train(
    model,
    data: dict[str, Any],
    output: str | os.PathLike[str],
    config: TrainConfig | None = None,
    checkpoints: str | os.PathLike[str] | None = None,
):
    """Train `model` on the named data sets and save it to `output` (a Sentence Transformers folder).

    :param data: name -> datasets.Dataset with anchor, positive[, negative] columns.
    :param checkpoints: the trainer's checkpoint folder (default OUTPUT/checkpoints); removed after the run
        unless `config.keep_checkpoints`.
    :returns: the trained model and the trainer's log history (loss per logging step).
    :raises InputError: for Matryoshka dims larger than the model, weights that do not match them, or no data.
    """
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    try:  # Sentence Transformers 6 moved them; the old paths warn there and are all that 3.x to 5.x have
        from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss
        from sentence_transformers.sentence_transformer.training_args import BatchSamplers, MultiDatasetBatchSamplers
    except ImportError:
        from sentence_transformers.losses import MatryoshkaLoss
        from sentence_transformers.training_args import BatchSamplers, MultiDatasetBatchSamplers

    from static_edge.trainer.averaging import WeightAveraging
    from static_edge.trainer.st_compat import embedding_dimension, warmup_arguments

    config = config or TrainConfig()
    if not data:
        raise InputError("no training data given")
    matryoshka, weights = matryoshka_loss_dims(config, embedding_dimension(model))
    if config.mine_hard_negatives:
        data = {name: mine_negatives(model, ds) for name, ds in data.items()}

    output = Path(output)
    checkpoints = Path(checkpoints) if checkpoints is not None else output / "checkpoints"
    inner = contrastive_loss(model, config)
    loss = MatryoshkaLoss(model, inner, matryoshka_dims=matryoshka, matryoshka_weights=weights)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        **warmup_arguments(config.warmup_ratio),
        lr_scheduler_type="cosine",
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        multi_dataset_batch_sampler=MultiDatasetBatchSamplers.PROPORTIONAL,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        use_cpu=True,
        report_to="none",
        dataloader_drop_last=False,
        disable_tqdm=False,
        ddp_find_unused_parameters=False,  # every row used is in the graph; skip DDP's extra autograd traversal
    )
    callbacks = [WeightAveraging(model, config.average_share)] if config.average_share else []
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss, callbacks=callbacks)
    resume = newest_complete_checkpoint(checkpoints) if config.resume else None
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    if is_main_process():  # DDP: rank 0 alone writes the output folder (no race on it)
        model.save(str(output))
        (output / TRAINING_LOG).write_text(
            json.dumps(
                {
                    "config": {**asdict(config), "matryoshka_dims": matryoshka},
                    "data": {name: len(ds) for name, ds in data.items()},
                    "processes": world_size(),
                    "history": trainer.state.log_history,
                },
                indent=2,
            )
        )
        if not config.keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
    end_process_group()
    return model, history


def contrastive_loss(model, config: TrainConfig):
    """MNRL at scale 20, or with `config.guide` GISTEmbed's masking of false negatives
    (trainer.guided_loss, for a guide with the model's vocabulary).

    Under DDP each process holds its own slice of the batch; gathering the other slices keeps the in-batch
    negatives those of the whole (global) batch, as in a single-process run.
    """
    try:  # Sentence Transformers 6 moved it; the old path warns there and is all that 3.x to 5.x have
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    if config.guide is not None:
        from static_edge.trainer.guided_loss import GuidedMultipleNegativesRankingLoss
        from static_edge.trainer.loading import load_static_model

        if world_size() > 1:
            raise InputError("a guide model is not supported under torchrun/accelerate yet: train in one process")
        return GuidedMultipleNegativesRankingLoss(model, load_static_model(config.guide, role="guide model"))
    return MultipleNegativesRankingLoss(model, gather_across_devices=world_size() > 1)


def end_process_group() -> None:
    """Under torchrun or accelerate: wait until rank 0 has saved, then close the process group, so no rank exits
    while gloo's threads still run (which aborts it with SIGABRT). A no-op in a single process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def mine_negatives(model, dataset):
    """Add a `negative` column: for each anchor, a highly ranked other positive (Sentence Transformers' miner).

    Data sets that already have negatives are returned unchanged.
    """
    from sentence_transformers.util import mine_hard_negatives

    if "negative" in dataset.column_names:
        return dataset
    return mine_hard_negatives(
        dataset,
        model,
        anchor_column_name="anchor",
        positive_column_name="positive",
        range_min=2,
        range_max=30,
        num_negatives=1,
        sampling_strategy="top",
        batch_size=1024,
        output_format="triplet",
        verbose=False,
    )
