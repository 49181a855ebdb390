"""Weight averaging over the end of training (trainer.averaging.WeightAveraging) and the loss options of
TrainConfig that go with it."""

from __future__ import annotations

import pytest
import torch
from transformers import TrainerControl, TrainerState, TrainingArguments

from static_edge.runtimes.errors import InputError
from static_edge.trainer.averaging import WeightAveraging
from static_edge.trainer.train import TrainConfig


def _run(model: torch.nn.Module, callback: WeightAveraging, steps: int) -> None:
    """Drive the callback as the trainer does: the weight is set to the step number after each step."""
    args, control = TrainingArguments(output_dir="unused", report_to="none"), TrainerControl()
    state = TrainerState(max_steps=steps)
    callback.on_train_begin(args, state, control)
    for step in range(1, steps + 1):
        with torch.no_grad():
            model.weight.fill_(float(step))
        state.global_step = step
        callback.on_step_end(args, state, control)
    callback.on_train_end(args, state, control)


def test_the_weights_become_the_mean_of_the_snapshots_over_the_last_share() -> None:
    """100 steps, the last half averaged every 10 steps (50, 60, ..., 100): the weight ends at their mean, 75;
    frozen parameters are left alone."""
    model = torch.nn.Linear(2, 2, bias=True)
    model.bias.requires_grad_(False)
    with torch.no_grad():
        model.bias.fill_(-1.0)
    _run(model, WeightAveraging(model, share=0.5, every=10), steps=100)
    assert torch.allclose(model.weight, torch.full((2, 2), 75.0))
    assert torch.equal(model.bias, torch.full((2,), -1.0))


def test_an_uneven_end_is_still_averaged_in_and_bad_settings_are_refused() -> None:
    """The last step counts even off the grid (95 steps, every 10 from step 48: 50..90 and 95); share 0 or above
    1 and every 0 are refused, and so are TrainConfig values that do not combine."""
    model = torch.nn.Linear(1, 1, bias=False)
    _run(model, WeightAveraging(model, share=0.5, every=10), steps=95)
    assert model.weight.item() == pytest.approx((50 + 60 + 70 + 80 + 90 + 95) / 6)
    for share, every in ((0, 10), (1.5, 10), (0.5, 0)):
        with pytest.raises(ValueError):
            WeightAveraging(model, share=share, every=every)
    with pytest.raises(InputError, match="average share"):
        TrainConfig(average_share=2.0)
    with pytest.raises(InputError, match="do not combine"):
        TrainConfig(average_share=0.3, resume=True)
