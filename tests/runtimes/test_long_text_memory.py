"""Issue 21, deliverable 1: one text of any length costs a fixed working set.

A long text is tokenized in pieces (the same ids as whole, proved here on WordPiece, Unigram and byte-level BPE)
and embedded in pieces of PIECE_TOKENS (the sum of the pieces' rows over the count: the whole text's vector
within the documented tolerance, on both backends, normalized or not, unknown ids dropped or not); a 200k-token
text encodes within a peak-RSS bound in a fresh process. Also: a tokenizer id past the table is refused at load.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_builders import unigram_tokenizer, wordpiece_tokenizer
from tokenizer_families import FAMILIES, FAMILY_TEXTS
from tokenizers import Tokenizer, pre_tokenizers

from static_edge.exporter import ExportOptions, export
from static_edge.exporter.check import numpy_tolerance
from static_edge.runtimes import BundleError, load
from static_edge.runtimes.bundle import MANIFEST_FILE, TOKENIZER_FILE, file_entry
from static_edge.runtimes.embedder import PIECE_TOKENS, l2_normalize
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.tokenization import LONG_TEXT_CHARS, BundleTokenizer, long_text_pieces, split_refusal

os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "static-edge-hypothesis"))

BACKENDS = ("onnxruntime", "numpy")
TOKENIZERS = {
    "wordpiece": wordpiece_tokenizer,
    "unigram": unigram_tokenizer,
    **{f"multilingual-{name}": build for name, build in FAMILIES.items()},
}
WORDS = " ".join(PARITY_TEXTS + FAMILY_TEXTS).split(" ") + ["[MASK]", "<s>", "\u0301", "\ufc5e", "\u3000", "ﬁ"]
SEPARATORS = [" ", " ", " ", "  ", "\n", " \t ", "\u00a0", "", ".", " \n "]


def long_text(chars: int, seed: int = 0) -> str:
    """Words of every script of the test sets (added tokens, combining marks, compatibility characters), joined
    by assorted whitespace, until `chars` characters."""
    rng = random.Random(seed)
    parts, size = [], 0
    while size < chars:
        parts.append(rng.choice(WORDS) + rng.choice(SEPARATORS))
        size += len(parts[-1])
    return "".join(parts)


@pytest.fixture(scope="module", params=sorted(TOKENIZERS))
def tokenizer_file(request, tmp_path_factory) -> Path:
    """Each tokenizer family, saved as a tokenizer.json."""
    path = tmp_path_factory.mktemp("tok") / f"{request.param}.json"
    TOKENIZERS[request.param]().save(str(path))
    return path


def whole_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    """The ids of `text` tokenized whole, the reference for the pieces."""
    return tokenizer.encode(text, add_special_tokens=False).ids


# tokenization: the pieces' ids are the whole text's ids


def test_the_test_tokenizers_are_all_split(tokenizer_file):
    """The test tokenizers are all split."""
    assert split_refusal(Tokenizer.from_file(str(tokenizer_file))) is None


@pytest.mark.slow  # cuts long texts of many tokenizers at every position
@pytest.mark.parametrize("seed", [0, 1])
def test_pieces_give_the_ids_of_the_whole_text(tokenizer_file, seed):
    """Pieces give the ids of the whole text."""
    tok = BundleTokenizer(tokenizer_file)
    tok.fast = None  # tokenizers itself: nanotoken's WordPiece takes any length whole at 8 bytes a token
    text = long_text(3 * LONG_TEXT_CHARS, seed)
    ids, lengths = tok.flat(["a short text", text, "", text[:100]])
    assert lengths[1] > 10_000
    assert ids.tolist() == [i for t in ["a short text", text, "", text[:100]] for i in whole_ids(tok.tokenizer, t)]
    # small pieces: hundreds of cuts, each one where it could break
    pieces = list(long_text_pieces(text, 40))
    assert len(pieces) > 1000 and "".join(pieces) == text
    joined = [i for encoding in tok.tokenizer.encode_batch(pieces, add_special_tokens=False) for i in encoding.ids]
    assert joined == whole_ids(tok.tokenizer, text)


@pytest.mark.parametrize("max_length", [7, 512, 30_000])
def test_truncation_stops_at_max_length_with_the_whole_texts_ids(tokenizer_file, max_length):
    """Truncation stops at max length with the whole texts ids."""
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length)
    tok = BundleTokenizer(tokenizer_file)
    tok.tokenizer, tok.max_length, tok.fast = tokenizer, max_length, None
    text = long_text(2 * LONG_TEXT_CHARS)
    assert tok.long_text_ids(text).tolist() == whole_ids(tokenizer, text)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.sampled_from(WORDS + SEPARATORS + ["a", "1", "!", "\t", "\u200d", "😀", "ß"]), max_size=120))
def test_any_cut_of_any_text_gives_the_whole_ids(parts):
    """Any cut of any text gives the whole ids."""
    text = "".join(parts)
    for tokenizer in property_tokenizers():
        pieces = list(long_text_pieces(text, 6))
        joined = [i for e in tokenizer.encode_batch(pieces, add_special_tokens=False) for i in e.ids] if text else []
        assert joined == whole_ids(tokenizer, text), (text, pieces)


@functools.cache
def property_tokenizers() -> list[Tokenizer]:
    """One tokenizer per family, built once for the property tests."""
    return [build() for build in TOKENIZERS.values()]


def test_a_text_without_a_safe_space_is_one_piece():
    """A text without a safe space is one piece."""
    assert list(long_text_pieces("汉字" * 50_000, 100)) == ["汉字" * 50_000]
    assert list(long_text_pieces("word \t" * 10, 4)) == ["word", " \tword", *[" \tword"] * 8, " \t"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: setattr(t, "pre_tokenizer", None), "no pre-tokenizer"),
        (lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.Split(" ", "isolated")), "Split"),
        (lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.Metaspace(split=False)), "Metaspace (no split)"),
        (lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.Punctuation()), "does not split at spaces"),
        (lambda t: t.enable_truncation(10, direction="left"), "truncates from the left"),
    ],
)
def test_a_tokenizer_that_cannot_be_cut_is_tokenized_whole(tmp_path, change, reason):
    """A tokenizer that cannot be cut is tokenized whole."""
    tokenizer = unigram_tokenizer()
    change(tokenizer)
    tokenizer.save(str(tmp_path / "t.json"))
    tok = BundleTokenizer(tmp_path / "t.json")
    assert reason in tok.whole_text_reason
    text = long_text(LONG_TEXT_CHARS + 1000)
    assert tok.flat([text])[0].tolist() == whole_ids(tok.tokenizer, text)


def test_an_added_token_that_strips_to_its_right_refuses_cuts():
    """An added token that strips to its right refuses cuts."""
    from tokenizers import AddedToken

    tokenizer = wordpiece_tokenizer()
    tokenizer.add_special_tokens([AddedToken("<eat>", rstrip=True)])
    assert "<eat>" in split_refusal(tokenizer)
    tokenizer = wordpiece_tokenizer()
    tokenizer.add_tokens(["new york"])
    assert "new york" in split_refusal(tokenizer)


# embedding: pieces of PIECE_TOKENS give the whole text's vector


@pytest.fixture(scope="module")
def unigram_bundle(st_unigram, tmp_path_factory) -> Path:
    """Normalized (a Normalize module): the graph L2-normalizes sentence_embedding."""
    options = ExportOptions(int8=True, fp16=True, int4=True, int2=True)
    return export(st_unigram, tmp_path_factory.mktemp("long") / "ug", options)


def exact_mean(model, ids: np.ndarray) -> np.ndarray:
    """The text's vector in float64 from the decoded table: what any piece size must approach."""
    counted = np.ones(len(ids)) if not model.manifest.mask_unknown else (ids != model.manifest.unk_token_id)
    scales = np.ones(len(ids)) if model.scales is None else model.scales[ids].astype(np.float64)
    mean = (model.table[ids].astype(np.float64) * (counted * scales)[:, None]).sum(0) / max(counted.sum(), 1)
    return l2_normalize(mean[None])[0] if model.manifest.normalize else mean


@pytest.mark.slow  # encodes long texts on every bundle, variant and backend
@pytest.mark.parametrize(
    ("bundle_name", "variant"),
    [
        *[("st_bundle", v) for v in ("fp32", "fp16", "int8")],
        *[("unigram_bundle", v) for v in ("fp32", "int8", "int4", "int2")],
        *[("m2v_bundle", v) for v in ("fp32", "int8")],
    ],
)
def test_pieces_equal_the_whole_text_on_both_backends(request, bundle_name, variant):
    """Pieces equal the whole text on both backends."""
    bundle = request.getfixturevalue(bundle_name)
    npy, ort = load(bundle, variant, backend="numpy"), load(bundle, variant)
    rng = np.random.default_rng(3)
    vocab, unk = npy.manifest.vocab_size, npy.manifest.unk_token_id
    texts = [
        rng.integers(0, vocab, PIECE_TOKENS),  # the longest text computed whole
        rng.integers(0, vocab, PIECE_TOKENS + 1),  # a last piece of one id
        np.tile(rng.integers(0, vocab, 4), 70_000),  # a short cycle: rounding errors that do not cancel
        rng.integers(0, 5, 3 * PIECE_TOKENS),  # [PAD], [UNK] and specials only
        np.full(2 * PIECE_TOKENS + 5, unk if unk is not None else 1),  # all unknown: zero vector under mask_unknown
        rng.integers(0, vocab, 7),
    ]
    ids, lengths = np.concatenate(texts).astype(np.int64), np.array([len(t) for t in texts], dtype=np.int64)
    tolerance = numpy_tolerance(int(lengths.max()), npy.largest_value())
    a, b = ort.embed_tokens(ids, lengths, 2), npy.embed_tokens(ids, lengths)
    for text, x, y in zip(texts, a, b, strict=True):
        exact = exact_mean(npy, text)
        assert np.abs(y - exact).max() <= 1e-7  # numpy: the exact mean at any length
        assert np.abs(x - exact).max() <= numpy_tolerance(PIECE_TOKENS, npy.largest_value())  # pieces cap the error
        assert np.abs(x - y).max() <= tolerance
    if npy.manifest.mask_unknown:
        assert not a[4].any() and not b[4].any()
    # the whole-text path of each backend (one graph call, one reduceat) agrees with the pieces
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    for model, pieces in ((ort, a), (npy, b)):
        whole = np.stack([model._embed(ids, starts[i : i + 1], lengths[i : i + 1])[0] for i in range(len(texts))])
        assert np.abs(whole - pieces).max() <= tolerance


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_long_text_encodes_as_its_tokenize_and_embed_tokens_halves(st_bundle, backend):
    """A long text encodes as its tokenize and embed tokens halves."""
    model = load(st_bundle, backend=backend)
    texts = ["short", long_text(LONG_TEXT_CHARS * 2), "another short one"]
    ids, lengths = model.tokenize(texts)
    assert lengths[1] > PIECE_TOKENS
    np.testing.assert_array_equal(model.encode(texts), model.embed_tokens(ids, lengths))
    np.testing.assert_array_equal(model.encode(texts[:1]), model.encode(texts)[:1])


# memory: a fresh process per case, peak RSS above the idle process

RSS_WORKER = """
import json, sys
from pathlib import Path
from static_edge.runtimes import load

def status_mb(field):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024

model = load(sys.argv[1], backend=sys.argv[2])
model.encode(["warm up", "the quick brown fox"] * 100)
text = " ".join(["the quick brown fox jumps over the lazy dog near the river bank ."] * (int(sys.argv[3]) // 13))
Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
idle = status_mb("VmRSS")
ids, lengths = model.tokenize([text])
vector = model.encode([text])
print(json.dumps({"tokens": int(lengths[0]), "peak_above_idle_mb": status_mb("VmHWM") - idle}))
"""


def peak_rss_above_idle(bundle: Path, backend: str, tokens: int, env: dict[str, str]) -> dict:
    """Run RSS_WORKER in a fresh process: its peak RSS (VmHWM) while tokenizing and encoding one long text."""
    command = [sys.executable, "-c", RSS_WORKER, str(bundle), backend, str(tokens)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # end to end: peak memory of a 200k-token text in a child process
@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc/self/clear_refs")
@pytest.mark.parametrize("library", ["default", "tokenizers"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_200k_token_text_stays_within_a_fixed_working_set(st_bundle, backend, library):
    """Whole, this text took ~460 MB on onnxruntime (128 dims) and ~95 MB more in tokenizers' Encoding."""
    env = {"STATIC_EDGE_TOKENIZER": "tokenizers"} if library == "tokenizers" else {}
    result = peak_rss_above_idle(st_bundle, backend, 200_000, env)
    assert result["tokens"] >= 200_000
    assert result["peak_above_idle_mb"] < 80, result


# load: a tokenizer id past the table is refused


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tokenizer_id_past_the_table_is_refused_at_load(st_bundle, tmp_path, backend):
    """The vocabulary keeps its size (so a size check passes) but one token's id moves past the last row."""
    bundle = shutil.copytree(st_bundle, tmp_path / "b")
    data = json.loads((bundle / TOKENIZER_FILE).read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    token = next(t for t, i in vocab.items() if i == len(vocab) - 10)
    vocab[token] = len(vocab) + 100
    (bundle / TOKENIZER_FILE).write_text(json.dumps(data), encoding="utf-8")
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["files"][TOKENIZER_FILE] = file_entry(bundle / TOKENIZER_FILE)
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert Tokenizer.from_file(str(bundle / TOKENIZER_FILE)).get_vocab_size(True) == manifest["vocab_size"]
    with pytest.raises(
        BundleError, match=f"vocab_size = {len(vocab)} but the tokenizer's vocabulary .* {len(vocab) + 101}"
    ):
        load(bundle, backend=backend)
