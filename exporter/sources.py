"""Read any static embedding model into one in-memory form, without torch.

Three sources are understood (docs/bundle-format.md#tokenization says which rules a bundle keeps from each):
- a Sentence Transformers StaticEmbedding folder (3.x layout `0_StaticEmbedding/`, or 6.x at the root);
- a model2vec folder (`model.safetensors` with `embeddings`, optional `mapping` and `weights`);
- a Hugging Face hub id of either, downloaded with `huggingface_hub`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tokenizers import Tokenizer

from static_edge.runtimes.bundle import sha256_file
from static_edge.runtimes.bundle_checks import first_non_finite_row
from static_edge.runtimes.embedder import l2_normalize
from static_edge.runtimes.errors import StaticEdgeError
from static_edge.runtimes.hub import is_hub_id, snapshot
from static_edge.runtimes.model_folders import MODULES_FILE

SourceKind = Literal["sentence-transformers", "model2vec"]

ST_WEIGHT_KEY = "embedding.weight"
M2V_WEIGHT_KEY = "embeddings"
M2V_DEFAULT_MAX_LENGTH = 512
_HUB_FILES = ["*.json", "*.safetensors", "*.md", "*/*.json", "*/*.safetensors"]


class SourceModelError(StaticEdgeError, ValueError):
    """A model argument that is not a static embedding model this exporter can read."""


@dataclass
class StaticSource:
    """A static model: its table, tokenizer and the rules its own encoder follows."""

    table: np.ndarray
    """[vocab_size, dims] as stored (float32, float16 or int8 values)."""
    tokenizer: Tokenizer
    """The source's tokenizer, configured as the source's encoder uses it."""
    kind: SourceKind
    normalize: bool
    mask_unknown: bool
    """model2vec drops the unknown token before averaging; Sentence Transformers keeps it."""
    unk_token_id: int | None
    max_length: int | None
    """Truncation in tokens, or None."""
    path: Path
    model_id: str
    """The model as the user named it: a hub id, or a local folder as typed (never made absolute)."""
    revision: str | None
    """For a hub model, the commit its files came from (resolved from the revision asked for); None for a folder."""
    weights_sha256: str
    requested_revision: str | None = None
    """The revision the user asked for (a branch, tag or commit), or None for the hub's default branch."""

    @property
    def vocab_size(self) -> int:
        """Rows of the table."""
        return int(self.table.shape[0])

    @property
    def dims(self) -> int:
        """Columns of the table."""
        return int(self.table.shape[1])

    def encode_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids that count towards each text's mean, exactly as the source's encoder picks them."""
        ids = [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        if self.mask_unknown and self.unk_token_id is not None:
            ids = [[i for i in row if i != self.unk_token_id] for row in ids]
        return ids

    def reference_encode(self, texts: list[str], dims: int | None = None, normalize: bool | None = None) -> np.ndarray:
        """The mean of the source rows taken in float64, sliced to `dims`, then normalized if asked.

        This is the exact arithmetic the bundle promises, independent of any runtime.
        """
        dims = dims or self.dims
        normalize = self.normalize if normalize is None else normalize
        table = self.table[:, :dims]
        out = np.zeros((len(texts), dims), dtype=np.float64)
        for row, ids in enumerate(self.encode_ids(texts)):
            if ids:
                out[row] = table[ids].astype(np.float64).mean(axis=0)
        if normalize:
            out = l2_normalize(out)
        return out.astype(np.float32)


def read_source(model: str | os.PathLike[str], revision: str | None = None) -> StaticSource:
    """Read a static model from a local folder or a hub id.

    :raises SourceModelError: when the folder holds no static model, naming what was expected.
    :raises FileNotFoundError: when a local path does not exist.
    """
    path = Path(model)
    model_id = str(model)
    if not path.exists():
        if not is_hub_id(model_id):
            raise FileNotFoundError(f"model folder not found: {path}")
        path = download(model_id, revision)
        source = read_folder(path, model_id=model_id, revision=resolved_commit(path, revision))
        source.requested_revision = revision
        return source
    if not path.is_dir():
        raise SourceModelError(f"{path} is a file; pass the model's folder (or a hub id)")
    if revision is not None:
        raise SourceModelError(f"--revision applies to hub ids; {model_id} is a local folder")
    return read_folder(path, model_id=model_id, revision=None)


def resolved_commit(snapshot: Path, revision: str | None) -> str | None:
    """The commit a hub download resolved to: huggingface_hub's cache keeps each one in snapshots/<commit>/."""
    if re.fullmatch(r"[0-9a-f]{40}", snapshot.name) and snapshot.parent.name == "snapshots":
        return snapshot.name
    return revision


def download(repo_id: str, revision: str | None = None) -> Path:
    """Fetch a model's files from the Hugging Face hub (or its local cache when offline or unreachable).

    :raises SourceModelError: when the hub cannot provide it, with the hub's reason.
    """
    return snapshot(repo_id, revision, _HUB_FILES, SourceModelError, "model folder")


def read_folder(path: Path, model_id: str, revision: str | None = None) -> StaticSource:
    """Read a local folder, deciding its kind by the weights it holds.

    :raises SourceModelError: when it is neither kind.
    """
    st_folder = _sentence_transformers_module_folder(path)
    if st_folder is not None:
        weights = st_folder / "model.safetensors"
        keys = _safetensors_keys(weights)
        if ST_WEIGHT_KEY in keys:
            return _read_sentence_transformers(path, st_folder, model_id, revision)
        if M2V_WEIGHT_KEY in keys:
            return _read_model2vec(st_folder, model_id, revision)
    if (path / "model.safetensors").is_file() and M2V_WEIGHT_KEY in _safetensors_keys(path / "model.safetensors"):
        return _read_model2vec(path, model_id, revision)
    raise SourceModelError(
        f"{path} is not a static embedding model. Expected either a Sentence Transformers StaticEmbedding "
        "folder (modules.json naming a StaticEmbedding module whose folder holds model.safetensors with "
        f"'{ST_WEIGHT_KEY}' and tokenizer.json) or a model2vec folder (model.safetensors with "
        f"'{M2V_WEIGHT_KEY}', tokenizer.json and config.json). Found: {sorted(p.name for p in path.iterdir())}"
    )


def _sentence_transformers_module_folder(path: Path) -> Path | None:
    """The folder of the StaticEmbedding module named in modules.json, if there is one."""
    for module in _modules(path):
        if module["type"].endswith("StaticEmbedding"):
            folder = path / module["path"]
            if not (folder / "model.safetensors").is_file():
                raise SourceModelError(
                    f"{folder} has no model.safetensors; static-edge reads safetensors weights only "
                    "(re-save the model with Sentence Transformers' safe_serialization=True)"
                )
            return folder
    return None


def _has_normalize_module(path: Path) -> bool:
    return any(m["type"].endswith("Normalize") for m in _modules(path))


def _modules(path: Path) -> list[dict[str, str]]:
    """The entries of a Sentence Transformers modules.json ([] without one), each with a string type and path.

    :raises SourceModelError: for a file that is not a list of such objects, or a module path leaving the folder.
    """
    modules_file = path / MODULES_FILE
    if not modules_file.is_file():
        return []
    modules = _read_json(modules_file)
    if not isinstance(modules, list):
        raise SourceModelError(f"{modules_file} must hold a JSON list of modules, not {type(modules).__name__}")
    for i, module in enumerate(modules):
        if not isinstance(module, dict) or not isinstance(module.get("type", ""), str):
            raise SourceModelError(f"{modules_file}: module {i} must be an object with a string 'type'")
        module_path = module.setdefault("path", "")
        if not isinstance(module_path, str) or Path(module_path).is_absolute() or ".." in Path(module_path).parts:
            raise SourceModelError(
                f"{modules_file}: module {i} has path {module_path!r}, not a folder inside the model"
            )
        module.setdefault("type", "")
    return modules


def _read_sentence_transformers(root: Path, folder: Path, model_id: str, revision: str | None) -> StaticSource:
    tokenizer = _load_tokenizer(folder / "tokenizer.json")
    tokenizer.no_padding()
    weights = folder / "model.safetensors"
    table = _load_tensors(weights)[ST_WEIGHT_KEY]
    _check_table(table, tokenizer, weights)
    return StaticSource(
        table=table,
        tokenizer=tokenizer,
        kind="sentence-transformers",
        normalize=_has_normalize_module(root),
        mask_unknown=False,
        unk_token_id=unk_token_id(tokenizer),
        max_length=(tokenizer.truncation or {}).get("max_length"),
        path=root,
        model_id=model_id,
        revision=revision,
        weights_sha256=sha256_file(weights),
    )


def _read_model2vec(folder: Path, model_id: str, revision: str | None) -> StaticSource:
    tokenizer = _load_tokenizer(folder / "tokenizer.json")
    tokenizer.no_padding()
    config_path = folder / "config.json"
    config = _read_json(config_path) if config_path.is_file() else {}
    max_length, normalize = _model2vec_config(config, config_path)
    weights = folder / "model.safetensors"
    tensors = _load_tensors(weights)
    table = fold_vocabulary_quantization(tensors[M2V_WEIGHT_KEY], tensors.get("mapping"), tensors.get("weights"))
    _check_table(table, tokenizer, weights)
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(int(max_length))
    return StaticSource(
        table=table,
        tokenizer=tokenizer,
        kind="model2vec",
        normalize=normalize,
        mask_unknown=True,
        unk_token_id=unk_token_id(tokenizer),
        max_length=None if max_length is None else int(max_length),
        path=folder,
        model_id=model_id,
        revision=revision,
        weights_sha256=sha256_file(weights),
    )


MAX_LENGTH_LIMIT = 2**31 - 1
"""The largest truncation length accepted (tokenizers and onnxruntime index with 32-bit or 64-bit ints)."""


def _model2vec_config(config: object, path: Path) -> tuple[int | None, bool]:
    """max_length and normalize of a model2vec config.json, checked.

    :raises SourceModelError: naming the key that has the wrong type or range.
    """
    if not isinstance(config, dict):
        raise SourceModelError(f"{path} must hold a JSON object, not {type(config).__name__}")
    max_length = config.get("max_length", M2V_DEFAULT_MAX_LENGTH)
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= MAX_LENGTH_LIMIT
    ):
        raise SourceModelError(f"{path}: max_length must be null or an integer from 1 to {MAX_LENGTH_LIMIT}")
    normalize = config.get("normalize", False)
    if not isinstance(normalize, bool):
        raise SourceModelError(f"{path}: normalize must be true or false, got {normalize!r}")
    return max_length, normalize


def fold_vocabulary_quantization(
    embeddings: np.ndarray, mapping: np.ndarray | None, weights: np.ndarray | None
) -> np.ndarray:
    """One row per token: `embeddings[mapping[t]] * weights[t]`, as model2vec's encoder computes it.

    model2vec averages `weights[t] * embeddings[mapping[t]]` over a text's tokens; folding both into
    the table gives the same means with a plain Gather.

    :raises SourceModelError: for a mapping or weights that do not fit the embeddings.
    """
    _check_vocabulary_quantization(embeddings, mapping, weights)
    if mapping is None and weights is None:
        return embeddings
    table = embeddings[mapping] if mapping is not None else embeddings
    if weights is None:
        return table
    return (table.astype(np.float32) * weights.astype(np.float32)[:, None]).astype(np.float32)


def _check_vocabulary_quantization(
    embeddings: np.ndarray, mapping: np.ndarray | None, weights: np.ndarray | None
) -> None:
    if embeddings.ndim != 2:
        raise SourceModelError(f"model2vec '{M2V_WEIGHT_KEY}' has shape {embeddings.shape}, expected 2 dimensions")
    rows = len(embeddings)
    if mapping is not None:
        if mapping.ndim != 1 or not np.issubdtype(mapping.dtype, np.integer):
            raise SourceModelError(
                f"model2vec 'mapping' must be a 1-D integer tensor, got {mapping.dtype} {mapping.shape}"
            )
        if len(mapping) and (mapping.min() < 0 or mapping.max() >= rows):
            raise SourceModelError(f"model2vec 'mapping' points outside the {rows} rows of '{M2V_WEIGHT_KEY}'")
        rows = len(mapping)
    if weights is not None and (weights.shape != (rows,) or not np.issubdtype(weights.dtype, np.floating)):
        raise SourceModelError(
            f"model2vec 'weights' must be {rows} floating point values, got {weights.dtype} {weights.shape}"
        )


def unk_token_id(tokenizer: Tokenizer) -> int | None:
    """The unknown token's id for WordPiece, BPE, WordLevel and Unigram models, or None."""
    model = json.loads(tokenizer.to_str())["model"]
    if model.get("type") == "Unigram":
        return model.get("unk_id")
    token = model.get("unk_token")
    return None if token is None else tokenizer.token_to_id(token)


def _check_table(table: np.ndarray, tokenizer: Tokenizer, weights: Path) -> None:
    """Refuse a table that is not 2-D floating point, is smaller than the vocabulary, or holds NaN or infinity."""
    if table.ndim != 2:
        raise SourceModelError(f"{weights}: the embedding table has shape {table.shape}, expected 2 dimensions")
    if not np.issubdtype(table.dtype, np.floating):
        raise SourceModelError(f"{weights}: the embedding table is {table.dtype}, not floating point")
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    if table.shape[0] < vocab:
        raise SourceModelError(f"{weights}: the table has {table.shape[0]} rows but the tokenizer has {vocab} tokens")
    check_finite_table(table, tokenizer, str(weights))


def check_finite_table(table: np.ndarray, tokenizer: Tokenizer, where: str) -> None:
    """Refuse a table with a NaN or an infinity (also a float64 value beyond float32's range, which the bundle's
    float32 table would turn into infinity), naming the first bad row and its token."""
    with np.errstate(over="ignore"):  # the overflow is what this looks for
        values = table.astype(np.float32) if table.dtype == np.float64 else table
    row = first_non_finite_row(values)
    if row is not None:
        token = tokenizer.id_to_token(row)
        bad = "beyond float32's range" if np.isfinite(table[row]).all() else "NaN or infinity"
        raise SourceModelError(f"{where}: row {row} of the embedding table (token {token!r}) holds {bad}")


def _load_tokenizer(path: Path) -> Tokenizer:
    if not path.is_file():
        raise SourceModelError(f"missing tokenizer file: {path}")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception for bad JSON
        raise SourceModelError(f"{path} is not a valid tokenizers file: {err}") from err


def _safetensors_keys(path: Path) -> set[str]:
    from safetensors import safe_open

    if not path.is_file():
        return set()
    try:
        with safe_open(str(path), framework="numpy") as handle:
            return set(handle.keys())
    except Exception as err:  # safetensors raises its own SafetensorError, not exported stably
        raise SourceModelError(f"{path} is not a valid safetensors file: {err}") from err


def _load_tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as err:  # see _safetensors_keys
        raise SourceModelError(f"{path} could not be read as safetensors: {err}") from err


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise SourceModelError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise SourceModelError(f"{path} is not valid JSON: {err}") from err
