"""Runtimes: onnxruntime and numpy agree, batches and order are handled, bad bundles are refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from static_edge.runtimes import BundleError, load
from static_edge.runtimes.bundle import VARIANT_FILES
from static_edge.runtimes.parity_texts import PARITY_TEXTS


@pytest.mark.parametrize("variant", ["fp32", "fp16", "int8"])
def test_numpy_matches_onnxruntime(st_bundle, variant):
    """numpy matches onnxruntime."""
    ort_vectors = load(st_bundle, variant=variant).encode(PARITY_TEXTS)
    np_vectors = load(st_bundle, variant=variant, backend="numpy").encode(PARITY_TEXTS)
    assert np.abs(ort_vectors - np_vectors).max() <= 1e-6


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_batch_size_and_order_do_not_change_vectors(st_bundle, backend):
    """Batch size and order do not change vectors."""
    model = load(st_bundle, backend=backend)
    whole = model.encode(PARITY_TEXTS, batch_size=len(PARITY_TEXTS))
    one_by_one = model.encode(PARITY_TEXTS, batch_size=1)
    np.testing.assert_allclose(whole, one_by_one, atol=1e-6)
    reversed_texts = PARITY_TEXTS[::-1]
    np.testing.assert_allclose(model.encode(reversed_texts, batch_size=3)[::-1], whole, atol=1e-6)


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_only_empty_texts(st_bundle, backend):
    """Only empty texts."""
    vectors = load(st_bundle, backend=backend).encode(["", "", "   "])
    assert vectors.shape == (3, 128) and not vectors.any() and np.isfinite(vectors).all()


def test_without_a_variant_load_picks_the_fastest_on_a_cpu(st_wordpiece, tmp_path):
    """The manifest's default is the smallest (what a browser loads); Python loads the CPU-fastest it holds."""
    from static_edge.exporter import ExportOptions, export
    from static_edge.runtimes.bundle import read_manifest

    quickstart_like = export(st_wordpiece, tmp_path / "int8-int4", ExportOptions(dims=32, int8=True, int4=True))
    assert read_manifest(quickstart_like).default_variant == "int4"
    assert load(quickstart_like).variant == load(quickstart_like, backend="numpy").variant == "fp32"
    only_int4 = export(st_wordpiece, tmp_path / "int4", ExportOptions(dims=32, int4=True, fp16=True))
    assert read_manifest(only_int4).default_variant == "int4"
    assert load(only_int4, variant="fp16").variant == "fp16"
    assert load(only_int4, variant="int4").variant == "int4"


def test_default_variant_and_single_string(st_bundle):
    """Default variant and single string."""
    model = load(st_bundle)
    assert model.variant == "fp32" and model.dims == 128
    assert model.encode("hello world").shape == (1, 128)
    sims = model.similarity(["a dog runs in the park"], ["a dog runs in the park", "stock markets fell"])
    assert sims.shape == (1, 2) and sims[0, 0] == pytest.approx(1.0, abs=1e-5) and sims[0, 1] < sims[0, 0]


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_bad_texts_are_refused_with_clear_errors(st_bundle, backend):
    """Bad texts are refused with clear errors."""
    model = load(st_bundle, backend=backend)
    with pytest.raises(ValueError, match="texts is empty"):
        model.encode([])
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        model.encode(["fine", 3])
    with pytest.raises(TypeError, match="list of strings"):
        model.encode(42)
    with pytest.raises(ValueError, match="batch_size"):
        model.encode(["x"], batch_size=0)


def test_unknown_variant_and_backend(st_bundle, tmp_path, st_wordpiece):
    """Unknown variant and backend."""
    from static_edge.exporter import ExportOptions, export

    with pytest.raises(BundleError, match="unknown variant"):
        load(st_bundle, variant="int3")
    with pytest.raises(ValueError, match="unknown backend"):
        load(st_bundle, backend="tensorflow")
    fp32_only = export(st_wordpiece, tmp_path / "fp32", ExportOptions(dims=8))
    with pytest.raises(BundleError, match="no int8 variant"):
        load(fp32_only, variant="int8")


@pytest.fixture
def bundle_copy(st_bundle, tmp_path):
    """A copy of the shared bundle that a test may tamper with."""
    return shutil.copytree(st_bundle, tmp_path / "copy")


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_tampered_model_file_is_refused(bundle_copy, backend):
    """Tampered model file is refused."""
    path = bundle_copy / VARIANT_FILES["int8"]
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # same size, one byte changed
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        load(bundle_copy, variant="int8", backend=backend)


def test_truncated_and_missing_files_are_refused(bundle_copy):
    """Truncated and missing files are refused."""
    path = bundle_copy / VARIANT_FILES["fp32"]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(BundleError, match="truncated"):
        load(bundle_copy, variant="fp32")
    (bundle_copy / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match="missing"):
        load(bundle_copy, variant="int8")


def test_not_a_bundle(tmp_path):
    """Not a bundle."""
    with pytest.raises(BundleError, match="not found"):
        load(tmp_path / "nowhere")
    with pytest.raises(BundleError, match="not a static-edge bundle"):
        load(tmp_path)
    (tmp_path / "static_edge.json").write_text("{broken")
    with pytest.raises(BundleError, match="not valid JSON"):
        load(tmp_path)
    (tmp_path / "static_edge.json").write_text(json.dumps({"dims": 3}))
    with pytest.raises(BundleError, match="lacks the keys"):
        load(tmp_path)


@pytest.mark.slow  # end to end: a child process
def test_runtimes_never_import_torch_and_numpy_backend_never_imports_onnxruntime(st_bundle):
    """Runtimes never import torch and numpy backend never imports onnxruntime."""
    code = (
        "import sys; from static_edge.runtimes import load;"
        f"m = load({str(st_bundle)!r}, backend='numpy'); v = m.encode(['hello world']);"
        "assert v.shape == (1, 128);"
        "bad = [n for n in ('torch', 'onnxruntime', 'sentence_transformers', 'static_edge.exporter')"
        " if n in sys.modules];"
        "assert not bad, bad; print('clean')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr


@pytest.mark.parametrize("padded", [True, False])
def test_token_limited_batches_cover_every_text_once_within_limits(padded):
    """Token limited batches cover every text once within limits."""
    from static_edge.runtimes.embedder import token_limited_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 900, size=500)
    order = np.argsort(lengths, kind="stable") if padded else np.arange(len(lengths))
    batches = list(token_limited_batches(order, lengths, batch_size=64, padded=padded, token_budget=4096))
    assert sorted(np.concatenate(batches).tolist()) == list(range(500))
    for rows in batches:
        cost = len(rows) * lengths[rows].max() if padded else lengths[rows].sum()
        assert len(rows) <= 64 and (cost <= 4096 or len(rows) == 1)
