"""LeNet-5 as in Stanton et al. (2021): conv6 5x5 pad 2, ReLU, AvgPool, conv16 5x5, ReLU, AvgPool,
FC 120-84-classes; ``width`` multiplies every layer's channels and units.

Images smaller than 16 pixels (digits, 8x8) get padding in the second convolution too, so the
network builds for any image size; the classifier's input size is measured, not assumed.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from kdbench.models.cfg import ModelCfg
from kdbench.types import Params


class LeNet5Params(Params):
    width: float = Field(1.0, gt=0, le=64, description="multiplier of every layer's width")


def _scaled(base: int, width: float) -> int:
    return max(1, round(base * width))


class LeNet5(nn.Module):
    """LeNet-5 with a width multiplier; taps: conv1, conv2, fc1, fc2 (= penultimate)."""

    feature_taps = {"conv1": "features.1", "conv2": "features.4", "fc1": "classifier.1",
                    "fc2": "classifier.3", "penultimate": "classifier.3"}
    model_cfg = ModelCfg(classifier="classifier.4", hint_tap="conv2")  # the last convolution's map

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                 width: float = 1.0):
        super().__init__()
        c1, c2, f1, f2 = (_scaled(n, width) for n in (6, 16, 120, 84))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=0 if image_size >= 16 else 2), nn.ReLU(), nn.AvgPool2d(2),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, in_channels, image_size, image_size)).shape[1]
        self.classifier = nn.Sequential(
            nn.Linear(flat, f1), nn.ReLU(), nn.Linear(f1, f2), nn.ReLU(), nn.Linear(f2, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_lenet5(name: str, params: LeNet5Params, *, in_channels: int, image_size: int,
                 num_classes: int) -> LeNet5:
    return LeNet5(in_channels, image_size, num_classes, width=params.width)
