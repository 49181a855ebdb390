"""The corpus vectors a search page ships, so the browser never encodes the corpus itself.

`static-edge web --corpus FILE` encodes the passages in Python with the variant the page loads (the manifest's
`default_variant`), L2-normalizes them and writes, beside the page:

- `corpus.json`: the passages, a JSON array of strings;
- `corpus.i8`: int8 vectors [passages, dims], row-major, one symmetric scale for the whole corpus
  (`value = int8 * int8_scale`, int8 in -127..127);
- `corpus.ubin`, for corpora whose int8 vectors exceed `BINARY_ABOVE_BYTES`: packed sign bits
  [passages, ceil(dims / 8)] (`np.packbits(x > 0)`, as `static_edge.runtimes.binary`). The page ranks every
  passage by Hamming distance, then rescores the best `k * rescore` by their int8 vectors (Sentence
  Transformers' binary + int8 rescoring);
- `corpus-manifest.json` (`CORPUS_MANIFEST`): counts, dims, variant, the bundle's digest, the scale, and the
  size and sha256 of each file above. The page checks every file against it, as it checks bundle files
  against `static_edge.json`, and the page's HTML carries the manifest's own sha256.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

import numpy as np

from static_edge.runtimes.binary import hamming_distances, to_ubinary

CORPUS_MANIFEST = "corpus-manifest.json"
PASSAGES_FILE = "corpus.json"
INT8_FILE = "corpus.i8"
BINARY_FILE = "corpus.ubin"
CORPUS_FORMAT_VERSION = 1
BINARY_ABOVE_BYTES = 8 * 2**20
"""Above this many bytes of int8 vectors (32,768 passages at 256 dims) the page searches packed bits first."""
RESCORE = 200
"""Binary search keeps the best `k * RESCORE` passages by Hamming distance for int8 rescoring: a static model's sign
bits alone rank poorly (recall@10 0.52 with Sentence Transformers' default of 4 on 100,000 captions, 0.95 with 200),
and rescoring 2,000 int8 rows costs well under a millisecond in the page."""
VECTOR_KINDS = ("auto", "int8", "binary")

VectorKind = Literal["auto", "int8", "binary"]


@dataclass(frozen=True)
class CorpusVectors:
    """A corpus's vectors as the page ships them.

    :param int8: int8 [passages, dims], the normalized vectors divided by `scale` and rounded.
    :param scale: the one symmetric scale: the normalized vectors are `int8 * scale`.
    :param bits: packed sign bits uint8 [passages, ceil(dims / 8)], or None for an int8-only corpus.
    """

    int8: np.ndarray
    scale: float
    bits: np.ndarray | None = None

    @property
    def kind(self) -> str:
        """ "binary" (bits ranked first, int8 rescores) or "int8"."""
        return "int8" if self.bits is None else "binary"


def normalized(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); a zero row stays zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def quantize_int8(vectors: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalize rows, then quantize with one symmetric scale: (int8 [n, dims], scale), the largest |value| -> 127."""
    return _symmetric_int8(normalized(vectors))


def _symmetric_int8(unit: np.ndarray) -> tuple[np.ndarray, float]:
    """`unit` as int8 with one scale, its largest |value| -> 127 (1/127 for an all-zero array)."""
    peak = float(np.abs(unit).max()) if unit.size else 0.0
    scale = peak / 127 if peak > 0 else 1 / 127
    return np.clip(np.rint(unit / scale), -127, 127).astype(np.int8), scale


def choose_kind(passages: int, dims: int, kind: VectorKind = "auto") -> str:
    """ "int8" or "binary": `kind` itself unless "auto", which picks binary above `BINARY_ABOVE_BYTES` of int8."""
    if kind not in VECTOR_KINDS:
        raise ValueError(f"unknown vector kind {kind!r}; choose one of {VECTOR_KINDS}")
    if kind != "auto":
        return kind
    return "binary" if passages * dims > BINARY_ABOVE_BYTES else "int8"


def corpus_vectors(vectors: np.ndarray, kind: VectorKind = "auto") -> CorpusVectors:
    """The shipped form of float vectors [passages, dims]: int8, plus packed bits when `kind` resolves to binary."""
    int8, scale = quantize_int8(vectors)
    binary = choose_kind(*int8.shape, kind) == "binary"
    return CorpusVectors(int8, scale, to_ubinary(vectors) if binary else None)  # a row's norm leaves its signs


def quantize_query(vector: np.ndarray) -> tuple[np.ndarray, float]:
    """A query vector as the page scores it: int8 [dims] with its own scale (largest |value| -> 127).

    In float64 with a sequential sum, as the page computes it, so the same float32 query gives the same int8.
    """
    values = np.asarray(vector, dtype=np.float64)
    norm = 0.0
    for value in values.tolist():
        norm += value * value
    return _symmetric_int8(values / np.sqrt(norm) if norm > 0 else values * 0)


def rank(shipped: CorpusVectors, query: np.ndarray, k: int = 10, rescore: int = RESCORE) -> list[tuple[int, float]]:
    """The page's ranking of the corpus for one float query vector: [(passage index, cosine estimate)], best first.

    Scores are exact integer dot products of the int8 query and int8 passages (ties by index), so Python and the
    page agree to the last place. A binary corpus first keeps the `k * rescore` passages nearest by Hamming
    distance (ties by index), then ranks those alone by their int8 dot product.
    """
    q, q_scale = quantize_query(query)
    candidates = np.arange(len(shipped.int8))
    if shipped.bits is not None:
        distances = hamming_distances(to_ubinary(np.asarray(query, dtype=np.float32)[None, :]), shipped.bits)[0]
        candidates = np.lexsort((candidates, distances))[: k * rescore]
    dots = shipped.int8[candidates].astype(np.int64) @ q.astype(np.int64)
    order = np.lexsort((candidates, -dots))[:k]
    return [(int(candidates[i]), float(dots[i]) * shipped.scale * q_scale) for i in order]


def corpus_files(
    passages: list[str], vectors: np.ndarray, variant: str, bundle_digest: str, kind: VectorKind = "auto"
) -> dict[str, bytes]:
    """The page's corpus files (web/ name -> bytes), `CORPUS_MANIFEST` included.

    :param vectors: float32 [len(passages), dims] from the bundle's `variant`.
    :param bundle_digest: the digest of the bundle that encoded them (the page refuses another bundle).
    """
    if len(passages) != len(vectors):
        raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors")
    shipped = corpus_vectors(vectors, kind)
    files = {
        PASSAGES_FILE: json.dumps(passages, ensure_ascii=False).encode("utf-8"),
        INT8_FILE: shipped.int8.tobytes(),
    }
    if shipped.bits is not None:
        files[BINARY_FILE] = shipped.bits.tobytes()
    manifest = {
        "format_version": CORPUS_FORMAT_VERSION,
        "passages": len(passages),
        "dims": int(shipped.int8.shape[1]),
        "variant": variant,
        "bundle_digest": bundle_digest,
        "vectors": shipped.kind,
        "int8_scale": shipped.scale,
        "rescore": RESCORE,
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()
        },
    }
    files[CORPUS_MANIFEST] = json.dumps(manifest, indent=1).encode("utf-8")
    return files


def read_corpus_vectors(files: dict[str, bytes]) -> tuple[dict, CorpusVectors]:
    """The manifest and vectors back from `corpus_files` output (for tests and benchmarks)."""
    manifest = json.loads(files[CORPUS_MANIFEST])
    dims = manifest["dims"]
    int8 = np.frombuffer(files[INT8_FILE], dtype=np.int8).reshape(-1, dims)
    bits = None
    if manifest["vectors"] == "binary":
        bits = np.frombuffer(files[BINARY_FILE], dtype=np.uint8).reshape(len(int8), -1)
    return manifest, CorpusVectors(int8, manifest["int8_scale"], bits)
