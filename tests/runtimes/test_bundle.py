"""Reading a bundle (runtimes/bundle.py): malformed manifests are bundle errors, every file must lie inside the
bundle, and a pinned digest catches a manifest whose hashes were rewritten."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from model_builders import edit_manifest

from static_edge.cli import main
from static_edge.exporter.check import check_bundle
from static_edge.exporter.graph import build_graph
from static_edge.runtimes import BundleError, load
from static_edge.runtimes.bundle import (
    MANIFEST_FILE,
    TOKENIZER_FILE,
    VARIANT_FILES,
    bundle_digest,
    file_entry,
    read_manifest,
    verify_files,
)
from static_edge.runtimes.errors import InputError
from static_edge.runtimes.numpy_embedder import read_initializers

BACKENDS = ("onnxruntime", "numpy")


def test_ids_outside_the_vocabulary_are_refused(bundle):
    """ids outside the vocabulary are refused."""
    vocab = read_manifest(bundle).vocab_size
    for key in ("pad_token_id", "unk_token_id"):
        edit_manifest(bundle, **{key: vocab + 3})
        with pytest.raises(BundleError, match=f"'{key}' is {vocab + 3}, outside the vocabulary"):
            load(bundle, backend="numpy")
        edit_manifest(bundle, pad_token_id=0, unk_token_id=1)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"dims": "16"}, "'dims' must be an integer"),
        ({"dims": 16.0}, "'dims' must be an integer"),
        ({"dims": True}, "'dims' must be an integer"),
        ({"dims": 0}, "'dims' must be at least 1"),
        ({"normalize": "false"}, "'normalize' must be true or false"),
        ({"files": []}, "'files' must be an object"),
        ({"files": {"tokenizer.json": "abc"}}, "files\\['tokenizer.json'\\] must be an object"),
        ({"files": {"tokenizer.json": {"bytes": "1", "sha256": "0" * 64, "dtype": None}}}, "'bytes'"),
        ({"files": {"tokenizer.json": {"bytes": 1, "dtype": None}}}, "lacks 'sha256'"),
        ({"source": None}, "'source' must be an object"),
        ({"format_version": "1"}, "'format_version' must be an integer"),
        ({"max_length": -1}, "'max_length' must be at least 1"),
        ({"pad_token_id": [0]}, "'pad_token_id' must be an integer"),
        ({"default_variant": {"fp32": 1}}, "'default_variant' must be a string"),
        ({"pooling": "cls"}, "'pooling'"),
        ({"parity": "passed"}, "'parity' must be an object or null"),
    ],
)
def test_malformed_manifest_values_are_bundle_errors(bundle, changes, named):
    """Malformed manifest values are bundle errors."""
    edit_manifest(bundle, **changes)
    with pytest.raises(BundleError, match=named):
        load(bundle)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "must hold a JSON object"),
        (b'{"dims": NaN}', "NaN, which is not JSON"),
        (b"[" * 100_000, "nests too deeply|not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_unreadable_manifest_files_are_bundle_errors(bundle, content, named, capsys):
    """Unreadable manifest files are bundle errors."""
    (bundle / MANIFEST_FILE).write_bytes(content)
    with pytest.raises(BundleError, match=named):
        load(bundle)
    assert main(["encode", str(bundle), "text"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


# every file inside the bundle


@pytest.mark.parametrize("name", [TOKENIZER_FILE, VARIANT_FILES["fp32"], MANIFEST_FILE])
@pytest.mark.parametrize("verify", [True, False])
def test_a_file_that_links_out_of_the_bundle_is_refused(bundle, tmp_path, name, verify):
    """A file that links out of the bundle is refused."""
    outside = tmp_path / "outside" / Path(name).name
    outside.parent.mkdir()
    shutil.copy(bundle / name, outside)  # the same bytes: only where it lives is wrong
    (bundle / name).unlink()
    (bundle / name).symlink_to(outside)
    with pytest.raises(BundleError, match="leads outside the bundle folder"):
        load(bundle, variant="fp32", verify=verify)


def test_a_link_inside_the_bundle_is_allowed(bundle):
    """A link inside the bundle is allowed."""
    real = bundle / "onnx" / "real-model.onnx"
    (bundle / VARIANT_FILES["fp32"]).rename(real)
    (bundle / VARIANT_FILES["fp32"]).symlink_to(real)
    assert load(bundle, variant="fp32").encode(["fine"]).shape == (1, 16)


@pytest.mark.parametrize("name", ["../secret.txt", "onnx/../../secret.txt", "/etc/hostname", "", "a\\..\\b"])
def test_manifest_paths_that_leave_the_bundle_are_refused(bundle, tmp_path, name):
    """Manifest paths that leave the bundle are refused."""
    (tmp_path / "secret.txt").write_text("secret")
    parsed = read_manifest(bundle)
    parsed.files[name] = file_entry(tmp_path / "secret.txt")  # a Manifest built in code skips the parser's check
    with pytest.raises(BundleError, match="not a plain path inside the bundle"):
        verify_files(bundle, parsed)
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    data["files"][name] = file_entry(tmp_path / "secret.txt")
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="not a plain path inside the bundle"):
        read_manifest(bundle)


# pinning


def test_export_and_check_print_the_digest_that_pins_the_bundle(st_wordpiece, tmp_path, capsys):
    """Export and check print the digest that pins the bundle."""
    out = tmp_path / "pinned"
    assert main(["export", str(st_wordpiece), "--dims", "16", "-o", str(out)]) == 0
    printed = re.findall(r"bundle digest \(sha256\): ([0-9a-f]{64})", capsys.readouterr().out)
    assert printed == [bundle_digest(out)]
    assert main(["check", str(out)]) == 0  # rewrites the manifest with its report ...
    assert re.findall(r"bundle digest \(sha256\): ([0-9a-f]{64})", capsys.readouterr().out) == printed
    assert read_manifest(out).parity["passed"] is True
    for backend in BACKENDS:  # ... and the pin still holds
        assert load(out, backend=backend, sha256=printed[0]).encode(["pinned"]).shape == (1, 16)
    assert main(["encode", str(out), "[/oops]", "--sha256", printed[0]]) == 0
    assert "'[/oops]': dims=16" in capsys.readouterr().out


def test_a_wrong_or_malformed_pin_is_refused(bundle, capsys):
    """A wrong or malformed pin is refused."""
    digest = bundle_digest(bundle)
    other = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    with pytest.raises(BundleError, match="not the pinned"):
        load(bundle, sha256=other)
    with pytest.raises(InputError, match="64 hex digits"):
        load(bundle, sha256="abc")
    assert load(bundle, sha256=digest.upper()).dims == 16
    assert main(["encode", str(bundle), "x", "--sha256", other]) == 2
    assert "not the one you pinned" in capsys.readouterr().err


def _swap_in_table(bundle: Path, table: np.ndarray) -> None:
    """Replace the fp32 graph by one over `table` and rewrite its size and sha256 in the manifest (an attacker)."""
    manifest = read_manifest(bundle)
    graph = build_graph(table, normalize=manifest.normalize)
    onnx.save_model(graph, str(bundle / VARIANT_FILES["fp32"]))
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    data["files"][VARIANT_FILES["fp32"]] = file_entry(bundle / VARIANT_FILES["fp32"], "float32")
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))


def test_rewritten_hashes_load_without_a_pin_but_not_with_one(bundle):
    """Rewritten hashes load without a pin but not with one."""
    digest = bundle_digest(bundle)
    table = read_initializers(bundle / VARIANT_FILES["fp32"], ("embedding_table",))["embedding_table"]
    _swap_in_table(bundle, -table)  # a plausible, finite, different model
    assert load(bundle, variant="fp32").encode(["swapped"]).shape == (1, 16)  # the hashes match: nothing else tells
    with pytest.raises(BundleError, match="not the pinned"):
        load(bundle, variant="fp32", sha256=digest)


def test_a_nan_table_with_rewritten_hashes_is_refused(bundle):
    """A NaN table with rewritten hashes is refused."""
    digest = bundle_digest(bundle)
    table = read_initializers(bundle / VARIANT_FILES["fp32"], ("embedding_table",))["embedding_table"].copy()
    table[42, 3] = np.nan
    _swap_in_table(bundle, table)
    with pytest.raises(BundleError, match="not the pinned"):
        load(bundle, variant="fp32", sha256=digest)
    for backend in BACKENDS:  # the load-time scan refuses it even without a pin
        with pytest.raises(BundleError, match="NaN or infinity in row 42"):
            load(bundle, variant="fp32", backend=backend)
    vectors = load(bundle, variant="fp32", verify=False).encode(["anything"])  # verify=False: the caller's choice
    assert vectors.shape == (1, 16)


def test_check_keeps_the_digest(bundle):
    """Check keeps the digest."""
    digest = bundle_digest(bundle)
    check_bundle(bundle, write=True)
    assert read_manifest(bundle).parity is not None
    assert bundle_digest(bundle) == digest
    edit_manifest(bundle, normalize=not read_manifest(bundle).normalize)
    assert bundle_digest(bundle) != digest  # everything but the reports is covered


def test_a_lone_surrogate_escape_in_the_manifest(bundle):
    """A lone surrogate escape in the manifest."""
    text = (bundle / MANIFEST_FILE).read_text()
    (bundle / MANIFEST_FILE).write_text(text.replace('"format_version"', '"note": "\\ud800", "format_version"', 1))
    assert load(bundle).dims == 16  # an unknown key is ignored ...
    with pytest.raises(BundleError, match="lone surrogate"):  # ... but cannot be pinned
        load(bundle, sha256="0" * 64)
