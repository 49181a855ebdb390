"""`train --eval-sts` reports its gain: before and after on every Matryoshka dim, a warning when the run made the
model worse, both in the output and in the model card, which keeps Sentence Transformers' own card."""

from __future__ import annotations

import json
import random
import re

import pytest
from model_builders import augment as _augment

from static_edge.cli import main
from static_edge.runtimes.samples import sample_corpus
from static_edge.trainer.gain import GainReport, loss_summary

pytestmark = pytest.mark.slow  # end to end: training runs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Clean triplets (a sentence, its paraphrase, its unrelated partner as the negative); mismatched pairs (a
    sentence and its unrelated partner, as noisy data would teach); an STS set rating paraphrases 5, same-topic
    pairs 2.5 and exactly those partners 0; a BEIR folder; a tokenizer.
    """
    from model_builders import wordpiece_tokenizer

    rng = random.Random(1)
    corpus = sample_corpus()
    partner = {i: (i * 7 + 13) % len(corpus) for i in range(len(corpus))}
    folder = tmp_path_factory.mktemp("report-data")
    good, bad = folder / "good.jsonl", folder / "mismatched.jsonl"
    with open(good, "w") as g, open(bad, "w") as b:
        for _ in range(2):
            for i, sentence in enumerate(corpus):
                clean = {"anchor": sentence, "positive": _augment(sentence, rng), "negative": corpus[partner[i]]}
                g.write(json.dumps(clean) + "\n")
                b.write(json.dumps({"anchor": sentence, "positive": corpus[partner[i]]}) + "\n")
    sts = folder / "sts.csv"
    with open(sts, "w") as handle:
        for i, sentence in enumerate(corpus[:150]):
            same_topic = corpus[i // 10 * 10 + (i + 1) % 10]  # the sample corpus comes in topics of ten lines
            handle.write(f'"{sentence}","{_augment(sentence, rng)}",5.0\n"{sentence}","{same_topic}",2.5\n')
            handle.write(f'"{sentence}","{corpus[partner[i]]}",0.0\n')
    beir = folder / "beir"  # each query is a paraphrase of one corpus sentence, which is its one relevant document
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": str(i), "text": s}) + "\n" for i, s in enumerate(corpus))
    )
    picked = range(0, len(corpus), 5)
    (beir / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": _augment(corpus[i], rng)}) + "\n" for i in picked)
    )
    (beir / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\t{i}\t1\n" for i in picked)
    )
    tokenizer = folder / "tokenizer.json"
    wordpiece_tokenizer().save(str(tokenizer))
    return good, bad, sts, tokenizer, beir


COMMON = ["--matryoshka", "64,32", "--batch-size", "64", "--logging-steps", "2", "--warmup-ratio", "0"]


def _card_section(card: str) -> str:
    return card.split("<!-- static-edge:begin -->")[1].split("<!-- static-edge:end -->")[0]


def test_a_run_that_gets_worse_warns_and_one_that_improves_says_so(tmp_path, files, capsys):
    """A run that gets worse warns and one that improves says so."""
    good, bad, sts, tokenizer, beir = files
    # designed to get worse: a high learning rate on mismatched pairs (each anchor with an unrelated sentence)
    worse = tmp_path / "worse"
    args = ["train", "--tokenizer", str(tokenizer), "--dims", "64", "--data", str(bad), "--eval-sts", str(sts)]
    args += ["--eval-retrieval", str(beir)]
    assert main([*args, *COMMON, "--epochs", "2", "--lr", "0.5", "-o", str(worse)]) == 0
    out = capsys.readouterr()
    assert "Scores (x100) before and after training" in out.out
    assert "warning: the trained model is WORSE than its start" in out.err, out.err
    card = (worse / "README.md").read_text()
    section = _card_section(card)
    assert "**Warning:** the trained model is WORSE than its start" in section and "(worse)" in section
    rows = re.findall(r"\| sts:sts \| (\d+) \| (-?[\d.]+) \| (-?[\d.]+) \| ([+-][\d.]+)", section)
    assert sorted(int(d) for d, *_ in rows) == [32, 64], "every Matryoshka dim is scored before and after"
    assert all(float(after) < float(before) for _, before, after, _ in rows), section
    retrieval = re.findall(r"\| retrieval:beir \| (\d+) \| [\d.]+ \| [\d.]+ \|", section)
    assert sorted(retrieval) == ["32", "64"], "the retrieval set is scored before and after too"
    # Sentence Transformers' own card is kept: its training details and logs are still there
    assert "MultipleNegativesRankingLoss" in card and "Training Logs" in card and "Framework Versions" in card
    assert {"static-embeddings", "static-edge"} <= set(re.findall(r"^- (\S+)$", card.split("---")[1], re.M))

    # the damaged model, trained on clean triplets, gets better, and says so
    improved = tmp_path / "improved"
    args = ["train", "--init", str(worse), "--data", str(good), "--eval-sts", str(sts)]
    assert main([*args, *COMMON, "--epochs", "4", "--lr", "0.5", "-o", str(improved)]) == 0
    out = capsys.readouterr()
    assert "improved on 2 of 2 scores" in out.out and "WORSE" not in out.out + out.err, out.out + out.err
    assert re.search(r"loss \d\.\d{5}\d* -> [\d.e-]+ \(-[\d.e-]+%\) over \d+ logged steps", out.out), out.out
    section = _card_section((improved / "README.md").read_text())
    assert "improved on 2 of 2 scores" in section and "Warning" not in section
    before = dict(re.findall(r"\| sts:sts \| (\d+) \| (-?[\d.]+) \|", section))
    assert before == {d: after for d, _, after, _ in rows}, "the second run starts where the first ended"


def test_gain_report_and_loss_summary():
    """Gain report and loss summary."""
    report = GainReport({"sts:x": {64: 79.19, 32: 70.0}}, {"sts:x": {64: 78.48, 32: 70.05}}, tolerance=0.1)
    assert [(r.task, r.dims) for r in report.worse()] == [("sts:x", 64)]
    assert "79.19 -> 78.48" in report.verdict() and "WORSE" in report.verdict()
    assert not GainReport({"t": {8: 1.0}}, {"t": {8: 0.95}}, tolerance=0.1).worse(), "within the tolerance"
    summary = loss_summary([{"loss": 14.46881}, {"loss": 14.46874}])
    assert summary == "loss 14.4688 -> 14.4687 (-0.000484%) over 2 logged steps"
    assert loss_summary([{"loss": 2.0}, {"loss": 1.5}]) == "loss 2 -> 1.5 (-25%) over 2 logged steps"
