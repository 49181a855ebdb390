"""Tokenizer alternatives: identical ids on every text of the shared corpora, and their speed.

Each candidate runs in its own process (benchmarks/measure/tokenizer_worker.py) under the interpreter of a
throwaway venv that has it installed, so trying a library never touches the project's environment:

    python -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install numpy tokenizers==0.23.3 kitoken nanotoken morpheme
    python -m benchmarks.measure.tokenizer_compare --bundle quickstart/bundle-256-int8 --venv /tmp/tokvenv

The baseline is the `tokenizers` release the runtime uses (this interpreter). A candidate could be adopted only
if its ids equal the baseline's on every text.
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.measure.corpus import DATA, scifact_abstracts, short_sentences

CANDIDATES = ("tokenizers", "kitoken", "nanotoken", "morpheme")
WORKER = Path(__file__).with_name("tokenizer_worker.py")


def corpus_texts(data: Path = DATA) -> Iterator[str]:
    """Every text of the shared corpora (all languages), in a fixed order; duplicates are removed by the caller."""
    for path in sorted((data / "sts").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                yield from row[:2]
    for path in sorted([*(data / "pairs").rglob("*.gz"), *(data / "parallel" / "multi30k").glob("*.gz")]):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            yield from (line.rstrip("\n") for line in f)
    for path in sorted((data / "nli").glob("s[12].*")):
        yield from path.read_text(encoding="utf-8").splitlines()
    with (data / "paraphrase" / "msr_paraphrase_train.txt").open(encoding="utf-8-sig") as f:
        for row in list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
            yield from row[3:5]
    yield from scifact_abstracts(data)
    with (data / "retrieval" / "scifact" / "queries_train.jsonl").open(encoding="utf-8") as f:
        yield from (json.loads(line)["text"] for line in f)
    fields = ("query", "positive", "en", "other")
    for path in sorted([*(data / "retrieval").rglob("*.jsonl.gz"), *(data / "parallel").rglob("*.jsonl.gz")]):
        if path.name == "corpus.jsonl.gz":
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for record in map(json.loads, f):
                yield from (record[k] for k in fields if isinstance(record.get(k), str))


def run_worker(python: str, candidate: str, tokenizer: Path, texts: Path, speed: int, prefix: Path) -> dict:
    """tokenizer_worker.py for one candidate under `python`: its report, or its last error line."""
    command = [python, str(WORKER), candidate, str(tokenizer), str(texts), str(speed), str(prefix)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"candidate": candidate, "error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Compare every candidate with the runtime's tokenizer; write tokenizer_compare.md, .json and .png."""
    parser = common.parser(__doc__)
    parser.add_argument("--bundle", type=Path, required=True, help="bundle whose tokenizer.json is compared")
    parser.add_argument("--venv", type=Path, required=True, help="throwaway venv with the candidates installed")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--speed-texts", type=int, default=100_000, help="short sentences in the speed set")
    parser.add_argument("--limit", type=int, help="compare only the first N unique texts (a quick run)")
    args = parser.parse_args()

    speed_texts = list(short_sentences(args.speed_texts, data=args.data)) + scifact_abstracts(args.data)
    all_texts = list(dict.fromkeys([*speed_texts, *corpus_texts(args.data)]))[: args.limit]
    speed_texts = speed_texts[: len(all_texts)]
    work = Path(tempfile.mkdtemp(prefix="tokcompare-"))
    texts_file = work / "texts.jsonl"
    texts_file.write_text("".join(json.dumps(t) + "\n" for t in all_texts), encoding="utf-8")
    tokenizer = args.bundle / "tokenizer.json"
    print(f"{len(all_texts):,} unique texts; speed set: {len(speed_texts):,} texts", flush=True)

    base = run_worker(sys.executable, "tokenizers", tokenizer, texts_file, len(speed_texts), work / "base")
    base_ids, base_lengths = np.load(work / "base.ids.npy"), np.load(work / "base.lengths.npy")
    base_starts = np.concatenate(([0], np.cumsum(base_lengths)))
    rows = [{"tokenizer": f"tokenizers {base['version']} (runtime)", **_speed(base, speed_texts), "identical": "-"}]
    for candidate in CANDIDATES:
        found = run_worker(str(args.venv / "bin" / "python"), candidate, tokenizer, texts_file, len(speed_texts),
                           work / candidate)  # fmt: skip
        if "error" in found:
            rows.append({"tokenizer": candidate, "identical": f"failed: {found['error']}"})
            continue
        ids, lengths = np.load(work / f"{candidate}.ids.npy"), np.load(work / f"{candidate}.lengths.npy")
        differ = _differing_rows(base_ids, base_starts, ids, lengths)
        verdict = "all" if not differ else f"{len(differ):,} texts differ (first: {all_texts[differ[0]][:60]!r})"
        name = f"{candidate} {found['version']}"
        rows.append({"tokenizer": name, **_speed(found, speed_texts), "identical": verdict})
        print(rows[-1], flush=True)
    notes = [
        f"Texts: {len(all_texts):,} unique texts of every corpus in /work/shared/data (STS-B in 11 languages, "
        "multi30k, SNLI, MRPC, SciFact, SQuAD, MedQuAD, PubMedQA, FLORES-101, NTREX-128, WMT newstest, TICO-19). "
        f"Tokenizer: {tokenizer} (BERT uncased WordPiece). Speed: best of 3 passes over {len(speed_texts):,} texts "
        "(100k short sentences + SciFact abstracts), batches of 4096, each library's default threading.",
        "A candidate is adopted only if its ids equal the runtime's on every text.",
    ]
    common.publish(args.out, "tokenizer_compare", "benchmarks.measure.tokenizer_compare",
                   title="Tokenizer alternatives: identical ids and speed", rows=rows, notes=notes,
                   plot=lambda path: _plot(rows, path))  # fmt: skip


def _speed(report: dict, texts: list[str]) -> dict:
    return {"texts/s": round(len(texts) / report["speed_seconds"])}


def _differing_rows(base_ids: np.ndarray, base_starts: np.ndarray, ids: np.ndarray, lengths: np.ndarray) -> list[int]:
    starts = np.concatenate(([0], np.cumsum(lengths)))
    if len(lengths) != len(base_starts) - 1:
        return list(range(len(lengths)))
    same_length = lengths == np.diff(base_starts)
    differ = [int(i) for i in np.flatnonzero(~same_length)]
    if len(base_ids) == len(ids):
        mismatch = np.flatnonzero(base_ids != ids)
        differ += [int(i) for i in np.unique(np.searchsorted(base_starts, mismatch, side="right") - 1)]
    else:
        for i in np.flatnonzero(same_length):
            if not np.array_equal(base_ids[base_starts[i] : base_starts[i + 1]], ids[starts[i] : starts[i + 1]]):
                differ.append(int(i))
    return sorted(set(differ))


def _plot(rows: list[dict], path: Path) -> None:
    """Texts/s per tokenizer; red where its ids differ from the runtime's."""
    measured = [r for r in rows if "texts/s" in r]
    fig, ax = common.figure(size=(7, 3))
    colors = ["tab:blue" if r["identical"] in ("-", "all") else "tab:red" for r in measured]
    ax.barh([r["tokenizer"] for r in measured], [r["texts/s"] for r in measured], color=colors)
    ax.set_xlabel("texts/s (higher is better); red: ids differ from the runtime's")
    ax.invert_yaxis()
    common.save(fig, path, dpi=120)


if __name__ == "__main__":
    main()
