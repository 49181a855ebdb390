"""The fixed text set every parity check runs (docs/bundle-format.md#parity-tolerances).

It covers plain English, accents, CJK, emoji, punctuation only, an empty string, text made only
of characters no vocabulary knows, a text longer than 512 tokens, and mixed lengths in one batch.
"""

from __future__ import annotations

_LONG_PARAGRAPH = (
    "Static embedding models replace the attention layers of a transformer with a single lookup "
    "table, so a sentence vector is the average of the rows of its tokens. "
)

PARITY_TEXTS: list[str] = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street while people walk by.",
    "Crème brûlée, jalapeño, naïve café and Zürich façade.",
    "Ångström über São Paulo: señor Dvořák řekl ahoj.",
    "東京は日本の首都です。",
    "北京欢迎你，我们一起学习机器学习。",
    "안녕하세요, 만나서 반갑습니다.",
    "I love pizza 🍕🍕 and coffee ☕ so much 😀!",
    "🚀🔥💯",
    "?!... ,;:-- ()[]{} !!!",
    "",
    "𓀀𓀁𓀂 𓀃𓀄",
    "a",
    "   ",
    "Numbers like 3.14159, 42 and 2026-11-27 mixed with UPPER and lower case.",
    "what is the capital of france",
    "Paris is the capital and most populous city of France.",
    _LONG_PARAGRAPH * 30,
    "Short.",
]
"""Texts in a fixed order; mixed lengths, so one batch exercises padding too."""
