"""Tokenizer families for parity tests: multilingual WordPiece, SentencePiece-style Unigram, byte-level BPE.

Each is trained here with the `tokenizers` library on multilingual text (CJK, Cyrillic, Arabic, Devanagari,
Thai, emoji); `family_model` puts one under a random static table saved by Sentence Transformers. Used by
tests/exporter/test_tokenizer_families.py (Python runtimes) and tests/runtimes/test_tokenizer_families_browser.py.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# Training text: a few sentences per script, so the vocabularies hold real subwords of each.
MULTILINGUAL_TRAINING = [
    "The weather is lovely today and we are going for a walk in the park.",
    "Machine learning models turn sentences into vectors that can be compared.",
    "Das Wetter ist heute schön, und wir gehen im Park spazieren.",
    "Le café est délicieux et la boulangerie ouvre à sept heures.",
    "El niño come una manzana en la cocina con su abuela.",
    "Сегодня хорошая погода, и мы идём гулять в парк.",
    "Машинное обучение превращает предложения в векторы.",
    "Київ — столиця України, місто з довгою історією.",
    "الطقس جميل اليوم ونحن ذاهبون للتنزه في الحديقة.",
    "تعلم الآلة يحول الجمل إلى متجهات يمكن مقارنتها.",
    "आज मौसम बहुत अच्छा है और हम पार्क में टहलने जा रहे हैं।",
    "मशीन लर्निंग वाक्यों को वेक्टर में बदलती है।",
    "วันนี้อากาศดีมาก เราจะไปเดินเล่นที่สวนสาธารณะ",
    "การเรียนรู้ของเครื่องเปลี่ยนประโยคเป็นเวกเตอร์",
    "今天天气很好，我们去公园散步。",
    "机器学习把句子变成可以比较的向量。",
    "今日はいい天気なので、公園を散歩します。",
    "機械学習は文をベクトルに変換します。",
    "오늘 날씨가 좋아서 공원에 산책하러 갑니다.",
    "기계 학습은 문장을 벡터로 바꿉니다.",
    "Great job 👍 see you soon 😀 🎉 🍕",
] * 5

# Test text: the same scripts in new sentences, mixed scripts in one text, emoji sequences (ZWJ, skin tone,
# flags), combining marks, characters no vocabulary has seen, an empty and a whitespace-only text.
FAMILY_TEXTS = [
    "The park is lovely in the morning.",
    "Wir lernen Vektoren für Sätze.",
    "Погода в Киеве сегодня хорошая.",
    "Україна і Росія — сусіди.",
    "الحديقة جميلة في الصباح.",
    "मौसम अच्छा है, चलो पार्क चलें।",
    "สวนสาธารณะสวยมากในตอนเช้า",
    "公园里的向量很好。",
    "公園で機械学習を勉強します。",
    "공원에서 기계 학습을 공부합니다.",
    "Mixed: hello мир مرحبا नमस्ते สวัสดี 你好 こんにちは 안녕 👋",
    "👩‍👩‍👧‍👦 👍🏽 🇯🇵🇺🇦 ❤️‍🔥",
    "e\u0301te\u0301 cafe\u0301 (combining accents)",
    "𓀀𓀁 ꦧꦱꦗꦮ ᠮᠣᠩᠭᠣᠯ",
    "",
    "   ",
    "Numbers 3.14 and 2026-11-27, UPPER lower.",
]

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def multilingual_wordpiece() -> Tokenizer:
    """mBERT-uncased style: lowercase, accents stripped, CJK characters split, [CLS]/[SEP] post-processor."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(
        MULTILINGUAL_TRAINING,
        trainers.WordPieceTrainer(vocab_size=1200, special_tokens=BERT_SPECIALS, show_progress=False),
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return tok


def sentencepiece_unigram() -> Tokenizer:
    """XLM-R style SentencePiece Unigram: NFKC, Metaspace (▁), <s>/</s> post-processor."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok.train_from_iterator(
        MULTILINGUAL_TRAINING,
        trainers.UnigramTrainer(vocab_size=900, special_tokens=specials, unk_token="<unk>", show_progress=False),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    return tok


def byte_level_bpe() -> Tokenizer:
    """GPT-2 / RoBERTa style byte-level BPE: every byte is in the alphabet, so no text has an unknown token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        MULTILINGUAL_TRAINING,
        trainers.BpeTrainer(
            vocab_size=1200,
            special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>"))
    )
    return tok


FAMILIES = {"wordpiece": multilingual_wordpiece, "unigram": sentencepiece_unigram, "bytelevel-bpe": byte_level_bpe}


def family_model(folder: Path, family: str, dims: int = 48) -> Path:
    """A Sentence Transformers static model over the family's tokenizer, with a random table."""
    from model_builders import random_table, save_sentence_transformers

    tok = FAMILIES[family]()
    return save_sentence_transformers(tok, random_table(tok.get_vocab_size(), dims, seed=len(family)), folder)
