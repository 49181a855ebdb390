"""Read any static embedding model into one in-memory form, without torch.

Three sources are understood (DESIGN.md section 1):
- a Sentence Transformers StaticEmbedding folder (3.x layout `0_StaticEmbedding/`, or 6.x at the root);
- a model2vec folder (`model.safetensors` with `embeddings`, optional `mapping` and `weights`);
- a Hugging Face hub id of either, downloaded with `huggingface_hub`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tokenizers import Tokenizer

from static_edge.runtimes.bundle import sha256_file
from static_edge.runtimes.embedder import l2_normalize
from static_edge.runtimes.errors import StaticEdgeError

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
    revision: str | None
    weights_sha256: str

    @property
    def vocab_size(self) -> int:
        return int(self.table.shape[0])

    @property
    def dims(self) -> int:
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
        if _looks_like_local_path(model_id):
            raise FileNotFoundError(f"model folder not found: {path}")
        path = download(model_id, revision)
    elif not path.is_dir():
        raise SourceModelError(f"{path} is a file; pass the model's folder (or a hub id)")
    else:
        model_id = str(path.resolve())
    return read_folder(path, model_id=model_id, revision=revision)


def _looks_like_local_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") != 1 or os.sep + os.sep in model


def download(repo_id: str, revision: str | None = None) -> Path:
    """Fetch a model's files from the Hugging Face hub (or its local cache when offline).

    :raises SourceModelError: when the hub cannot provide it, with the hub's reason.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=_HUB_FILES))
    except (LocalEntryNotFoundError, RepositoryNotFoundError, HfHubHTTPError, OSError) as err:
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        hint = " (HF_HUB_OFFLINE is set and the model is not in the local cache)" if offline else ""
        raise SourceModelError(f"could not get {repo_id!r} from the Hugging Face hub{hint}: {err}") from err


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
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return None
    for module in _read_json(modules_file):
        if str(module.get("type", "")).endswith("StaticEmbedding"):
            folder = path / module.get("path", "")
            if not (folder / "model.safetensors").is_file():
                raise SourceModelError(
                    f"{folder} has no model.safetensors; static-edge reads safetensors weights only "
                    "(re-save the model with Sentence Transformers' safe_serialization=True)"
                )
            return folder
    return None


def _has_normalize_module(path: Path) -> bool:
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return False
    return any(str(m.get("type", "")).endswith("Normalize") for m in _read_json(modules_file))


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
    weights = folder / "model.safetensors"
    tensors = _load_tensors(weights)
    table = fold_vocabulary_quantization(tensors[M2V_WEIGHT_KEY], tensors.get("mapping"), tensors.get("weights"))
    _check_table(table, tokenizer, weights)
    max_length = config.get("max_length", M2V_DEFAULT_MAX_LENGTH)
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(int(max_length))
    return StaticSource(
        table=table,
        tokenizer=tokenizer,
        kind="model2vec",
        normalize=bool(config.get("normalize", False)),
        mask_unknown=True,
        unk_token_id=unk_token_id(tokenizer),
        max_length=None if max_length is None else int(max_length),
        path=folder,
        model_id=model_id,
        revision=revision,
        weights_sha256=sha256_file(weights),
    )


def fold_vocabulary_quantization(
    embeddings: np.ndarray, mapping: np.ndarray | None, weights: np.ndarray | None
) -> np.ndarray:
    """One row per token: `embeddings[mapping[t]] * weights[t]`, as model2vec's encoder computes it.

    model2vec averages `weights[t] * embeddings[mapping[t]]` over a text's tokens; folding both into
    the table gives the same means with a plain Gather.
    """
    if mapping is None and weights is None:
        return embeddings
    table = embeddings[mapping] if mapping is not None else embeddings
    if weights is None:
        return table
    return (table.astype(np.float32) * weights.astype(np.float32)[:, None]).astype(np.float32)


def unk_token_id(tokenizer: Tokenizer) -> int | None:
    """The unknown token's id for WordPiece, BPE, WordLevel and Unigram models, or None."""
    model = json.loads(tokenizer.to_str())["model"]
    if model.get("type") == "Unigram":
        return model.get("unk_id")
    token = model.get("unk_token")
    return None if token is None else tokenizer.token_to_id(token)


def _check_table(table: np.ndarray, tokenizer: Tokenizer, weights: Path) -> None:
    if table.ndim != 2:
        raise SourceModelError(f"{weights}: the embedding table has shape {table.shape}, expected 2 dimensions")
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    if table.shape[0] < vocab:
        raise SourceModelError(f"{weights}: the table has {table.shape[0]} rows but the tokenizer has {vocab} tokens")


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
    except json.JSONDecodeError as err:
        raise SourceModelError(f"{path} is not valid JSON: {err}") from err
