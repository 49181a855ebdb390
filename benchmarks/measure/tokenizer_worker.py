"""Tokenize a text list with one tokenizer library and save its ids: run by benchmarks.measure.tokenizer_compare.

Standalone (numpy and the candidate library only), so it runs under a throwaway venv's interpreter:

    VENV/bin/python benchmarks/measure/tokenizer_worker.py CANDIDATE TOKENIZER_JSON TEXTS_JSONL SPEED_COUNT OUT_PREFIX
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from importlib import metadata
from itertools import chain

import numpy as np

BATCH = 4096


def rows_encoder(candidate: str, tokenizer_json: str) -> tuple[Callable[[list[str]], list[list[int]]], str]:
    """A function texts -> ids per text (no special tokens), and the library's version."""
    if candidate == "tokenizers":
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(tokenizer_json)
        tok.no_padding()
        return lambda texts: [e.ids for e in tok.encode_batch_fast(texts, add_special_tokens=False)], "tokenizers"
    if candidate == "kitoken":
        from kitoken import Kitoken

        kit = Kitoken.from_tokenizers_file(tokenizer_json)
        return lambda texts: kit.encode_all(texts, False), "kitoken"
    if candidate == "nanotoken":
        import nanotoken

        nano = nanotoken.Tokenizer(tokenizer_json)
        return lambda texts: nano.encode_batch(texts, add_special_tokens=False).to_list(), "nanotoken"
    if candidate == "morpheme":
        import morpheme

        morph = morpheme.Tokenizer.from_file(tokenizer_json)
        return lambda texts: [e.ids for e in morph.encode_batch(texts, add_special_tokens=False)], "morpheme"
    raise SystemExit(f"unknown candidate {candidate}")


def main() -> None:
    """Time 3 passes over the speed texts, save every text's ids (OUT_PREFIX.ids.npy, .lengths.npy), print a report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("candidate", "tokenizer_json", "texts_jsonl", "speed_count", "out_prefix"):
        parser.add_argument(name)
    args = parser.parse_args()
    candidate, tokenizer_json, texts_file, prefix = (
        args.candidate,
        args.tokenizer_json,
        args.texts_jsonl,
        args.out_prefix,
    )
    speed_count = int(args.speed_count)
    with open(texts_file, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    encode, package = rows_encoder(candidate, tokenizer_json)
    speed_texts = texts[:speed_count]
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        for begin in range(0, len(speed_texts), BATCH):
            encode(speed_texts[begin : begin + BATCH])
        seconds.append(time.perf_counter() - start)
    lengths, ids = [], []
    for begin in range(0, len(texts), BATCH):
        rows = encode(texts[begin : begin + BATCH])
        lengths.extend(map(len, rows))
        ids.append(np.fromiter(chain.from_iterable(rows), dtype=np.int64))
    np.save(f"{prefix}.lengths.npy", np.array(lengths, dtype=np.int64))
    np.save(f"{prefix}.ids.npy", np.concatenate(ids))
    report = {"candidate": candidate, "version": metadata.version(package), "speed_seconds": min(seconds)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
