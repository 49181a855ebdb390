"""The English dev suite (benchmarks.recipes.dev_suite): held-apart SQuAD articles and MedQuAD diseases are
evaluated on and never trained or pre-trained on."""

from __future__ import annotations

from benchmarks.recipes.data import retrieval_pairs
from benchmarks.recipes.dev_suite import SUITE, english_suite, held_apart, medquad_heldout, squad_heldout
from benchmarks.recipes.eval_texts import normalized
from benchmarks.recipes.pretrain_texts import english_pretrain_texts
from benchmarks.recipes.teacher_pool import pretrain_selection


def test_held_apart_items_are_whole_articles_and_diseases_chosen_the_same_way_each_time(data):
    """12 whole SQuAD articles and 4% of MedQuAD's foci; every question of them is judged against its own
    paragraph among all paragraphs of those articles; a second call chooses the same."""
    held = held_apart(data)
    assert len(held.squad_titles) == 12 and len(held.medquad_foci) == 2
    held_apart.cache_clear()
    assert held_apart(data) == held
    squad = squad_heldout(data)
    assert len(squad.queries) == 3 * 12 and len(squad.corpus) == 2 * 12
    for query_id, judged in squad.qrels.items():
        (doc_id,) = judged
        article = squad.queries[query_id].split("article ")[1].rstrip("?")
        assert squad.corpus[doc_id].endswith(f"of article {article}.")
    medquad = medquad_heldout(data)
    assert len(medquad.queries) == 2 and len(medquad.corpus) == 4  # each disease in both spellings
    assert all(len(judged) == 2 for judged in medquad.qrels.values())
    sts, retrieval = english_suite(data)
    assert [*sts, *retrieval] == list(SUITE)


def test_no_held_apart_text_is_trained_or_pre_trained_on(data):
    """The retrieval recipe's training rows and the pre-training selection hold no held-apart question or
    passage; everything else is kept."""
    held = held_apart(data)
    trained = retrieval_pairs(data, held.excludes)
    texts = {normalized(t) for ds in trained.values() for column in ds.column_names for t in ds[column]}
    assert not texts & held.keys
    everything = retrieval_pairs(data)
    assert sum(len(ds) for ds in everything.values()) - sum(len(ds) for ds in trained.values()) == 3 * 12 + 2 * 2
    pool = english_pretrain_texts(data)
    chosen = [pool[row] for row in pretrain_selection(pool, data, None)]
    assert not {normalized(t) for t in chosen} & held.keys
    assert len(pool) - len(chosen) == 3 * 12 + 2 * 12 + 2 + 2 * 2  # questions, paragraphs; MedQuAD: 2 + 4
    assert [pool[row] for row in pretrain_selection(pool, data, 5)] == chosen[:5]


def test_the_pool_looks_texts_up_by_their_normalized_form(tmp_path):
    """Vectors of pool texts come from the pool's rows, whatever the case and spacing of the asking text; the
    order follows the request."""
    import numpy as np

    from benchmarks.recipes.teacher_pool import TeacherPool

    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    pool = TeacherPool("no-teacher-needed", ["A b.", "C d.", "E f."], vectors, tmp_path)
    found = pool.vectors_of(["e F.", "A  b.", "C d."])
    assert np.array_equal(found, vectors[[2, 0, 1]])
