"""The hub cache, read by one rule (`runtimes.hub.snapshot`) for bundles and source models alike:
`load(id, revision=COMMIT)` works offline or with the hub unreachable when that commit is cached (as SECURITY.md
promises), and a cached snapshot whose file is a symbolic link out of the cache is refused with one line.

The caches here are built by hand in huggingface_hub's layout (snapshots/<commit>/ of symlinks into blobs/,
refs/main) without the tree listing newer huggingface_hub versions also cache: that is what a cache written by
an older version, or by `hf_hub_download` file by file, looks like, and then huggingface_hub asks the hub for
the commit's file list even when offline. One test also goes through tests/fake_hub.py end to end.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from fake_hub import FakeHub, load_in_subprocess

from static_edge.cli import main
from static_edge.exporter import ExportOptions, SourceModelError, export
from static_edge.runtimes import BundleError, load

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TEXTS = ["hello hub", "static vectors"]


def hub_cache(root: Path, repo_id: str, folder: Path) -> Path:
    """`folder`'s files as huggingface_hub caches `repo_id` at COMMIT under `root`; returns the snapshot folder."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        blob = repo / "blobs" / hashlib.sha1(path.read_bytes()).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, blob)
        link = snapshot / path.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path(*[".."] * (len(link.relative_to(repo).parts) - 1), "blobs", blob.name))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot


def unreachable_endpoint() -> str:
    """An http://127.0.0.1 address nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def cached(tmp_path, st_bundle, monkeypatch) -> tuple[Path, Path]:
    """`me/tiny` (st_bundle) cached at COMMIT, offline; yields (the bundle, its cached snapshot)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STATIC_EDGE_CACHE", str(tmp_path / "bundles"))
    monkeypatch.chdir(tmp_path)
    return st_bundle, hub_cache(tmp_path / "hub", "me/tiny", st_bundle)


def go_online_unreachable(monkeypatch) -> None:
    """Let huggingface_hub go online, to an endpoint that refuses every connection."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", unreachable_endpoint())
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")


@pytest.mark.parametrize("network", ["offline", "unreachable"])
def test_load_a_cached_commit_without_the_hub(cached, monkeypatch, network):
    """Load a cached commit without the hub."""
    bundle, _ = cached
    if network == "unreachable":
        go_online_unreachable(monkeypatch)
    model = load("me/tiny", revision=COMMIT)
    assert model.origin.commit == COMMIT and model.origin.revision == COMMIT
    np.testing.assert_array_equal(model.encode(TEXTS), load(bundle).encode(TEXTS))
    assert load("me/tiny").origin.commit == COMMIT, "the cached branch too"


def test_an_uncached_commit_offline_is_one_clear_error(cached, capsys):
    """An uncached commit offline is one clear error."""
    other = "f" * 40
    with pytest.raises(BundleError, match=r"not found: me/tiny.*HF_HUB_OFFLINE is set"):
        load("me/tiny", revision=other)


@pytest.mark.parametrize("network", ["offline", "unreachable"])
def test_export_from_a_cached_commit_without_the_hub(st_wordpiece, tmp_path, monkeypatch, network):
    """Export from a cached commit without the hub."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    hub_cache(tmp_path / "hub", "me/model", st_wordpiece)
    if network == "unreachable":
        go_online_unreachable(monkeypatch)
    out = export("me/model", tmp_path / "b", ExportOptions(dims=8), revision=COMMIT)
    assert load(out).manifest.source["revision"] == COMMIT


@pytest.mark.parametrize("planted", ["tokenizer.json", "onnx/model.onnx"])
def test_a_cached_file_linked_out_of_the_cache_is_refused(cached, tmp_path, capsys, planted):
    """A cached file linked out of the cache is refused."""
    _, snapshot = cached
    outside = tmp_path / "private.json"
    outside.write_bytes((snapshot / planted).read_bytes())  # even the right bytes: the cache must not lead out
    (snapshot / planted).unlink()
    (snapshot / planted).symlink_to(outside)
    with pytest.raises(BundleError, match=r"symbolic link to .*private.json, outside the cache"):
        load("me/tiny", revision=COMMIT)
    assert main(["encode", "me/tiny", "some text"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "outside the cache" in err, err
    assert not (tmp_path / "bundles").exists() or not any((tmp_path / "bundles").rglob("*.onnx")), "nothing copied"


def test_a_source_model_linked_out_of_the_cache_is_refused(st_wordpiece, tmp_path, monkeypatch):
    """A source model linked out of the cache is refused."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    snapshot = hub_cache(tmp_path / "hub", "me/model", st_wordpiece)
    (snapshot / "model.safetensors").unlink()
    (snapshot / "model.safetensors").symlink_to(st_wordpiece / "model.safetensors")
    with pytest.raises(SourceModelError, match="outside the cache"):
        export("me/model", tmp_path / "b", revision=COMMIT)


@pytest.mark.slow  # end to end: a fake hub server and a child process
def test_a_pushed_commit_loads_offline_and_unreachable_from_a_cache_without_tree_listings(
    st_bundle, tmp_path, monkeypatch
):
    """End to end: push, load once online, then pin the commit with the hub gone."""
    import huggingface_hub.constants
    from huggingface_hub import HfApi

    from static_edge.exporter.publish import push_bundle

    bundle = shutil.copytree(st_bundle, tmp_path / "bundle")
    home = tmp_path / "hf-home"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with FakeHub() as hub:
        commit = push_bundle(bundle, "me/pinned", api=HfApi(endpoint=hub.endpoint, token="hf_test")).commit
        assert load_in_subprocess(hub.endpoint, home, "me/pinned")["commit"] == commit
    for trees in (home / "hub").rglob("trees"):
        shutil.rmtree(trees)  # a cache without tree listings: huggingface_hub then asks the hub for the file list
    expected = load(bundle).encode(TEXTS)
    for offline in (True, False):  # HF_HUB_OFFLINE=1, then online with the hub gone
        got = load_in_subprocess(hub.endpoint, home, "me/pinned", revision=commit, offline=offline)
        assert got["commit"] == commit
        np.testing.assert_allclose(np.array(got["vectors"]), expected, atol=1e-6)
