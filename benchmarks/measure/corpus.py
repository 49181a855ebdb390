"""Texts the measurements time, from ../shared/data (never shipped): short sentences, SciFact abstracts, and the
speed table's two text files.

The short sentences are STS-B English and the multi30k captions, repeated with a seeded perturbation (a word
dropped, two words swapped, a number appended) so a million lines are not verbatim repeats.

    python -m benchmarks.measure.corpus --lines 1000000 -o /tmp/short-1m.txt
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

from benchmarks import common

DATA = common.DATA


def base_sentences(data: Path = DATA) -> list[str]:
    """Unique short English sentences: STS-B English train/dev and the five multi30k caption files."""
    seen: dict[str, None] = {}
    for split in ("train", "dev"):
        with (data / "sts" / f"stsb-en-{split}.csv").open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                seen.update(dict.fromkeys(s.strip() for s in row[:2]))
    for k in range(1, 6):
        with gzip.open(data / "pairs" / "multi30k-captions" / f"train.{k}.en.gz", "rt", encoding="utf-8") as f:
            seen.update(dict.fromkeys(line.strip() for line in f))
    return [s for s in seen if s and "\n" not in s]


def short_sentences(count: int, seed: int = 0, data: Path = DATA) -> Iterator[str]:
    """`count` short sentences: the base sentences once, then perturbed repeats."""
    base = base_sentences(data)
    rng = random.Random(seed)
    for i in range(count):
        text = base[i % len(base)]
        if i >= len(base):
            words = text.split()
            move = rng.randrange(3)
            if move == 0 and len(words) > 3:
                del words[rng.randrange(len(words))]
            elif move == 1 and len(words) > 3:
                a, b = rng.sample(range(len(words)), 2)
                words[a], words[b] = words[b], words[a]
            else:
                words.append(str(rng.randrange(1000)))
            text = " ".join(words)
        yield text


def scifact_abstracts(data: Path = DATA) -> list[str]:
    """The 5,183 SciFact documents as `title text`, the way BEIR encodes a corpus."""
    with gzip.open(data / "retrieval" / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        return [f"{d['title']} {d['text']}".strip() for d in map(json.loads, f)]


def speed_text_files(data: Path, folder: Path) -> list[Path]:
    """The speed table's texts: STS-B dev sentences (unique) and the first 2,000 SciFact abstracts, one a line."""
    sentences = []
    with open(data / "sts" / "stsb-en-dev.csv", encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            sentences += row[:2]
    folder.mkdir(parents=True, exist_ok=True)
    short = write_lines(folder / "stsb-dev-sentences.txt", dict.fromkeys(s.replace("\n", " ") for s in sentences))
    with gzip.open(data / "retrieval" / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        abstracts = [json.loads(line)["text"].replace("\n", " ") for line in handle]
    return [short, write_lines(folder / "scifact-abstracts.txt", abstracts[:2000])]


def write_lines(path: Path, texts: Iterable[str]) -> Path:
    """One text a line, UTF-8."""
    with path.open("w", encoding="utf-8") as f:
        for text in texts:
            f.write(text + "\n")
    return path


def main() -> None:
    """Write --lines short sentences to --output."""
    parser = common.parser(__doc__, out=None)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    write_lines(args.output, short_sentences(args.lines, data=args.data))
    print(f"wrote {args.lines:,} lines to {args.output}")


if __name__ == "__main__":
    main()
