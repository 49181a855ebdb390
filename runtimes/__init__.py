"""static-edge runtimes: load an exported bundle and encode text, without torch.

>>> from static_edge.runtimes import load
>>> model = load("out/retrieval-256")            # onnxruntime, the bundle's default variant
>>> model.encode(["hello world"]).shape
(1, 256)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from static_edge.runtimes.bundle import VARIANT_FILES, BundleError, Manifest, read_manifest
from static_edge.runtimes.errors import InputError, StaticEdgeError
from static_edge.runtimes.lazy import lazy_attributes

if TYPE_CHECKING:
    from static_edge.runtimes.embedder import StaticEmbedder, cosine_matrix, l2_normalize

# numpy, tokenizers and tqdm load with the first embedder, not with `import static_edge.runtimes`
__getattr__ = lazy_attributes(
    __name__, {name: "static_edge.runtimes.embedder" for name in ("StaticEmbedder", "cosine_matrix", "l2_normalize")}
)

BACKENDS = ("onnxruntime", "numpy")


def load(
    bundle: str | os.PathLike[str],
    variant: str | None = None,
    backend: str = "onnxruntime",
    verify: bool = True,
    **kwargs,
) -> StaticEmbedder:
    """Load a bundle for encoding.

    :param bundle: folder written by `static-edge export`.
    :param variant: "fp32", "fp16" or "int8"; the bundle's default when None.
    :param backend: "onnxruntime" or "numpy".
    :param verify: check file hashes against the manifest before loading.
    :raises BundleError: for a missing, tampered or incomplete bundle, or an unknown variant.
    :raises ValueError: for an unknown backend.
    """
    if backend == "onnxruntime":
        from static_edge.runtimes.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(bundle, variant, verify=verify, **kwargs)
    if backend == "numpy":
        from static_edge.runtimes.numpy_embedder import NumpyEmbedder

        return NumpyEmbedder(bundle, variant, verify=verify, **kwargs)
    raise InputError(f"unknown backend {backend!r}; choose one of {BACKENDS}")


__all__ = [
    "BACKENDS",
    "VARIANT_FILES",
    "BundleError",
    "Manifest",
    "StaticEdgeError",
    "StaticEmbedder",
    "cosine_matrix",
    "l2_normalize",
    "load",
    "read_manifest",
]
