"""Loading the models a user names (a static model, a tokenizer, a teacher): a failure is one `ModelLoadError` line.

A name is a local folder or file, else a Hugging Face hub id (read from the cache when offline). The libraries
underneath (Sentence Transformers, model2vec, tokenizers, transformers) fail with their own types and messages;
each load here turns that into a `ModelLoadError` that says which argument failed and why, in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

from static_edge.runtimes.errors import ModelLoadError
from static_edge.runtimes.model_folders import is_sentence_transformers_folder


def reason(err: BaseException) -> str:
    """The innermost cause's message on one line (wrapping libraries often say only that something failed)."""
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__
    return " ".join(str(err).split()) or type(err).__name__


def load_error(role: str, name: str | os.PathLike[str], err: BaseException) -> ModelLoadError:
    """A `ModelLoadError` naming the argument (`role`, e.g. "teacher") and why it could not be loaded."""
    if Path(name).exists():
        return ModelLoadError(f"{role} {name} cannot be loaded: {reason(err)}")
    return ModelLoadError(f"{role} {name}: no such file or folder, and the hub cannot provide it: {reason(err)}")


def load_static_model(name: str | os.PathLike[str], role: str = "model"):
    """A SentenceTransformer from a static model folder (ours or Sentence Transformers', with modules.json) or a
    model2vec folder or hub id, on the CPU.

    :raises ModelLoadError: when `name` is none of those, or the hub cannot provide it.
    """
    from sentence_transformers import SentenceTransformer

    from static_edge.trainer.st_compat import StaticEmbedding

    try:
        if is_sentence_transformers_folder(name):
            return SentenceTransformer(str(name), device="cpu")
        return SentenceTransformer(modules=[StaticEmbedding.from_model2vec(str(name))], device="cpu")
    except (OSError, ValueError, KeyError) as err:  # no such folder or hub id, or not a static model's files
        raise load_error(role, name, err) from err


def load_tokenizer(name: str | os.PathLike[str]):
    """A `tokenizers.Tokenizer` from a tokenizer.json, a folder holding one, or a hub id; padding and truncation off.

    :raises ModelLoadError: when none of those can be read.
    """
    from tokenizers import Tokenizer

    path = Path(name)
    file = path / "tokenizer.json" if path.is_dir() else path
    try:
        tokenizer = Tokenizer.from_file(str(file)) if file.is_file() else Tokenizer.from_pretrained(str(name))
    except Exception as err:  # tokenizers raises a bare Exception for a bad file and for a hub id it cannot fetch
        raise load_error("tokenizer", name, err) from err
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def check_teacher(name: str | os.PathLike[str]) -> None:
    """Fail before any work when transformers cannot open the teacher's config (a missing folder, a hub id not in
    the cache when offline, a folder that holds no transformer). Reads config.json only, not the weights.

    :raises ModelLoadError: naming the teacher and the reason.
    """
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(str(name))
    except (OSError, ValueError, KeyError) as err:
        raise load_error("teacher", name, err) from err
