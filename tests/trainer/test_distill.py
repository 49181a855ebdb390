"""`static-edge distill --pca-dims`: a value outside 1..the teacher's width fails in one line before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from model_builders import save_tiny_bert, wordpiece_tokenizer

from static_edge.runtimes.errors import InputError
from static_edge.trainer.distill import check_pca_dims, teacher_width

STATIC_EDGE = str(Path(sys.executable).parent / "static-edge")


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    """A tiny BERT teacher (48 hidden) with the WordPiece tokenizer."""
    return save_tiny_bert(wordpiece_tokenizer(), tmp_path_factory.mktemp("teacher") / "tiny-bert", hidden_size=48)


@pytest.mark.parametrize("pca_dims", ["-1", "49", "100000"])
def test_pca_dims_outside_the_teachers_width_is_one_line_exit_2_and_writes_nothing(teacher, tmp_path, pca_dims):
    """Pca dims outside the teachers width is one line exit 2 and writes nothing."""
    out = tmp_path / "static"
    result = subprocess.run(
        [STATIC_EDGE, "distill", str(teacher), "-o", str(out), "--pca-dims", pca_dims],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == f"error: --pca-dims must be 1 to the teacher's width 48 (0 keeps the teacher's width), got {pca_dims}\n"
    )
    assert list(tmp_path.iterdir()) == []  # nothing claimed: no folder, staging folder or lock


def test_teacher_width_and_the_allowed_range(teacher, tmp_path):
    """Teacher width and the allowed range."""
    assert teacher_width(teacher) == 48
    check_pca_dims(teacher, 48)
    check_pca_dims(teacher, 1)
    check_pca_dims(teacher, None)  # keep the teacher's width
    assert teacher_width(tmp_path / "no-such-model") is None
    with pytest.raises(InputError, match="must be at least 1"):
        check_pca_dims(tmp_path / "no-such-model", 0)


def test_a_vocabulary_swap_keeps_the_size_and_tokenizes_the_new_word_whole(teacher, tmp_path):
    """distill(vocabulary=[word], remove_tokens=[token]): the word the teacher's tokenizer split is one token of
    the distilled model, the removed token is gone, and the table has as many rows as without the swap."""
    from sentence_transformers import SentenceTransformer

    from static_edge.trainer.distill import distill

    tokenizer = wordpiece_tokenizer()
    word = "chromatin"
    assert len(tokenizer.encode(word, add_special_tokens=False).ids) > 1
    plain = SentenceTransformer(str(distill(teacher, tmp_path / "plain", pca_dims=16)), device="cpu")
    # a token the plain model has a row for, chosen in a fixed order (get_vocab's order changes between processes)
    removed = min(t for t in plain[0].tokenizer.get_vocab() if t.startswith("##") and len(t) > 4)
    swapped_folder = distill(teacher, tmp_path / "swapped", pca_dims=16, vocabulary=[word], remove_tokens=[removed])
    swapped = SentenceTransformer(str(swapped_folder), device="cpu")
    rows = [m[0].embedding.weight.shape[0] for m in (plain, swapped)]
    assert rows[0] == rows[1]
    vocab = swapped[0].tokenizer.get_vocab()
    assert word in vocab and removed not in vocab
    assert swapped[0].tokenizer.encode(word, add_special_tokens=False).ids == [vocab[word]]
