"""The corpus vectors `static-edge web` ships with its page: int8 with one symmetric scale, packed sign bits above
a size threshold, a manifest with every file's sha256, and the ranking the page computes (`web_corpus.rank`)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from static_edge.cli import main
from static_edge.runtimes import load
from static_edge.runtimes.binary import hamming_distances, to_ubinary, unpack_signs
from static_edge.runtimes.bundle import bundle_digest, read_manifest
from static_edge.runtimes.web_corpus import (
    BINARY_ABOVE_BYTES,
    BINARY_FILE,
    CORPUS_MANIFEST,
    INT8_FILE,
    PASSAGES_FILE,
    choose_kind,
    corpus_files,
    corpus_vectors,
    normalized,
    quantize_int8,
    rank,
    read_corpus_vectors,
)
from static_edge.runtimes.web_page import CORPUS_META, write_web_page


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    """300 random 40-dim vectors of mixed norms, one of them zero."""
    rng = np.random.default_rng(7)
    out = rng.normal(size=(300, 40)).astype(np.float32) * rng.uniform(0.1, 5, size=(300, 1)).astype(np.float32)
    out[5] = 0  # a zero vector stays zero
    return out


def test_int8_uses_one_symmetric_scale_for_the_normalized_corpus(vectors):
    """int8 uses one symmetric scale for the normalized corpus."""
    int8, scale = quantize_int8(vectors)
    unit = normalized(vectors)
    assert int8.dtype == np.int8 and int8.shape == vectors.shape
    assert scale == pytest.approx(np.abs(unit).max() / 127)
    assert np.abs(int8).max() == 127 and int8.min() >= -127
    assert np.abs(int8 * scale - unit).max() <= scale / 2 + 1e-7
    assert not int8[5].any()


def test_binary_bits_are_the_packed_signs_and_unpack_to_them(vectors):
    """Binary bits are the packed signs and unpack to them."""
    shipped = corpus_vectors(vectors, "binary")
    assert shipped.kind == "binary"
    assert np.array_equal(shipped.bits, np.packbits(vectors > 0, axis=-1))
    signs = unpack_signs(shipped.bits, vectors.shape[1])
    nonzero = vectors != 0
    assert np.array_equal(signs[nonzero] > 0, vectors[nonzero] > 0)


def test_binary_is_chosen_above_the_size_threshold():
    """Binary is chosen above the size threshold."""
    dims = 256
    limit = BINARY_ABOVE_BYTES // dims
    assert choose_kind(limit, dims) == "int8"
    assert choose_kind(limit + 1, dims) == "binary"
    assert choose_kind(10, dims, "binary") == "binary" and choose_kind(10**7, dims, "int8") == "int8"
    with pytest.raises(ValueError, match="unknown vector kind"):
        choose_kind(10, dims, "float16")


def test_corpus_files_record_every_file_and_read_back(vectors):
    """Corpus files record every file and read back."""
    passages = [f"passage {i}" for i in range(len(vectors))]
    for kind, names in (("int8", {PASSAGES_FILE, INT8_FILE}), ("binary", {PASSAGES_FILE, INT8_FILE, BINARY_FILE})):
        files = corpus_files(passages, vectors, "int4", "ab" * 32, kind)
        manifest, shipped = read_corpus_vectors(files)
        assert set(manifest["files"]) == names and set(files) == names | {CORPUS_MANIFEST}
        for name, record in manifest["files"].items():
            assert record == {"bytes": len(files[name]), "sha256": hashlib.sha256(files[name]).hexdigest()}
        assert json.loads(files[PASSAGES_FILE]) == passages
        assert manifest["passages"] == len(passages) and manifest["dims"] == vectors.shape[1]
        assert (manifest["variant"], manifest["bundle_digest"], manifest["vectors"]) == ("int4", "ab" * 32, kind)
        assert np.array_equal(shipped.int8, quantize_int8(vectors)[0])
    with pytest.raises(ValueError, match="3 passages but 300 vectors"):
        corpus_files(passages[:3], vectors, "int4", "ab" * 32)


def test_rank_orders_by_the_int8_dot_product_and_rescores_binary_candidates(vectors):
    """Rank orders by the int8 dot product and rescores binary candidates."""
    query = vectors[17] + 0.3 * vectors[40]
    int8_only = corpus_vectors(vectors, "int8")
    hits = rank(int8_only, query, k=10)
    dots = int8_only.int8.astype(np.int64) @ np.rint(
        normalized(query[None])[0] / (np.abs(normalized(query[None])).max() / 127)
    )
    assert [i for i, _ in hits] == np.lexsort((np.arange(len(dots)), -dots))[:10].tolist()
    cosines = normalized(vectors) @ normalized(query[None])[0]
    assert hits[0][0] == int(np.argmax(cosines)) and hits[0][1] == pytest.approx(cosines.max(), abs=0.02)
    binary = corpus_vectors(vectors, "binary")
    assert rank(binary, query, k=10, rescore=len(vectors)) == hits  # every passage a candidate: the int8 ranking
    distances = hamming_distances(to_ubinary(query[None]), binary.bits)[0]
    candidates = set(np.lexsort((np.arange(len(distances)), distances))[:20].tolist())
    assert {i for i, _ in rank(binary, query, k=10, rescore=2)} <= candidates


def test_the_page_ships_the_corpus_encoded_by_the_variant_it_loads(st_bundle, tmp_path):
    """write_web_page encodes with the manifest's default_variant (the page's), names the corpus manifest's sha256 in
    the page, and drops a binary file left by an earlier, larger corpus."""
    import shutil

    bundle = shutil.copytree(st_bundle, tmp_path / "bundle")
    passages = ["It will rain tomorrow.", "The match ended 2-1.", "Bake the bread for forty minutes."]
    web = write_web_page(bundle, passages, vectors="binary")
    assert (web / BINARY_FILE).is_file()
    web = write_web_page(bundle, passages)
    files = {name: (web / name).read_bytes() for name in (CORPUS_MANIFEST, PASSAGES_FILE, INT8_FILE)}
    manifest, shipped = read_corpus_vectors(files)
    variant = read_manifest(bundle).default_variant
    assert manifest["variant"] == variant and manifest["vectors"] == "int8" and not (web / BINARY_FILE).exists()
    assert manifest["bundle_digest"] == bundle_digest(bundle)
    assert np.array_equal(shipped.int8, quantize_int8(load(bundle, variant=variant).encode(passages))[0])
    digest = hashlib.sha256(files[CORPUS_MANIFEST]).hexdigest()
    assert CORPUS_META.format(digest=digest) in (web / "index.html").read_text()


def test_a_page_without_ort_drops_the_ort_files_of_an_earlier_page(st_bundle, tmp_path, monkeypatch):
    """An earlier --ort page's onnxruntime-web files go: the new page's import map has no integrity for them."""
    import shutil

    from static_edge.runtimes.web_page import NODE_MODULES_ENV, ORT_VENDOR_FILES

    modules = tmp_path / "node_modules"
    for source in ORT_VENDOR_FILES:
        (modules / source).parent.mkdir(parents=True, exist_ok=True)
        (modules / source).write_text("export default {};\n")
    monkeypatch.setenv(NODE_MODULES_ENV, str(modules))
    bundle = shutil.copytree(st_bundle, tmp_path / "bundle")
    web = write_web_page(bundle, ["one passage"], ort=True)
    assert all((web / "vendor" / name).is_file() for name in ORT_VENDOR_FILES.values())
    web = write_web_page(bundle, ["one passage"])
    assert not any((web / "vendor" / name).exists() for name in ORT_VENDOR_FILES.values())
    assert (web / "vendor" / "tokenizers.min.mjs").is_file()


def test_a_folder_where_the_page_writes_a_file_is_refused_before_anything_is_written(st_bundle, tmp_path, capsys):
    """A folder at web/corpus.json (or web/corpus.ubin): one error line naming it, exit 2, the old page untouched."""
    import shutil

    bundle = shutil.copytree(st_bundle, tmp_path / "bundle")
    web = write_web_page(bundle, ["one passage"])
    before = {p.name: p.read_bytes() for p in web.iterdir() if p.is_file()}
    for name in (PASSAGES_FILE, BINARY_FILE):
        (web / name).unlink(missing_ok=True)
        (web / name).mkdir()
        corpus = tmp_path / "corpus.txt"
        corpus.write_text("another passage\n", encoding="utf-8")
        assert main(["web", str(bundle), "--corpus", str(corpus)]) == 2
        assert f"{web / name} is a folder where static-edge web writes a file" in capsys.readouterr().err
        assert (web / "index.html").read_bytes() == before["index.html"]
        (web / name).rmdir()


@pytest.mark.slow  # a child process, killed by SIGTERM while it writes the page
def test_a_page_write_stopped_by_sigterm_leaves_no_temporary_file(st_bundle, tmp_path):
    """SIGTERM while web/ is written: exit 143 and no temporary file beside the page's files."""
    import shutil
    import subprocess
    import sys

    bundle = shutil.copytree(st_bundle, tmp_path / "bundle")
    code = (
        "import os, signal; from static_edge.runtimes import staging, web_page\n"
        "calls = []\n"
        "def mode(path):\n"
        "    calls.append(path)\n"
        "    if len(calls) == 3: os.kill(os.getpid(), signal.SIGTERM)\n"
        "staging.ordinary_mode = mode\n"
        f"web_page.write_web_page({str(bundle)!r}, ['one passage', 'another'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 143, result.stderr
    assert [p.name for p in (bundle / "web").rglob("*.tmp")] == []


def test_cli_vectors_option(st_bundle, tmp_path, capsys):
    """CLI vectors option."""
    import shutil

    bundle = shutil.copytree(st_bundle, tmp_path / "bundle")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("one passage\nanother passage\n\n", encoding="utf-8")
    assert main(["web", str(bundle), "--corpus", str(corpus), "--vectors", "binary"]) == 0
    manifest = json.loads((bundle / "web" / CORPUS_MANIFEST).read_text())
    assert manifest["vectors"] == "binary" and manifest["passages"] == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["web", str(bundle), "--vectors", "float16"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err
