"""static-edge: train static embedding models, export them to verified ONNX bundles, run them anywhere.

>>> from static_edge import load
>>> model = load("out/retrieval-256")
>>> model.encode(["hello world"]).shape
(1, 256)

The sub-packages are the floors of the house (docs/architecture.md): `static_edge.runtimes` (load and
encode; never torch), `static_edge.exporter` (static model -> bundle), `static_edge.trainer` (distil,
train, evaluate; the `train` extra) and `static_edge.demo_app` (the Streamlit demo; the `demo` extra).
Nothing is imported until asked, so `import static_edge` stays cheap.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from static_edge.runtimes.lazy import lazy_attributes

try:
    __version__ = metadata.version("static-edge")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from static_edge.runtimes import BundleError, StaticEmbedder, load

__getattr__ = lazy_attributes(
    __name__, {name: "static_edge.runtimes" for name in ("load", "BundleError", "StaticEmbedder")}
)

__all__ = ["BundleError", "StaticEmbedder", "__version__", "load"]
