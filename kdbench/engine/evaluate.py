"""Predictions of a network on a whole split, in eval mode, without augmentation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kdbench.data.split import Split
from kdbench.engine.step import MemoryFormat, laid_out, memory_format_for

CPU_BATCH = 128
"""On a CPU, larger inference batches run slower, not faster (WRN-16-2 on 2 cores: 2.7 s per 2,000
images in batches of 64, 5.3 s in batches of 1,000), so a CPU predicts in batches of at most this."""


def inference_batch(batch_size: int, device: torch.device) -> int:
    """The batch to predict in: ``batch_size``, capped at ``CPU_BATCH`` on a CPU."""
    return min(batch_size, CPU_BATCH) if device.type == "cpu" else batch_size


@torch.no_grad()
def predict(model: nn.Module, data: Split, batch_size: int, device: torch.device,
            memory_format: MemoryFormat = "auto") -> Tensor:
    """Float32 logits (N, classes) on the CPU, in the model's fastest layout (``auto``: channels_last
    for conv nets); restores the model's train/eval mode and layout."""
    was_training = model.training
    model.eval()
    layout = memory_format_for(model, memory_format)
    with laid_out(model, layout):
        outputs = [model(batch.images.to(device).contiguous(memory_format=layout)).float().cpu()
                   for batch in data.eval_batches(inference_batch(batch_size, device))]
    model.train(was_training)
    return torch.cat(outputs)
