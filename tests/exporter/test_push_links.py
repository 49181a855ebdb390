"""`push` writes only inside the bundle and uploads only the bundle: a README.md (or any bundle file) that is a
symbolic or hard link to a file elsewhere is replaced or refused, never written through, and never uploaded.

The hub is tests/fake_hub.py on 127.0.0.1, reached by the real huggingface_hub client.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fake_hub import FakeHub, load_in_subprocess

from static_edge.cli import main
from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import read_manifest

pytestmark = pytest.mark.slow  # end to end: a fake hub server and the real client

OUTSIDE = b"---\nlicense: outside-licence\n---\n# a private file outside the bundle\nSECRET NOTES\n"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, st_wordpiece) -> Path:
    """A 16-dim int8 bundle to push."""
    return export(st_wordpiece, tmp_path_factory.mktemp("push-links") / "bundle", ExportOptions(dims=16, int8=True))


@pytest.fixture
def hub(monkeypatch):
    """A fake Hugging Face hub on 127.0.0.1 that huggingface_hub talks to, online."""
    import huggingface_hub.constants

    with FakeHub() as hub:
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_TOKEN", "hf_test")
        yield hub


def _bundle_with_outside(exported: Path, tmp_path: Path) -> tuple[Path, Path]:
    bundle = shutil.copytree(exported, tmp_path / "bundle")
    outside = tmp_path / "outside.md"
    outside.write_bytes(OUTSIDE)
    return bundle, outside


def _expected_files(bundle: Path) -> list[str]:
    return sorted({*read_manifest(bundle).files, "static_edge.json", "README.md"})


def _assert_nothing_outside_uploaded(hub: FakeHub, repo_id: str, bundle: Path) -> None:
    uploaded = hub.files(repo_id)
    assert sorted(set(uploaded) - {".gitattributes"}) == _expected_files(bundle)
    for name, data in uploaded.items():
        assert b"SECRET NOTES" not in data and b"outside-licence" not in data, name
    for name in read_manifest(bundle).files:
        assert uploaded[name] == (bundle / name).read_bytes(), name


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_push_replaces_a_linked_card_and_leaves_the_outside_file_alone(exported, tmp_path, hub, capsys, link):
    """Push replaces a linked card and leaves the outside file alone."""
    bundle, outside = _bundle_with_outside(exported, tmp_path)
    (bundle / "README.md").unlink()
    if link == "symlink":
        (bundle / "README.md").symlink_to(outside)
    else:
        os.link(outside, bundle / "README.md")
    assert main(["push", str(bundle), "me/linked-card"]) == 0, capsys.readouterr().err
    assert outside.read_bytes() == OUTSIDE, "the file outside the bundle was written through the link"
    card = bundle / "README.md"
    assert (
        not card.is_symlink() and card.stat().st_nlink == 1 and b'load("me/linked-card", variant=' in card.read_bytes()
    )
    if link == "symlink":
        _assert_nothing_outside_uploaded(hub, "me/linked-card", bundle)
    else:  # a hard link is the bundle's own file: its front matter may be read, but the outside file is not sent
        uploaded = hub.files("me/linked-card")
        assert sorted(set(uploaded) - {".gitattributes"}) == _expected_files(bundle)
        assert b"SECRET NOTES" not in uploaded["README.md"] and uploaded["README.md"] == card.read_bytes()


def test_push_uploads_only_manifest_files_whatever_else_links_out(exported, tmp_path, hub, capsys):
    """Push uploads only manifest files whatever else links out."""
    bundle, outside = _bundle_with_outside(exported, tmp_path)
    (bundle / "notes.md").symlink_to(outside)
    os.link(outside, bundle / "hardlinked-notes.md")
    (bundle / "web").symlink_to(tmp_path, target_is_directory=True)
    assert main(["push", str(bundle), "me/extra-links"]) == 0, capsys.readouterr().err
    _assert_nothing_outside_uploaded(hub, "me/extra-links", bundle)
    assert outside.read_bytes() == OUTSIDE


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_push_refuses_a_manifest_file_linked_out_of_the_bundle(exported, tmp_path, hub, capsys, link):
    """Push refuses a manifest file linked out of the bundle."""
    bundle, _ = _bundle_with_outside(exported, tmp_path)
    outside = tmp_path / "outside-tokenizer.json"
    outside.write_bytes(b'{"not": "the bundle tokenizer"}')
    (bundle / "tokenizer.json").unlink()
    if link == "symlink":
        (bundle / "tokenizer.json").symlink_to(outside)
    else:
        os.link(outside, bundle / "tokenizer.json")
    assert main(["push", str(bundle), "me/linked-file"]) == 2
    err = capsys.readouterr().err
    assert "tokenizer.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert outside.read_bytes() == b'{"not": "the bundle tokenizer"}'
    assert not any(method == "POST" for method, _ in hub.requests), "nothing was uploaded"


def test_push_of_a_bundle_loaded_from_the_hub_leaves_the_hub_cache_alone(exported, tmp_path, hub, capsys):
    """Push of a bundle loaded from the hub leaves the hub cache alone."""
    bundle = shutil.copytree(exported, tmp_path / "bundle")
    assert main(["push", str(bundle), "me/origin"]) == 0, capsys.readouterr().err
    home = tmp_path / "hf-home"
    loaded = Path(load_in_subprocess(hub.endpoint, home, "me/origin")["path"])
    assert (loaded / "README.md").stat().st_nlink > 1, "the loaded bundle's files are hard links to the hub cache"
    blobs = {p: p.read_bytes() for p in (home / "hub").rglob("blobs/*")}
    assert blobs
    assert main(["push", str(loaded), "me/republished"]) == 0, capsys.readouterr().err
    assert {p: p.read_bytes() for p in (home / "hub").rglob("blobs/*")} == blobs, "a hub-cache blob was written"
    assert b'load("me/republished", variant=' in (loaded / "README.md").read_bytes()
    assert hub.files("me/republished")["README.md"] == (loaded / "README.md").read_bytes()
    origin_card = hub.files("me/origin")["README.md"]
    assert origin_card in blobs.values(), "the cached card of the first commit is intact"
