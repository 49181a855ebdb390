"""The project's own error types: what a user can cause, reported by the CLI as one line."""

from __future__ import annotations


class StaticEdgeError(Exception):
    """Base of every error a user's input can cause: a bad bundle, model, option, text or output folder.

    The `static-edge` command prints these as one line and exits 2; anything else is a bug and keeps
    its traceback.
    """


class InputError(StaticEdgeError, ValueError):
    """An argument with a bad value: an empty text list, a batch size below 1, an unknown backend."""


class InputTypeError(StaticEdgeError, TypeError):
    """An argument of the wrong type: a text that is not a string."""


class OutputFolderError(StaticEdgeError):
    """An output folder that cannot be written or replaced safely."""


class DataError(StaticEdgeError, ValueError):
    """An input data file (training pairs, an evaluation set, a text corpus) that is missing, empty, unreadable or
    lacks the rows or columns its use needs."""


class ModelLoadError(StaticEdgeError, ValueError):
    """A model named by the user (a teacher, a model to start from or to evaluate, a tokenizer) that cannot be
    loaded: no such folder and not on the hub (or offline), or not a model of the kind asked for."""
