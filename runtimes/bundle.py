"""The bundle contract: file names, manifest keys and integrity checks.

This module is the one place that defines what a static-edge bundle is. The exporter writes
what it defines and every runtime (onnxruntime, numpy, browser) reads it.

spec: docs/bundle-format.md (#files, #manifest, #integrity, #versioning)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from static_edge.runtimes.errors import InputError, StaticEdgeError
from static_edge.runtimes.staging import write_file_atomic
from static_edge.runtimes.variants import CPU_VARIANT_ORDER, REFERENCE, VARIANT_FILES

FORMAT_VERSION = 1
MANIFEST_FILE = "static_edge.json"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
# The variants (VARIANT_FILES, CPU_VARIANT_ORDER, imported above for the callers of this contract) are defined
# once, in runtimes/variants.py.

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
    default_variant: str = REFERENCE.name
    pooling: str = "mean"
    special_tokens: bool = False
    format_version: int = FORMAT_VERSION
    parity: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def variants(self) -> list[str]:
        """Variants present in the bundle, in the order of `VARIANTS` (largest table first)."""
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
        """Parse manifest data, checking the type and range of every key this code reads.

        :raises BundleError: naming the key, when a required key is missing, a value has the wrong type or
            range, a file name leaves the bundle, or the format version is newer than this code.
        """
        if not isinstance(data, dict):
            raise BundleError(f"{MANIFEST_FILE} must hold a JSON object, not {_json_type(data)}")
        required = ("format_version", "dims", "vocab_size", "normalize", "source", "files")
        missing = [k for k in required if k not in data]
        if missing:
            raise BundleError(f"{MANIFEST_FILE} lacks the keys {missing}; is this a static-edge bundle?")
        validate_manifest_data(data)
        if data["format_version"] > FORMAT_VERSION:
            raise BundleError(
                f"bundle format_version {data['format_version']} is newer than this static-edge "
                f"understands ({FORMAT_VERSION}); upgrade static-edge"
            )
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kwargs = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**kwargs, extra=extra)


# Hand-written rather than a schema library: the runtimes' base install stays numpy + onnx + tokenizers,
# and each rule below has its own message naming the key.
_INT, _BOOL, _STR, _DICT, _NONE = "an integer", "true or false", "a string", "an object", "null"
_MANIFEST_TYPES: dict[str, tuple[str, ...]] = {
    "format_version": (_INT,),
    "dims": (_INT,),
    "vocab_size": (_INT,),
    "normalize": (_BOOL,),
    "source": (_DICT,),
    "files": (_DICT,),
    "mask_unknown": (_BOOL,),
    "unk_token_id": (_INT, _NONE),
    "max_length": (_INT, _NONE),
    "pad_token_id": (_INT,),
    "default_variant": (_STR,),
    "pooling": (_STR,),
    "special_tokens": (_BOOL,),
    "parity": (_DICT, _NONE),
    "quality": (_DICT, _NONE),
}
_LOWEST = {"format_version": 1, "dims": 1, "vocab_size": 1, "unk_token_id": 0, "max_length": 1, "pad_token_id": 0}
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def _json_type(value: Any) -> str:
    if value is None:
        return _NONE
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, str):
        return _STR
    if isinstance(value, dict):
        return _DICT
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _require(key: str, value: Any, kinds: tuple[str, ...]) -> None:
    if _json_type(value) not in kinds:
        label = key if key.startswith("files[") else repr(key)
        raise BundleError(f"{MANIFEST_FILE}: {label} must be {' or '.join(kinds)}, got {value!r} ({_json_type(value)})")


def validate_manifest_data(data: dict[str, Any]) -> None:
    """Check the types and ranges of the manifest's keys and its `files` records (unknown keys are left alone).

    :raises BundleError: naming the first key that is wrong.
    """
    for key, kinds in _MANIFEST_TYPES.items():
        if key in data:
            _require(key, data[key], kinds)
            lowest = _LOWEST.get(key)
            if lowest is not None and data[key] is not None and data[key] < lowest:
                raise BundleError(f"{MANIFEST_FILE}: {key!r} must be at least {lowest}, got {data[key]}")
    vocab = data["vocab_size"]
    for key in ("unk_token_id", "pad_token_id"):
        if data.get(key) is not None and data[key] >= vocab:
            raise BundleError(f"{MANIFEST_FILE}: {key!r} is {data[key]}, outside the vocabulary of {vocab} tokens")
    if data.get("pooling", "mean") != "mean":
        raise BundleError(f"{MANIFEST_FILE}: 'pooling' is {data['pooling']!r}; format {FORMAT_VERSION} has 'mean' only")
    if data.get("special_tokens", False):
        raise BundleError(f"{MANIFEST_FILE}: 'special_tokens' is true; format {FORMAT_VERSION} never adds them")
    for name, entry in data["files"].items():
        check_relative_name(name)
        where = f"files[{name!r}]"
        _require(where, entry, (_DICT,))
        for key, kinds in (("bytes", (_INT,)), ("sha256", (_STR,)), ("dtype", (_STR, _NONE))):
            if key not in entry:
                raise BundleError(f"{MANIFEST_FILE}: {where} lacks {key!r}")
            _require(f"{where}[{key!r}]", entry[key], kinds)
        if entry["bytes"] < 0 or not _SHA256_HEX.match(entry["sha256"]):
            raise BundleError(f"{MANIFEST_FILE}: {where} needs a size >= 0 and a sha256 of 64 lowercase hex digits")


def check_relative_name(name: str) -> PurePosixPath:
    """A manifest file name as a relative path that stays inside the bundle: no absolute path, no `..`.

    :raises BundleError: for a name that could point outside the bundle folder.
    """
    path = PurePosixPath(name)
    if not name or "\\" in name or "\x00" in name or path.is_absolute() or ".." in path.parts:
        raise BundleError(f"{MANIFEST_FILE} names the file {name!r}, which is not a plain path inside the bundle")
    return path


def inside_bundle(bundle: str | os.PathLike[str], name: str) -> Path:
    """The path of bundle file `name`, after checking that it resolves inside the bundle folder.

    A file may be a symbolic link to another file of the bundle, never to one outside it.

    :raises BundleError: for an absolute name, a `..`, or a symlink that leads out of the bundle.
    """
    root = Path(bundle)
    path = root / check_relative_name(name)
    real_root = root.resolve()
    if not path.resolve().is_relative_to(real_root):
        raise BundleError(f"{path} leads outside the bundle folder (to {path.resolve()}); refusing to read it")
    return path


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


def read_manifest(bundle: str | os.PathLike[str], sha256: str | None = None) -> Manifest:
    """Read and parse a bundle's manifest; with `sha256`, refuse it unless its `bundle_digest` is that value.

    :raises BundleError: when the folder or manifest is missing, not UTF-8 JSON, malformed, or not the pinned one.
    """
    root = Path(bundle)
    if not root.is_dir():
        what = f"{root} is a file, not a bundle folder" if root.exists() else f"bundle folder not found: {root}"
        raise BundleError(what)
    path = root / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"{root} has no {MANIFEST_FILE}: it is not a static-edge bundle (run `static-edge export`)")
    data = _read_manifest_data(inside_bundle(root, MANIFEST_FILE))
    if sha256 is not None:
        check_digest(path, manifest_digest(data), sha256)
    return Manifest.from_dict(data)


def _read_manifest_data(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise BundleError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from err
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise BundleError(f"{path} is not valid JSON: {err}") from err
    except RecursionError as err:
        raise BundleError(f"{path} nests too deeply to be a manifest") from err


def _refuse_constant(name: str) -> Any:
    raise BundleError(f"{MANIFEST_FILE} holds {name}, which is not JSON")


DIGEST_EXCLUDED_KEYS = ("parity", "quality")
"""Report keys that `check` and `eval` rewrite after export; the digest leaves them out so a pin stays valid."""


def manifest_digest(data: dict[str, Any]) -> str:
    """The bundle digest of parsed manifest data: sha256 of its canonical JSON without the report keys.

    Canonical JSON: keys sorted, no whitespace (separators "," and ":"), non-ASCII characters as UTF-8
    (not \\u escapes), encoded as UTF-8. Exported manifests hold only strings, integers, booleans and null
    outside the report keys, so JavaScript's JSON.stringify of the key-sorted object gives the same bytes.
    """
    pinned = {k: v for k, v in data.items() if k not in DIGEST_EXCLUDED_KEYS}
    text = json.dumps(pinned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    except UnicodeEncodeError as err:  # a "\\ud800" escape in the file: not Unicode text
        raise BundleError(f"{MANIFEST_FILE} holds a lone surrogate (an invalid \\u escape)") from err


def bundle_digest(bundle: str | os.PathLike[str]) -> str:
    """The digest that pins a bundle: `load(bundle, sha256=bundle_digest(bundle))` refuses any other bundle.

    It covers every manifest key except the `parity` and `quality` reports, so it covers the recorded size
    and sha256 of every file: a changed file, or a manifest whose hashes were rewritten to match a changed
    file, no longer has this digest. `static-edge check` and `eval` rewrite only the reports, so the digest
    printed by `static-edge export` stays valid after them.

    :raises BundleError: when the folder holds no readable manifest.
    """
    root = Path(bundle)
    read_manifest(root)  # the same errors as loading, for a folder that is not a bundle
    return manifest_digest(_read_manifest_data(inside_bundle(root, MANIFEST_FILE)))


def check_digest(path: Path, actual: str, pinned: str) -> None:
    """Refuse a manifest whose digest is not the pinned one.

    :raises InputError: for a pin that is not 64 hex digits.
    :raises BundleError: when the digests differ.
    """
    if not isinstance(pinned, str) or not _SHA256_HEX.match(pinned.strip().lower()):
        raise InputError(f"sha256 must be the 64 hex digits `static-edge export` printed, got {pinned!r}")
    if actual != pinned.strip().lower():
        raise BundleError(
            f"{path} has digest {actual}, not the pinned {pinned.strip().lower()}: the bundle is not the one you pinned"
        )


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
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_file_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def write_manifest(bundle: str | os.PathLike[str], manifest: Manifest) -> None:
    """Write `static_edge.json` atomically."""
    write_json_atomic(Path(bundle) / MANIFEST_FILE, manifest.to_dict())


def verify_files(bundle: str | os.PathLike[str], manifest: Manifest, names: list[str] | None = None) -> None:
    """Check sizes and sha256 of the named files (all files when None) against the manifest.

    Every file must resolve inside the bundle folder (no absolute name, no `..`, no symlink out).

    :raises BundleError: naming the first file that is missing, truncated, changed or outside the bundle.
    """
    root = Path(bundle)
    for name in names if names is not None else list(manifest.files):
        entry = manifest.files.get(name)
        if entry is None:
            raise BundleError(f"{MANIFEST_FILE} has no record of {name}")
        path = inside_bundle(root, name)
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
    """The variant to load: the one asked for, or the fastest on a CPU that the bundle holds (`CPU_VARIANT_ORDER`).

    :raises BundleError: for an unknown variant or one the bundle does not hold.
    """
    held = manifest.variants
    chosen = variant or next((v for v in CPU_VARIANT_ORDER if v in held), manifest.default_variant)
    if chosen not in VARIANT_FILES:
        raise BundleError(f"unknown variant {chosen!r}; choose one of {sorted(VARIANT_FILES)}")
    if VARIANT_FILES[chosen] not in manifest.files:
        raise BundleError(f"this bundle has no {chosen} variant; it holds {held}")
    return chosen
