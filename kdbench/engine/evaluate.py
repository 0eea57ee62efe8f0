"""Predictions of a network on a whole split, in eval mode, without augmentation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kdbench.data.split import Split


@torch.no_grad()
def predict(model: nn.Module, data: Split, batch_size: int,
            device: torch.device) -> Tensor:
    """Float32 logits (N, classes) on the CPU; restores the model's train/eval mode."""
    was_training = model.training
    model.eval()
    outputs = [model(batch.images.to(device)).float().cpu()
               for batch in data.eval_batches(batch_size)]
    model.train(was_training)
    return torch.cat(outputs)
