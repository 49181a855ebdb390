"""Small real models built here: tokenizers trained on the sample corpus, tables saved by the real libraries."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.samples import sample_corpus

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def training_text() -> list[str]:
    """The texts the test tokenizers are trained on."""
    # The corpus plus part of the parity set, so accents and some CJK are in the vocabulary
    # while the hieroglyphs and most emoji stay unknown.
    return sample_corpus() + PARITY_TEXTS[:8] * 3


def wordpiece_tokenizer(vocab_size: int = 1500) -> Tokenizer:
    """A BERT-style WordPiece tokenizer, with the [CLS] ... [SEP] post-processor BERT has."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, clean_text=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(training_text(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return tok


def unigram_tokenizer(vocab_size: int = 800) -> Tokenizer:
    """A SentencePiece-style Unigram tokenizer (Metaspace, NFKC), as XLM-R and T5 use."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<unk>", "<s>", "</s>"],
        unk_token="<unk>",
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer)
    return tok


def random_table(vocab: int, dims: int, seed: int) -> np.ndarray:
    """A reproducible float32 [vocab, dims] table of small normal values."""
    return np.random.default_rng(seed).normal(0, 0.1, size=(vocab, dims)).astype(np.float32)


def save_sentence_transformers(tokenizer: Tokenizer, table: np.ndarray, folder: Path, normalize: bool = False) -> Path:
    """Save `table` as a Sentence Transformers static model with the project's one builder (trainer.st_compat)."""
    from static_edge.trainer.st_compat import sentence_transformer_from_table

    sentence_transformer_from_table(tokenizer, table, normalize).save(str(folder))
    return folder


def augment(sentence: str, rng: random.Random) -> str:
    """A noisy paraphrase for training pairs: one word dropped (of longer sentences), lower case, no end mark."""
    words = sentence.rstrip(".?!").split()
    if len(words) > 3:
        words.pop(rng.randrange(len(words)))
    return " ".join(words).lower()


def save_tiny_bert(tokenizer: Tokenizer, folder: Path, hidden_size: int = 64) -> Path:
    """A real (tiny, randomly initialized) one-layer BERT with `tokenizer`, saved by transformers: a teacher that
    model2vec distils and Sentence Transformers loads (with mean pooling)."""
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=hidden_size,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=hidden_size,
    )
    BertModel(config).save_pretrained(folder)
    special = {"unk_token": "[UNK]", "pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]"}
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, mask_token="[MASK]", **special).save_pretrained(folder)
    return Path(folder)


def edit_manifest(bundle: Path, **changes) -> None:
    """Set top-level keys of the bundle's manifest (its file hashes are left as they are)."""
    import json

    from static_edge.runtimes.bundle import MANIFEST_FILE

    path = bundle / MANIFEST_FILE
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def set_table_value(row: int, value: float, column: int = 0):
    """An edit for `rewrite_variant` that sets one value of the table: `table[row, column] = value`."""

    def edit(table, scales):
        table[row, column] = value
        return table, scales

    return edit


def set_row_scale(row: int, value: float):
    """An edit for `rewrite_variant` that sets one row's scale (a quantized variant's) to `value`."""

    def edit(table, scales):
        scales = scales.copy()
        scales[row] = value
        return table, scales

    return edit


def rewrite_variant(bundle: Path, variant: str, edit) -> None:
    """Rewrite one variant's table and row scales with `edit(table, scales) -> (table, scales)`, and its size and
    sha256 in the manifest, as someone editing a bundle would (its hashes then agree with the edited file)."""
    import json

    import onnx

    from static_edge.exporter.graph import build_graph
    from static_edge.runtimes.bundle import MANIFEST_FILE, VARIANT_FILES, file_entry, read_manifest
    from static_edge.runtimes.numpy_embedder import read_initializers

    path = bundle / VARIANT_FILES[variant]
    names = ("embedding_table",) if variant in ("fp32", "fp16") else ("embedding_table", "embedding_row_scales")
    arrays = read_initializers(path, names)
    table, scales = edit(arrays["embedding_table"].copy(), arrays.get("embedding_row_scales"))
    manifest = read_manifest(bundle)
    bits = {"int4": 4, "int2": 2}.get(variant, 4)
    graph = build_graph(table, scales, normalize=manifest.normalize, dims=manifest.dims, bits=bits)
    onnx.save_model(graph, str(path))
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    data["files"][VARIANT_FILES[variant]] = file_entry(path, data["files"][VARIANT_FILES[variant]]["dtype"])
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))
