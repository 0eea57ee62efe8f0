"""Optimizer and learning-rate schedule from a ``Recipe``. The schedule is a pure function of the
epoch, so a resumed run continues with exactly the learning rate it would have had."""

from __future__ import annotations

import math
from bisect import bisect_right

import torch
from torch import nn

from kdbench.specs import Recipe


def lr_at(recipe: Recipe, epoch: int) -> float:
    """The learning rate of ``epoch`` (counted from 0): warm-up, then the schedule."""
    if epoch < recipe.warmup_epochs:
        return recipe.lr * (epoch + 1) / (recipe.warmup_epochs + 1)
    if recipe.schedule == "multistep":
        return recipe.lr * recipe.gamma ** bisect_right(recipe.milestones, epoch)
    if recipe.schedule == "cosine":
        progress = epoch / recipe.epochs
        return recipe.min_lr + (recipe.lr - recipe.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    return recipe.lr


def make_optimizer(parameters: list[nn.Parameter], recipe: Recipe) -> torch.optim.Optimizer:
    """SGD (with momentum, optionally Nesterov), Adam or AdamW, with the recipe's weight decay."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=recipe.lr, momentum=recipe.momentum,
                               nesterov=recipe.nesterov and recipe.momentum > 0,
                               weight_decay=recipe.weight_decay)
    factory = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
    return factory(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
