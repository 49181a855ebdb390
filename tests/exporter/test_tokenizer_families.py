"""Three tokenizer families end to end: multilingual WordPiece, SentencePiece-style Unigram and byte-level BPE.

Each tokenizer is trained here with the `tokenizers` library on multilingual text (CJK, Cyrillic, Arabic,
Devanagari, Thai, emoji), put under a random static table saved by Sentence Transformers, exported, and
read back by every Python runtime (onnxruntime and numpy): the bundle's ids must equal the `tokenizers`
library's ids of the source tokenizer, and its vectors must equal Sentence Transformers' own encode.
The browser runtimes read the same bundles in tests/runtimes/test_tokenizer_families_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizer_families import FAMILIES, FAMILY_TEXTS, family_model
from tokenizers import Tokenizer

from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load


@pytest.fixture(scope="module")
def family_bundles(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """family -> (source model folder, exported bundle with fp32 and int8)."""
    root = tmp_path_factory.mktemp("families")
    made = {}
    for family in FAMILIES:
        model = family_model(root / f"{family}-model", family)
        made[family] = (model, export(model, root / f"{family}-bundle", ExportOptions(int8=True)))
    return made


def library_ids(model: Path, texts: list[str]) -> list[list[int]]:
    """Ids of the source model's own tokenizer.json, by the `tokenizers` library, as the static model reads them."""
    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]


def test_training_texts_cover_every_script_and_the_tests_reach_unknowns():
    """The families see all scripts; the WordPiece and Unigram vocabularies meet unknown text, byte-level BPE none."""
    tokenizers = {family: build() for family, build in FAMILIES.items()}
    unk = {f: tok.token_to_id("[UNK]" if f == "wordpiece" else "<unk>") for f, tok in tokenizers.items()}
    ids = {
        f: [e.ids for e in tok.encode_batch(FAMILY_TEXTS, add_special_tokens=False)] for f, tok in tokenizers.items()
    }
    unknown = {f: sum(i == unk[f] for row in ids[f] for i in row) for f in FAMILIES}
    assert unknown["wordpiece"] > 0 and unknown["unigram"] > 0 and unknown["bytelevel-bpe"] == 0, unknown
    # every script's test sentence maps mostly to known subwords, not a wall of unknowns
    for family, rows in ids.items():
        for text, row in zip(FAMILY_TEXTS[:11], rows[:11], strict=True):
            if family == "wordpiece" and text.startswith("สวน"):
                continue  # space-less Thai is one "word"; WordPiece maps it whole to [UNK] (as mBERT does)
            assert sum(i != unk[family] for i in row) >= 0.8 * len(row), (family, text, row)


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_bundle_ids_match_tokenizers_library_and_vectors_match_sentence_transformers(family_bundles, family, backend):
    """Bundle ids match tokenizers library and vectors match sentence transformers."""
    from sentence_transformers import SentenceTransformer

    model, bundle = family_bundles[family]
    expected = SentenceTransformer(str(model), device="cpu").encode(FAMILY_TEXTS, convert_to_numpy=True)
    for variant, tolerance in (("fp32", 1e-5), ("int8", None)):
        runtime = load(bundle, variant=variant, backend=backend)
        assert runtime.tokenizer.encode(FAMILY_TEXTS) == library_ids(model, FAMILY_TEXTS), (family, variant)
        vectors = runtime.encode(FAMILY_TEXTS)
        assert vectors.shape == expected.shape
        if tolerance is not None:
            assert np.abs(vectors - expected).max() <= tolerance, (family, backend, variant)
        else:  # int8: one scale per row; every non-empty text keeps its direction
            nonzero = np.linalg.norm(expected, axis=1) > 0
            a, b = vectors[nonzero], expected[nonzero]
            cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
            assert cosine.min() >= 0.995, (family, backend, cosine.min())
            assert np.abs(vectors[~nonzero]).max(initial=0.0) == 0.0


@pytest.mark.parametrize("family", list(FAMILIES))
def test_exported_tokenizer_file_has_no_special_tokens_and_keeps_the_family(family_bundles, family):
    """The bundle's tokenizer.json is the source's model (same vocabulary and type), minus the post-processor."""
    import json

    model, bundle = family_bundles[family]
    source = json.loads((model / "tokenizer.json").read_text())
    exported = json.loads((bundle / "tokenizer.json").read_text())
    assert exported["model"]["type"] == source["model"]["type"]
    assert exported["model"]["vocab"] == source["model"]["vocab"]
    with_specials = Tokenizer.from_file(str(bundle / "tokenizer.json")).encode("hello мир", add_special_tokens=True)
    assert with_specials.ids == library_ids(model, ["hello мир"])[0]
