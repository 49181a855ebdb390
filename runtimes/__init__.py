"""static-edge runtimes: load an exported bundle and encode text, without torch.

>>> from static_edge.runtimes import load
>>> model = load("out/retrieval-256")            # onnxruntime, fp32 (the fastest on a CPU)
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
    revision: str | None = None,
    sha256: str | None = None,
    threads: int = 0,
) -> StaticEmbedder:
    """Load a bundle for encoding.

    :param bundle: folder written by `static-edge export`, or a Hugging Face hub id "org/name" (anything that
        is not an existing local folder and has that form), downloaded with huggingface_hub and verified.
    :param revision: for a hub id: branch, tag or commit; the commit it resolved to is `model.origin.commit`.
    :param variant: "fp32", "fp16", "int8", "int4" or "int2"; when None, the fastest on a CPU: fp32, which every
        bundle holds (`bundle.CPU_VARIANT_ORDER`; the browser loads the smallest instead).
    :param backend: "onnxruntime" or "numpy".
    :param verify: check file hashes against the manifest before loading.
    :param sha256: pin the bundle: its digest (`bundle_digest`, printed by `static-edge export` and `check`)
        must be this value, so a manifest whose hashes were rewritten is refused (see SECURITY.md).
    :param threads: batches embedded at once, each on one core (both backends); 0 uses every core this process
        may run on, 1 only the calling thread.
    :raises BundleError: for a missing, tampered or incomplete bundle, an unknown variant, or another digest.
    :raises ValueError: for an unknown backend.
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    origin = None
    from static_edge.runtimes.hub import download_bundle, is_hub_id

    if is_hub_id(bundle):
        bundle, origin = download_bundle(str(bundle), revision)
    elif revision is not None:
        raise InputError(f"revision= applies to hub ids; {bundle} is a local folder")
    if backend == "onnxruntime":
        from static_edge.runtimes.onnx_embedder import OnnxEmbedder

        model = OnnxEmbedder(bundle, variant, verify=verify, sha256=sha256, threads=threads)
    else:
        from static_edge.runtimes.numpy_embedder import NumpyEmbedder

        model = NumpyEmbedder(bundle, variant, verify=verify, sha256=sha256, threads=threads)
    model.origin = origin  # HubOrigin (repo, revision asked, commit loaded) for a hub id; None for a folder
    return model


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
