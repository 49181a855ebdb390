"""The bundle contract: file names, manifest keys and integrity checks.

This module is the one place that defines what a static-edge bundle is. The exporter writes
what it defines and every runtime (onnxruntime, numpy, browser) reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from static_edge.runtimes.errors import StaticEdgeError
from static_edge.runtimes.staging import ordinary_mode

FORMAT_VERSION = 1
MANIFEST_FILE = "static_edge.json"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"

# variant name -> ONNX file, in the names transformers.js looks for.
VARIANT_FILES: dict[str, str] = {
    "fp32": "onnx/model.onnx",
    "fp16": "onnx/model_fp16.onnx",
    "int8": "onnx/model_quantized.onnx",
}
# The dtype recorded in the manifest's `files` entry of each variant.
VARIANT_DTYPES: dict[str, str] = {"fp32": "float32", "fp16": "float16", "int8": "int8"}

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_TOKENS = "token_embeddings"
OUTPUT_SENTENCE = "sentence_embedding"

# Initializer names inside every graph, so the numpy runtime can read the table back.
TABLE_INITIALIZER = "embedding_table"
SCALES_INITIALIZER = "embedding_row_scales"
UNK_INITIALIZER = "unk_token_id"


class BundleError(StaticEdgeError, ValueError):
    """A bundle folder is missing, incomplete, tampered with or of an unknown format."""


@dataclass
class Manifest:
    """The parsed `static_edge.json` of a bundle."""

    dims: int
    vocab_size: int
    normalize: bool
    source: dict[str, Any]
    files: dict[str, dict[str, Any]]
    mask_unknown: bool = False
    unk_token_id: int | None = None
    max_length: int | None = None
    pad_token_id: int = 0
    default_variant: str = "fp32"
    pooling: str = "mean"
    special_tokens: bool = False
    format_version: int = FORMAT_VERSION
    parity: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def variants(self) -> list[str]:
        """Variants present in the bundle, in the order fp32, fp16, int8."""
        return [v for v, f in VARIANT_FILES.items() if f in self.files]

    def variant_bytes(self) -> dict[str, int]:
        """Bytes on disk of each variant's ONNX file, as the manifest records them."""
        return {v: int(self.files[VARIANT_FILES[v]]["bytes"]) for v in self.variants}

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data, with the design's keys first."""
        data: dict[str, Any] = {
            "format_version": self.format_version,
            "source": self.source,
            "dims": self.dims,
            "vocab_size": self.vocab_size,
            "pooling": self.pooling,
            "normalize": self.normalize,
            "special_tokens": self.special_tokens,
            "mask_unknown": self.mask_unknown,
            "unk_token_id": self.unk_token_id,
            "max_length": self.max_length,
            "pad_token_id": self.pad_token_id,
            "default_variant": self.default_variant,
            "files": self.files,
            "parity": self.parity,
            "quality": self.quality,
        }
        data.update(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Parse manifest data.

        :raises BundleError: when a required key is missing or the format version is newer than this code.
        """
        required = ("format_version", "dims", "vocab_size", "normalize", "source", "files")
        missing = [k for k in required if k not in data]
        if missing:
            raise BundleError(f"{MANIFEST_FILE} lacks the keys {missing}; is this a static-edge bundle?")
        if int(data["format_version"]) > FORMAT_VERSION:
            raise BundleError(
                f"bundle format_version {data['format_version']} is newer than this static-edge "
                f"understands ({FORMAT_VERSION}); upgrade static-edge"
            )
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kwargs = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**kwargs, extra=extra)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path: Path, dtype: str | None = None) -> dict[str, Any]:
    """The manifest's record of one file: dtype, size and sha256."""
    return {"dtype": dtype, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def read_manifest(bundle: str | os.PathLike[str]) -> Manifest:
    """Read and parse a bundle's manifest.

    :raises BundleError: when the folder or manifest is missing or not valid JSON.
    """
    root = Path(bundle)
    if not root.is_dir():
        raise BundleError(f"bundle folder not found: {root}")
    path = root / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"{root} has no {MANIFEST_FILE}: it is not a static-edge bundle (run `static-edge export`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BundleError(f"{path} is not valid JSON: {err}") from err
    return Manifest.from_dict(data)


def is_bundle(folder: str | os.PathLike[str]) -> bool:
    """True when `folder` holds a readable static-edge manifest (what `--force` may replace)."""
    try:
        read_manifest(folder)
    except (BundleError, OSError, UnicodeDecodeError):
        return False
    return True


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON next to its destination, then rename over it, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        ordinary_mode(Path(tmp))  # mkstemp makes 0600; a bundle is meant to be copied and served
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(bundle: str | os.PathLike[str], manifest: Manifest) -> None:
    """Write `static_edge.json` atomically."""
    write_json_atomic(Path(bundle) / MANIFEST_FILE, manifest.to_dict())


def verify_files(bundle: str | os.PathLike[str], manifest: Manifest, names: list[str] | None = None) -> None:
    """Check sizes and sha256 of the named files (all files when None) against the manifest.

    :raises BundleError: naming the first file that is missing, truncated or changed.
    """
    root = Path(bundle)
    for name in names if names is not None else list(manifest.files):
        entry = manifest.files.get(name)
        if entry is None:
            raise BundleError(f"{MANIFEST_FILE} has no record of {name}")
        path = root / name
        if not path.is_file():
            raise BundleError(f"bundle file missing: {path}")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise BundleError(
                f"{path} is {size} bytes but the manifest records {entry['bytes']}: truncated or replaced"
            )
        if sha256_file(path) != entry["sha256"]:
            raise BundleError(f"{path} does not match its sha256 in {MANIFEST_FILE}: the file was modified")


def resolve_variant(manifest: Manifest, variant: str | None) -> str:
    """The variant to load: the one asked for, or the bundle's default.

    :raises BundleError: for an unknown variant or one the bundle does not hold.
    """
    chosen = variant or manifest.default_variant
    if chosen not in VARIANT_FILES:
        raise BundleError(f"unknown variant {chosen!r}; choose one of {sorted(VARIANT_FILES)}")
    if VARIANT_FILES[chosen] not in manifest.files:
        raise BundleError(f"this bundle has no {chosen} variant; it holds {manifest.variants}")
    return chosen
