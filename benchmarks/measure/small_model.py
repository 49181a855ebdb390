"""A small random static model built in seconds, offline: for the parity table and for `run_all --quick`.

A WordPiece tokenizer trained on the package's sample corpus and a random normal(0, 0.1) table: its vectors
mean nothing, but every runtime computes them the same way, which is what a parity table or a smoke run needs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from static_edge.runtimes.model_folders import is_sentence_transformers_folder


def sample_tokenizer(vocab_size: int = 2000) -> Any:
    """A lowercasing BERT-style WordPiece tokenizer trained on the sample corpus."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    from static_edge.runtimes.samples import sample_corpus

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=["[PAD]", "[UNK]"], show_progress=False)
    tokenizer.train_from_iterator(sample_corpus(), trainer)
    return tokenizer


def random_source(dims: int) -> Any:
    """The small model as an exporter source (no folder on disk), unnormalized."""
    from static_edge.exporter.sources import StaticSource

    tokenizer = sample_tokenizer()
    table = np.random.default_rng(0).normal(0, 0.1, (tokenizer.get_vocab_size(), dims)).astype(np.float32)
    return StaticSource(
        table=table,
        tokenizer=tokenizer,
        kind="sentence-transformers",
        normalize=False,
        mask_unknown=False,
        unk_token_id=tokenizer.token_to_id("[UNK]"),
        max_length=None,
        path=Path("."),
        model_id="benchmark-random-table",
        revision=None,
        weights_sha256=hashlib.sha256(table.tobytes()).hexdigest(),
    )


def write_small_model(folder: Path, dims: int = 256) -> Path:
    """The small model as a Sentence Transformers folder (StaticEmbedding, Normalize), as the recipes write them."""
    from static_edge.trainer.st_compat import sentence_transformer_from_table

    if not is_sentence_transformers_folder(folder):
        source = random_source(dims)
        sentence_transformer_from_table(source.tokenizer, source.table, normalize=True).save(str(folder))
    return folder


def write_small_bundle(model: Path, folder: Path, dims: int = 128) -> Path:
    """`model` exported at `dims` with every variant the measurements time (fp32, fp16, int8, int4)."""
    from static_edge.exporter import ExportOptions, export

    return export(model, folder, ExportOptions(dims=dims, int8=True, fp16=True, int4=True, overwrite=True))
