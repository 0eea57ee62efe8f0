"""ShuffleNet V2 (Ma et al., ECCV 2018) in RepDistiller's CIFAR form (Tian et al., CRD, ICLR 2020):
``shufflenetv2``, RepDistiller's ``ShuffleV2`` student of the CRD and DKD tables (width 1).

A 1x1 stem to 24 channels (no stride, no max pooling), three stages each of a downsampling unit
and 3, 7 and 3 basic units, a 1x1 convolution to the last width, global average pooling and a
linear classifier. A basic unit splits the channels in half, passes one half through 1x1-BN-ReLU,
3x3 depthwise-BN, 1x1-BN-ReLU, concatenates the other half and shuffles two groups; a downsampling
unit runs both branches (3x3 depthwise stride 2 then 1x1; 1x1, depthwise stride 2, 1x1) on the
whole input. Widths per multiplier as RepDistiller configures them (1: 116, 232, 464, 1024).
"""

from __future__ import annotations

import torch
from pydantic import Field, field_validator
from torch import nn

from kdbench.models.cfg import ModelCfg
from kdbench.models.common import global_pool, init_weights
from kdbench.models.shufflenetv1 import channel_shuffle
from kdbench.types import Params

STEM = 24
BLOCKS = (3, 7, 3)
WIDTHS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024),
          2.0: (224, 488, 976, 2048)}


class ShuffleNetV2Params(Params):
    width: float = Field(1.0, description="the paper's output channel multiplier: 0.5, 1, 1.5 or 2 "
                         "(RepDistiller's ShuffleV2: 1)")

    @field_validator("width")
    @classmethod
    def _tabled(cls, value: float) -> float:
        if value not in WIDTHS:
            raise ValueError(f"width is one of {', '.join(map(str, WIDTHS))}, not {value}")
        return value


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1,
            depthwise: bool = False) -> nn.Sequential:
    """A convolution without bias (depthwise when told) and BN; no activation."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2,
                                   groups=in_channels if depthwise else 1, bias=False),
                         nn.BatchNorm2d(out_channels))


class BasicUnit(nn.Module):
    """Half the channels pass unchanged, the other half through 1x1, depthwise 3x3 and 1x1."""

    def __init__(self, channels: int):
        super().__init__()
        half = channels // 2
        self.branch = nn.Sequential(conv_bn(half, half, 1), nn.ReLU(),
                                    conv_bn(half, half, 3, depthwise=True),
                                    conv_bn(half, half, 1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept, changed = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat([kept, self.branch(changed)], 1), 2)


class DownUnit(nn.Module):
    """Both branches see the whole input at stride 2; their outputs, half of ``out_channels``
    each, are concatenated and shuffled."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        half = out_channels // 2
        self.left = nn.Sequential(conv_bn(in_channels, in_channels, 3, 2, depthwise=True),
                                  conv_bn(in_channels, half, 1), nn.ReLU())
        self.right = nn.Sequential(conv_bn(in_channels, half, 1), nn.ReLU(),
                                   conv_bn(half, half, 3, 2, depthwise=True),
                                   conv_bn(half, half, 1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(torch.cat([self.left(x), self.right(x)], 1), 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2 for CIFAR-sized images; taps: each stage's output and the pooled features that
    feed the classifier."""

    feature_taps = {"stage1": "stage1", "stage2": "stage2", "stage3": "stage3",
                    "penultimate": "pool"}
    model_cfg = ModelCfg(classifier="fc", hint_tap="stage2")  # RepDistiller's feats[2]: layer2

    def __init__(self, width: float = 1.0, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        widths = WIDTHS[width]
        self.stem = nn.Sequential(conv_bn(in_channels, STEM, 1), nn.ReLU())
        channels = STEM
        stages = []
        for out_channels, blocks in zip(widths[:3], BLOCKS, strict=True):
            stages.append(nn.Sequential(DownUnit(channels, out_channels),
                                        *(BasicUnit(out_channels) for _ in range(blocks))))
            channels = out_channels
        self.stage1, self.stage2, self.stage3 = stages
        self.head = nn.Sequential(conv_bn(channels, widths[3], 1), nn.ReLU())
        self.pool = global_pool()
        self.fc = nn.Linear(widths[3], num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(self.pool(self.head(x)))


def build_shufflenetv2(name: str, params: ShuffleNetV2Params, *, in_channels: int, image_size: int,
                       num_classes: int) -> ShuffleNetV2:
    """``shufflenetv2`` with ``params.width`` for the data's channels and classes."""
    return ShuffleNetV2(params.width, in_channels, num_classes)
