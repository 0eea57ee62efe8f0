"""Pre-activation ResNets for CIFAR (He et al., ECCV 2016) as Stanton et al. (NeurIPS 2021) use
them: ``preresnet{depth}``.

A 3x3 stem with 16 channels, three stages of widths 16/32/64 (the last two starting with
stride 2), a final BN-ReLU, global average pooling and a linear classifier. Below depth 44 the
stages hold (depth - 2) / 6 basic blocks (BN-ReLU-conv3x3 twice); from depth 44 they hold
(depth - 2) / 9 bottleneck blocks (BN-ReLU-conv1x1, BN-ReLU-conv3x3, BN-ReLU-conv1x1 to 4x the
width), so PreResNet-20 is basic and PreResNet-56 and -110 are bottleneck, as in Stanton et al.
A shortcut that changes the shape is a 1x1 convolution of the block's input.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from kdbench.errors import KdbenchError, ParamError
from kdbench.models.cfg import ModelCfg
from kdbench.models.common import conv3x3, global_pool, init_weights, parse_name
from kdbench.types import Params

PATTERN = r"preresnet(?P<depth>\d+)"
WIDTHS = (16, 32, 64)
BOTTLENECK_FROM = 44

Block = Literal["basic", "bottleneck"]


class PreResNetParams(Params):
    block: Block | None = Field(None, description="basic (depth 6n+2) or bottleneck (depth 9n+2); "
                                "default: basic below depth 44, bottleneck from 44 (Stanton et al.)")


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class PreActBasic(nn.Module):
    """BN-ReLU-conv3x3, BN-ReLU-conv3x3, plus the (projected) input."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width)
        self.shortcut = _projection(in_channels, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + (x if self.shortcut is None else self.shortcut(x))


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3 (strided), BN-ReLU-conv1x1 to 4x the width, plus the
    (projected) input."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int):
        super().__init__()
        out_channels = width * self.expansion
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.shortcut = _projection(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + (x if self.shortcut is None else self.shortcut(x))


class PreResNet(nn.Module):
    """A three-stage pre-activation ResNet with ``blocks`` blocks per stage; taps: each stage's
    output (before the final BN-ReLU) and the pooled features that feed the classifier."""

    feature_taps = {"stage1": "stage1", "stage2": "stage2", "stage3": "stage3",
                    "penultimate": "pool"}
    model_cfg = ModelCfg(classifier="fc", hint_tap="stage2")  # the middle of three stages
    stage1: nn.Sequential  # added by name in ``__init__``
    stage2: nn.Sequential
    stage3: nn.Sequential

    def __init__(self, blocks: int, bottleneck: bool, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        block = PreActBottleneck if bottleneck else PreActBasic
        self.stem = conv3x3(in_channels, WIDTHS[0])
        channels = WIDTHS[0]
        for index, (width, stride) in enumerate(zip(WIDTHS, (1, 2, 2), strict=True), start=1):
            layers = []
            for i in range(blocks):
                layers.append(block(channels, width, stride if i == 0 else 1))
                channels = width * block.expansion
            self.add_module(f"stage{index}", nn.Sequential(*layers))
        self.final = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
        self.pool = global_pool()
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(self.pool(self.final(x)))


def layout(name: str, params: PreResNetParams) -> tuple[int, bool]:
    """Blocks per stage and whether they are bottlenecks, checked (also before any data loads)."""
    depth = int(parse_name(PATTERN, name, "PreResNet")["depth"])
    block = params.block or ("bottleneck" if depth >= BOTTLENECK_FROM else "basic")
    per_block, smallest = (9, 11) if block == "bottleneck" else (6, 8)
    if depth < smallest or (depth - 2) % per_block:
        examples = "11, 20, 29, 56, 110" if block == "bottleneck" else "8, 14, 20, 26, 32, 38"
        message = (f"{name}: a PreResNet with {block} blocks has depth {per_block}n+2 with n >= 1 "
                   f"({examples}, ...), not {depth}")
        if params.block:  # the block parameter asked for what the depth does not allow
            raise ParamError(message, "block")
        raise KdbenchError(f"{message} (the block parameter picks basic or bottleneck blocks)")
    return (depth - 2) // per_block, block == "bottleneck"


def build_preresnet(name: str, params: PreResNetParams, *, in_channels: int, image_size: int,
                    num_classes: int) -> PreResNet:
    """``preresnet{depth}`` for the data's channels and classes (any image size)."""
    return PreResNet(*layout(name, params), in_channels, num_classes)
