"""GISTEmbed for static models: MNRL whose in-batch negatives a frozen guide model judges first.

Sentence Transformers' `GISTEmbedLoss` refuses a `StaticEmbedding` model (it requires transformers tokenizers
to re-tokenize the batch for the guide), so this is the same rule for a guide that shares the trained model's
tokenizer (the static start it was trained from): the guide embeds the same token ids, and every candidate it
scores above the row's own positive is masked out of the softmax as a probable false negative.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from static_edge.runtimes.errors import InputError


def same_vocabulary(model, guide) -> bool:
    """Whether `guide` reads the token ids `model`'s tokenizer gives (the same vocabulary, id for id)."""
    vocab, guide_vocab = model[0].tokenizer.get_vocab(), guide[0].tokenizer.get_vocab()
    return vocab == guide_vocab


class GuidedMultipleNegativesRankingLoss(nn.Module):
    """Multiple negatives ranking loss (cosine x `scale`, cross-entropy over the in-batch candidates), with the
    candidates that the frozen `guide` scores above the anchor's positive masked out (GISTEmbed's rule)."""

    def __init__(self, model, guide, scale: float = 20.0) -> None:
        """`guide`: a static model with `model`'s vocabulary (checked), kept frozen and out of the optimizer.

        :raises InputError: when the guide's vocabulary is not the model's.
        """
        super().__init__()
        if not same_vocabulary(model, guide):
            raise InputError("the guide model must share the trained model's tokenizer (the same vocabulary)")
        self.model, self.scale = model, scale
        self.guide = [guide.eval().requires_grad_(False)]  # a list: not a submodule, so never trained or saved
        self._last: tuple[Tensor, Tensor] | None = None

    def _guide_mask(self, sentence_features: list[dict[str, Tensor]]) -> Tensor:
        """True where the guide scores a candidate above the row's positive (computed once per batch: the
        Matryoshka wrapper calls the loss once per dimension with the same features)."""
        ids = sentence_features[0]["input_ids"]
        if self._last is None or self._last[0] is not ids:  # the tensor is held, so `is` cannot match a new batch
            with torch.no_grad():
                vectors = [self.guide[0](dict(f))["sentence_embedding"] for f in sentence_features]
                scores = _cosine(vectors[0], torch.cat(vectors[1:]))
                mask = scores > scores.diagonal()[:, None]
                mask.fill_diagonal_(False)
            self._last = (ids, mask)
        return self._last[1]

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        """The loss of a batch of (anchor, positive[, negative ...]) features."""
        sentence_features = list(sentence_features)
        vectors = [self.model(f)["sentence_embedding"] for f in sentence_features]
        scores = _cosine(vectors[0], torch.cat(vectors[1:])) * self.scale
        scores = scores.masked_fill(self._guide_mask(sentence_features), float("-inf"))
        target = torch.arange(scores.size(0), device=scores.device)
        return nn.functional.cross_entropy(scores, target)

    @property
    def citation(self) -> str:
        """GISTEmbed (Solatorio, 2024)."""
        return "arXiv:2402.16829"


def _cosine(a: Tensor, b: Tensor) -> Tensor:
    return nn.functional.normalize(a, dim=-1) @ nn.functional.normalize(b, dim=-1).T
