"""The code in docs/browser.md runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from static_edge.runtimes import load

DOC = Path(__file__).resolve().parents[2] / "docs" / "browser.md"


def fenced_blocks(text: str, info: str) -> list[str]:
    """The code of every fenced block whose info string is exactly `info`."""
    return re.findall(rf"^```{re.escape(info)}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def test_fastembed_snippet_gives_our_vectors(tmp_path, st_bundle):
    """The fastembed block, with its bundle path pointed at a test bundle, returns the int8 variant's vectors."""
    (snippet,) = fenced_blocks(DOC.read_text(encoding="utf-8"), "python fastembed")
    assert 'bundle = "my-bundle"' in snippet
    code = snippet.replace('bundle = "my-bundle"', f"bundle = {str(st_bundle)!r}")
    code += "\nimport numpy\nnumpy.save('vectors.npy', numpy.array(vectors))\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = load(st_bundle, variant="int8").encode(["How is the weather tomorrow?", "The match ended 2-1."])
    np.testing.assert_allclose(np.load(tmp_path / "vectors.npy"), expected, atol=1e-5)


def test_documented_page_options_exist():
    """The ?options the doc lists are exactly those the page script reads."""
    page = (DOC.parents[1] / "runtimes" / "web" / "page.js").read_text(encoding="utf-8")
    read = set(re.findall(r'params\.(?:get|has)\("(\w+)"\)', page))
    documented = set(re.findall(r"\?(\w+)=", DOC.read_text(encoding="utf-8")))
    assert read and read == documented
