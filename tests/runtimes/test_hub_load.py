"""load("org/name"): a hub id is told apart from a local path, downloaded with huggingface_hub, pinned and verified.

The hub is tests/fake_hub.py on 127.0.0.1, reached by the real huggingface_hub client through HF_ENDPOINT.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_hub import FakeHub

from static_edge.runtimes import BundleError, load
from static_edge.runtimes.errors import InputError
from static_edge.runtimes.hub import is_hub_id

LOAD_SCRIPT = """
import json, sys
from static_edge import load
model = load(sys.argv[1], revision=sys.argv[2] or None)
print(json.dumps({"commit": model.origin.commit, "revision": model.origin.revision, "path": str(model.path),
                  "vectors": model.encode(["hello hub", "static vectors"]).tolist()}))
"""


def _load_in_subprocess(hub: FakeHub, home: Path, repo_id: str, revision: str = "", offline: bool = False) -> dict:
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1" if offline else "0"}
    env.pop("STATIC_EDGE_CACHE", None)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, repo_id, revision], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def _push(hub: FakeHub, bundle: Path, repo_id: str, monkeypatch) -> str:
    import huggingface_hub.constants
    from huggingface_hub import HfApi

    from static_edge.exporter.publish import push_bundle

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return push_bundle(bundle, repo_id, api=HfApi(endpoint=hub.endpoint, token="hf_test")).commit


def test_a_hub_id_is_what_is_not_a_local_path(tmp_path, monkeypatch):
    """A hub id is what is not a local path."""
    monkeypatch.chdir(tmp_path)
    assert is_hub_id("org/name") and is_hub_id("sentence-transformers/static-retrieval-mrl-en-v1")
    assert not is_hub_id("./org/name") and not is_hub_id("/abs/path") and not is_hub_id("a/b/c")
    assert not is_hub_id("org/../x") and not is_hub_id("~/x") and is_hub_id(Path("org/name"))
    (tmp_path / "org" / "name").mkdir(parents=True)
    assert not is_hub_id("org/name"), "an existing folder is always local"
    with pytest.raises(BundleError, match="not found"):
        load("./missing-bundle")
    with pytest.raises(BundleError, match="not found"):
        load(tmp_path / "missing" / "deeper" / "bundle")
    with pytest.raises(InputError, match="revision= applies to hub ids"):
        load(tmp_path, revision="main")


def test_an_uncached_hub_id_offline_names_the_reason(tmp_path, monkeypatch):
    """An uncached hub id offline names the reason."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BundleError, match=r"not found: nobody/nothing.*HF_HUB_OFFLINE is set"):
        load("nobody/nothing")


@pytest.mark.slow  # end to end: a fake hub server and the real client
def test_load_downloads_pins_the_commit_and_verifies(tmp_path, st_bundle, monkeypatch):
    """Load downloads pins the commit and verifies."""
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(st_bundle, bundle)
    home = tmp_path / "hf-home"
    expected = load(bundle).encode(["hello hub", "static vectors"])
    with FakeHub() as hub:
        first = _push(hub, bundle, "me/tiny", monkeypatch)
        got = _load_in_subprocess(hub, home, "me/tiny")
        assert got["commit"] == first and got["revision"] is None
        np.testing.assert_allclose(np.array(got["vectors"]), expected, atol=1e-6)
        assert not any(p.is_symlink() for p in Path(got["path"]).rglob("*")), "a plain folder, not cache symlinks"

        # a second commit changes main; the first stays loadable by its commit
        (bundle / "README.md").write_text("# changed\n")
        second = _push(hub, bundle, "me/tiny", monkeypatch)
        assert second != first
        assert _load_in_subprocess(hub, home, "me/tiny")["commit"] == second
        pinned = _load_in_subprocess(hub, home, "me/tiny", revision=first)
        assert pinned["commit"] == first and pinned["revision"] == first

        # a commit whose model file (the variant a CPU loads by default) does not match its manifest is refused
        files = hub.repos["me/tiny"].commits[second]
        files["onnx/model.onnx"] = files["onnx/model.onnx"][:-1] + b"\1"
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "fresh"), "HF_HUB_OFFLINE": "0"}
        result = subprocess.run(
            [sys.executable, "-m", "static_edge.cli", "encode", "me/tiny", "some text"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert "onnx/model.onnx" in result.stderr and "sha256" in result.stderr, result.stderr[-2000:]
    # offline, the cached commit still loads (the hub is gone now)
    assert _load_in_subprocess(hub, home, "me/tiny", offline=True)["commit"] == second
