"""Weight averaging over the end of training (stochastic weight averaging, "checkpoint averaging").

The trained table is replaced by the mean of snapshots taken every `every` steps over the last `share` of the
steps. transformers has no such callback (its `TrainerCallback` hooks are the way in), and torch's
`swa_utils.AveragedModel` keeps a second copy of the model wrapped for its own update loop; a static model is one
table, so a running mean of its parameters is all this needs.
"""

from __future__ import annotations

import math

import torch
from transformers import TrainerCallback


class WeightAveraging(TrainerCallback):
    """Average the model's parameters over the last `share` (0 < share <= 1) of training, every `every` steps
    (None: about 50 snapshots over that share)."""

    def __init__(self, model: torch.nn.Module, share: float, every: int | None = None) -> None:
        """Take snapshots of `model`'s trainable parameters; `share` of the steps, counted back from the end."""
        if not 0 < share <= 1 or (every is not None and every < 1):
            raise ValueError(f"share must be in (0, 1] and every at least 1, got {share} and {every}")
        self.model, self.share, self.every = model, share, every
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        """Fix the first step that is averaged."""
        self.first_step = max(1, math.floor(state.max_steps * (1 - self.share)))
        if self.every is None:
            self.every = max(1, (state.max_steps - self.first_step) // 50)

    def on_step_end(self, args, state, control, **kwargs):
        """Add a snapshot every `every` steps from the first averaged step, and always at the last step."""
        last = state.global_step >= state.max_steps
        if state.global_step >= self.first_step and (state.global_step % self.every == 0 or last):
            with torch.no_grad():
                for name, parameter in self.model.named_parameters():
                    if parameter.requires_grad:
                        snapshot = parameter.detach().to(torch.float64)
                        self.sums[name] = self.sums[name] + snapshot if name in self.sums else snapshot.clone()
            self.count += 1

    def on_train_end(self, args, state, control, **kwargs):
        """Put the mean of the snapshots into the model."""
        if not self.count:
            return
        with torch.no_grad():
            for name, parameter in self.model.named_parameters():
                if name in self.sums:
                    parameter.copy_((self.sums[name] / self.count).to(parameter.dtype))
