"""Reading an uploaded corpus safely: a size cap, strict UTF-8 and a sentence cap (kept free of Streamlit)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_UPLOAD_MB = 2
"""Largest upload, in MB; `static-edge demo` also passes it to Streamlit as server.maxUploadSize."""
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_SENTENCES = 20_000
"""Sentences kept from an upload: every one is embedded and kept in memory (and the map draws them)."""

MAX_SIMILARITY_SENTENCES = 40
"""Sentences the Similarity tab compares: its heatmap has a cell per pair (40 x 40 = 1,600)."""
MAX_SENTENCE_CHARS = 1000
"""Characters kept of each Similarity sentence: longer ones are cut (a static model reads every token)."""

COMPARE_QUERIES = [
    "will it rain tomorrow?",
    "cheap flights to the coast",
    "how do vaccines train the immune system",
    "best way to learn a new language",
    "central bank raises interest rates",
    "a goal in the last minute of the final",
    "my laptop battery drains too fast",
    "easy recipe for vegetable soup",
]
"""Compare's default queries: held apart from the sample corpus, so overlap is not inflated by exact matches."""


class CorpusError(ValueError):
    """An upload the demo cannot use, with the reason in words a user can act on."""


@dataclass(frozen=True)
class Corpus:
    """An upload's sentences, after the sentence cap."""

    sentences: list[str]
    dropped: int = 0
    """Sentences beyond MAX_SENTENCES that were left out."""


def parse_corpus(data: bytes, name: str = "the file") -> Corpus:
    """One sentence per non-empty line of UTF-8 text (a UTF-8 byte order mark is allowed).

    :raises CorpusError: for a file over MAX_UPLOAD_BYTES, bytes that are not UTF-8 (naming the first bad
        byte and its line), or a file with no sentence.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise CorpusError(
            f"{name} is {len(data) / 1e6:.1f} MB; the demo takes files up to {MAX_UPLOAD_MB} MB "
            f"(about {MAX_SENTENCES:,} sentences). Upload a sample of it."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CorpusError(
            f"{name} is not UTF-8 text: byte 0x{data[err.start]:02x} on line {line} cannot be decoded. "
            "Save it as UTF-8 and upload it again."
        ) from err
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise CorpusError(f"{name} has no sentences (one per line is expected).")
    return Corpus(sentences[:MAX_SENTENCES], dropped=max(0, len(sentences) - MAX_SENTENCES))


@dataclass(frozen=True)
class Sentences:
    """The Similarity tab's sentences, after the caps, and what the caps removed."""

    sentences: list[str]
    dropped: int = 0
    """Sentences beyond MAX_SIMILARITY_SENTENCES that were left out."""
    shortened: int = 0
    """Sentences cut to MAX_SENTENCE_CHARS characters."""

    def notice(self) -> str | None:
        """What was cut, in a sentence a user reads (None when nothing was)."""
        parts = []
        if self.dropped:
            parts.append(f"Comparing the first {MAX_SIMILARITY_SENTENCES} sentences; {self.dropped:,} were left out.")
        if self.shortened:
            which = "1 sentence was" if self.shortened == 1 else f"{self.shortened:,} sentences were"
            parts.append(f"{which} cut to {MAX_SENTENCE_CHARS:,} characters.")
        return " ".join(parts) or None


def capped_sentences(text: str) -> Sentences:
    """The non-empty lines of `text`, at most MAX_SIMILARITY_SENTENCES of them, each cut to MAX_SENTENCE_CHARS."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kept = lines[:MAX_SIMILARITY_SENTENCES]
    shortened = sum(len(line) > MAX_SENTENCE_CHARS for line in kept)
    return Sentences([line[:MAX_SENTENCE_CHARS] for line in kept], dropped=len(lines) - len(kept), shortened=shortened)
