"""A release users can install: the wheel and sdist build and pass `twine check`, the wheel installs into an empty
venv and encodes; `npm pack` of the browser runtime installs into a scratch project and encodes in Node."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

import static_edge
from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import load
from static_edge.runtimes.web_server import serving as served

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "runtimes" / "web"
TEXTS = ["a dog runs in the park", "stock markets fell", "naïve café"]
NODE_SCRIPT = """
import { StaticEmbedder } from "static-edge-web";
const [url, textsJson] = process.argv.slice(2);
const model = await StaticEmbedder.load(url, { variant: "int8" });
const vectors = await model.encode(JSON.parse(textsJson));
process.stdout.write(JSON.stringify(vectors.map((v) => Array.from(v))));
"""

pytestmark = pytest.mark.slow


def test_one_version_everywhere():
    """One version everywhere."""
    version = re.search(r'^version = "([^"]+)"$', (REPO / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    assert static_edge.__version__ == version
    assert json.loads((WEB / "package.json").read_text())["version"] == version
    assert f"## {version}" in (REPO / "CHANGELOG.md").read_text(), "the changelog names the version"


LIBRARY_CODE = "import sys; from static_edge import load; print(load(sys.argv[1], variant='int8').tokenizer.library)"


def test_wheel_and_sdist_pass_twine_and_the_wheel_encodes_in_an_empty_venv(tmp_path, st_bundle):
    """Wheel and sdist pass twine and the wheel encodes in an empty venv."""
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = dist.glob("static_edge-*.whl")
    (sdist,) = dist.glob("static_edge-*.tar.gz")
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert checked.returncode == 0 and "PASSED" in checked.stdout, checked.stdout + checked.stderr

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                               capture_output=True, text=True, timeout=600)  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    command = env_dir / "bin" / "static-edge"
    encoded = subprocess.run([str(command), "encode", str(st_bundle), *TEXTS, "--variant", "int8"],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert encoded.returncode == 0, encoded.stderr[-2000:]
    code = (
        "import json, sys; from static_edge import load; "
        "print(json.dumps(load(sys.argv[1], variant='int8').encode(json.loads(sys.argv[2])).tolist()))"
    )
    vectors = subprocess.run([str(python), "-c", code, str(st_bundle), json.dumps(TEXTS)],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert vectors.returncode == 0, vectors.stderr[-2000:]
    got = np.array(json.loads(vectors.stdout), dtype=np.float32)
    np.testing.assert_allclose(got, load(st_bundle, variant="int8").encode(TEXTS), atol=1e-6, rtol=0)
    location = subprocess.run([str(python), "-c", "import static_edge; print(static_edge.__file__)"],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert location.stdout.startswith(str(env_dir)), "the empty venv's own copy, not the checkout"
    # the base install brings the fast WordPiece tokenizer, and this WordPiece bundle's ids pass its check
    library = subprocess.run([str(python), "-c", LIBRARY_CODE, str(st_bundle)],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert library.stdout.split() == ["nanotoken"], library.stdout + library.stderr[-2000:]


def test_npm_pack_installs_into_a_scratch_project_and_encodes_in_node(tmp_path, st_wordpiece):
    """npm pack installs into a scratch project and encodes in Node."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm and node are not installed")
    packed = subprocess.run([npm, "pack", "--ignore-scripts", "--json", "--pack-destination", str(tmp_path)],
                            cwd=WEB, capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    tarball = tmp_path / json.loads(packed.stdout)[0]["filename"]
    project = tmp_path / "scratch"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "scratch", "private": True, "type": "module"}))
    installed = subprocess.run(
        [npm, "install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", str(tarball)],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert (project / "node_modules" / "static-edge-web" / "package.json").is_file()
    (project / "encode.mjs").write_text(NODE_SCRIPT)
    site = tmp_path / "site"
    bundle = export(st_wordpiece, site / "bundle", ExportOptions(dims=64, int8=True))
    with served(site) as base:
        result = subprocess.run([node, "encode.mjs", f"{base}/bundle/", json.dumps(TEXTS)],
                                cwd=project, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    got = np.array(json.loads(result.stdout), dtype=np.float32)
    np.testing.assert_allclose(got, load(bundle, variant="int8").encode(TEXTS), atol=1e-5, rtol=0)
