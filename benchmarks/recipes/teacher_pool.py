"""The teacher's vectors of the whole English pre-training pool, computed once and shared by every recipe step.

The pool is `pretrain_texts.english_pretrain_texts(data)` (every distinct English train-side text, about 470,000,
no evaluation item). One teacher pass over it (`trainer.pretrain.teacher_vectors`, cached) serves:
- pre-training on any number of its texts: the first N that are not held apart (`dev_suite`), as a slice of
  the pool's vectors, so 12,000, 60,000 and all texts cost one pass;
- mining hard negatives with the teacher (`trainer.negatives`): training questions and passages are pool texts,
  looked up here instead of encoded again;
- multilingual distillation: the English side of a parallel pair is a pool text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.recipes.dev_suite import held_apart
from benchmarks.recipes.eval_texts import normalized


@dataclass
class TeacherPool:
    """The pool's texts, the teacher's vectors of them, and a lookup by text (`normalized`)."""

    teacher: Path | str
    texts: list[str]
    vectors: np.ndarray
    cache: Path
    _rows: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """Index the texts by their `normalized` key (the pool holds each key once)."""
        self._rows = {normalized(text): row for row, text in enumerate(self.texts)}

    def vectors_of(self, texts: list[str]) -> np.ndarray:
        """The teacher's vectors of `texts`: looked up in the pool; the few that are not in it are encoded (and
        cached) in one teacher pass."""
        from static_edge.trainer.pretrain import teacher_vectors

        rows = np.array([self._rows.get(normalized(text), -1) for text in texts], dtype=np.int64)
        missing = sorted({text for text, row in zip(texts, rows, strict=True) if row < 0})
        found = self.vectors[np.maximum(rows, 0)]
        if missing:
            computed = teacher_vectors(self.teacher, missing, self.cache, model_cache=self.cache)
            extra = dict(zip(missing, computed, strict=True))
            for i, (text, row) in enumerate(zip(texts, rows, strict=True)):
                if row < 0:
                    found[i] = extra[text]
        return found


def teacher_pool(teacher: Path | str, data: Path, cache: Path) -> TeacherPool:
    """The pool and the teacher's vectors of it (`pool_pass`)."""
    from benchmarks.recipes.pretrain_texts import english_pretrain_texts

    texts = english_pretrain_texts(data)
    return TeacherPool(teacher, texts, pool_pass(teacher, texts, cache), cache)


def pool_pass(teacher: Path | str, texts: list[str], cache: Path) -> np.ndarray:
    """The teacher's vectors of the pool's `texts`: one cached, resumable teacher pass (ONNX Runtime, shortest
    texts first: `trainer.pretrain.teacher_vectors`)."""
    from static_edge.trainer.pretrain import teacher_vectors

    print(f"teacher vectors of the pool's {len(texts):,} texts: {teacher} (computed once, kept in {cache})", flush=True)
    return teacher_vectors(teacher, texts, cache, model_cache=cache)


def pretrain_selection(texts: list[str], data: Path, size: int | None) -> np.ndarray:
    """Rows of the pool's `texts` to pre-train on: the first `size` (None: all) that are not held apart."""
    held = held_apart(data)
    rows = np.array([row for row, text in enumerate(texts) if not held.excludes(text)], dtype=np.int64)
    return rows if size is None else rows[:size]


def pretrain_corpus(
    teacher: Path | str, data: Path, size: int | None, cache: Path
) -> tuple[list[str], Callable[[], np.ndarray]]:
    """The texts to pre-train on (the pool's first `size` not held apart) and a function that gives the teacher's
    vectors of them: a slice of the pool's pass when it is cached or `size` is all, else a pass over these texts
    alone (a sample before any pass over the whole pool). Nothing runs the teacher until that function is called."""
    from benchmarks.recipes.pretrain_texts import english_pretrain_texts
    from static_edge.trainer.pretrain import teacher_vectors, vectors_file

    pool_texts = english_pretrain_texts(data)
    rows = pretrain_selection(pool_texts, data, size)
    texts = [pool_texts[row] for row in rows]

    def vectors() -> np.ndarray:
        if size is None or vectors_file(teacher, pool_texts, cache).is_file():
            return pool_pass(teacher, pool_texts, cache)[rows]
        print(f"teacher pass: {teacher} embeds {len(texts):,} texts for pre-training (cached in {cache})", flush=True)
        return teacher_vectors(teacher, texts, cache, model_cache=cache)

    return texts, vectors
