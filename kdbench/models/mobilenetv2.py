"""MobileNetV2 (Sandler et al., CVPR 2018) in RepDistiller's CIFAR form (Tian et al., CRD, ICLR
2020): ``mobilenetv2`` and ``mobilenetv2-w{width}``; ``mobilenetv2-w0.5`` is RepDistiller's
``mobile_half``, the "MobileNetV2" student of the CRD and DKD tables.

A 3x3 stem of stride 2, seven stages of inverted residual blocks (expansion t, channels c, blocks
n, stride s: (1,16,1,1), (t,24,2,1), (t,32,3,2), (t,64,4,2), (t,96,3,1), (t,160,3,2), (t,320,1,1);
each block 1x1 expand-BN-ReLU, 3x3 depthwise-BN-ReLU, 1x1 project-BN, with the input added when
the shape is unchanged), a 1x1 convolution to 1280 channels (``int(1280 * width)`` above width 1),
global average pooling and a linear classifier. Stage channels are ``int(c * width)``, as in
RepDistiller (not rounded to multiples of 8 as torchvision does).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.models.cfg import ModelCfg
from kdbench.models.common import global_pool, init_weights, parse_name
from kdbench.types import Params

PATTERN = r"mobilenetv2(?:-w(?P<width>\d+(?:\.\d+)?))?"
STAGES = ((1, 16, 1, 1), (None, 24, 2, 1), (None, 32, 3, 2), (None, 64, 4, 2), (None, 96, 3, 1),
          (None, 160, 3, 2), (None, 320, 1, 1))  # (expansion or None for t, channels, blocks, stride)
LAST_CHANNELS = 1280


class MobileNetV2Params(Params):
    expansion: int = Field(6, ge=1, description="t, the inverted residuals' expansion ratio "
                           "(6 in the paper and in RepDistiller's mobile_half)")


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 groups: int = 1) -> nn.Sequential:
    """A convolution (padding keeps the size at stride 1), BN and ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2,
                                   groups=groups, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise (carrying the stride), linear 1x1 projection; the input is added
    when stride and channels are unchanged."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        self.conv = nn.Sequential(conv_bn_relu(in_channels, hidden, 1),
                                  conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
                                  nn.Conv2d(hidden, out_channels, 1, bias=False),
                                  nn.BatchNorm2d(out_channels))
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 for CIFAR-sized images; taps: the outputs of stages 2, 3, 5 and 7 (RepDistiller's
    feature list f1..f4, at each resolution) and the pooled features that feed the classifier."""

    feature_taps = {"stage1": "blocks.1", "stage2": "blocks.2", "stage3": "blocks.4",
                    "stage4": "blocks.6", "penultimate": "pool"}
    model_cfg = ModelCfg(classifier="fc", hint_tap="stage2")  # RepDistiller's feats[2]: blocks[2]

    def __init__(self, width: float = 1.0, expansion: int = 6, in_channels: int = 3,
                 num_classes: int = 10):
        super().__init__()
        channels = int(32 * width)
        self.stem = conv_bn_relu(in_channels, channels, 3, stride=2)
        stages = []
        for t, c, n, s in STAGES:
            out_channels = int(c * width)
            blocks = []
            for i in range(n):
                blocks.append(InvertedResidual(channels, out_channels, s if i == 0 else 1,
                                               expansion if t is None else t))
                channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        last = int(LAST_CHANNELS * width) if width > 1.0 else LAST_CHANNELS
        self.head = conv_bn_relu(channels, last, 1)
        self.pool = global_pool()
        self.fc = nn.Linear(last, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.head(self.blocks(self.stem(x)))))


def width(name: str, params: MobileNetV2Params | None = None) -> float:
    """The width multiplier of ``mobilenetv2[-w{width}]``, checked (also before any data loads)."""
    text = parse_name(PATTERN, name, "MobileNetV2")["width"]
    value = 1.0 if text is None else float(text)
    if value <= 0 or int(16 * value) < 1:
        raise KdbenchError(f"{name}: a MobileNetV2 width multiplier must leave every stage at least "
                           f"one channel (width >= 0.0625), not {value}")
    return value


def build_mobilenetv2(name: str, params: MobileNetV2Params, *, in_channels: int, image_size: int,
                      num_classes: int) -> MobileNetV2:
    """``mobilenetv2[-w{width}]`` for the data's channels and classes."""
    return MobileNetV2(width(name), params.expansion, in_channels, num_classes)
